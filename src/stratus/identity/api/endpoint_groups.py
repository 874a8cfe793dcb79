"""Endpoint filtering: /v3/OS-EP-FILTER (``openstack endpoint group``,
``openstack endpoint add project``)."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from stratus.common.api import ApiRequest, empty_response, json_response
from stratus.identity import models as m
from stratus.identity.api import views
from stratus.identity.service import IdentityService

BASE = "OS-EP-FILTER/endpoint_groups"


def _group(g: m.EndpointGroup, base: str) -> dict[str, Any]:
    return {
        "id": g.id,
        "name": g.name,
        "description": g.description,
        "filters": g.filters,
        "links": {"self": f"{base}/v3/{BASE}/{g.id}"},
    }


def _list(req: ApiRequest[IdentityService], key: str, body: list[dict[str, Any]]) -> Response:
    return json_response(
        {key: body, "links": {"self": str(req.url), "previous": None, "next": None}}
    )


def _filters(req: ApiRequest[IdentityService], attrs: dict[str, Any]) -> dict[str, Any]:
    if "filters" in attrs:
        attrs["filters"] = req.body.endpoint_group.filters.model_dump(exclude_none=True)
    return attrs


async def index(req: ApiRequest[IdentityService]) -> Response:
    req.authorize("identity:list_endpoint_groups")
    groups = await req.service.endpoint_filter.list_groups(name=req.query.name)
    return _list(req, "endpoint_groups", [_group(g, req.base_url) for g in groups])


async def create(req: ApiRequest[IdentityService]) -> Response:
    req.authorize("identity:create_endpoint_group")
    attrs = _filters(req, req.body.endpoint_group.model_dump(exclude_unset=True))
    group = await req.service.endpoint_filter.create_group(attrs)
    return json_response({"endpoint_group": _group(group, req.base_url)}, status=201)


async def show(req: ApiRequest[IdentityService]) -> Response:
    req.authorize("identity:get_endpoint_group")
    group = await req.service.endpoint_filter.get_group(req.params["group_id"])
    if req.raw.method == "HEAD":
        return empty_response(200)
    return json_response({"endpoint_group": _group(group, req.base_url)})


async def update(req: ApiRequest[IdentityService]) -> Response:
    req.authorize("identity:update_endpoint_group")
    attrs = _filters(req, req.body.endpoint_group.model_dump(exclude_unset=True))
    group = await req.service.endpoint_filter.update_group(req.params["group_id"], attrs)
    return json_response({"endpoint_group": _group(group, req.base_url)})


async def delete(req: ApiRequest[IdentityService]) -> Response:
    req.authorize("identity:delete_endpoint_group")
    await req.service.endpoint_filter.delete_group(req.params["group_id"])
    return empty_response()


async def project_index(req: ApiRequest[IdentityService]) -> Response:
    req.authorize("identity:list_projects_associated_with_endpoint_group")
    projects = await req.service.endpoint_filter.group_projects(req.params["group_id"])
    return _list(req, "projects", [views.project(p, req.base_url) for p in projects])


async def endpoint_index(req: ApiRequest[IdentityService]) -> Response:
    req.authorize("identity:list_endpoints_associated_with_endpoint_group")
    endpoints = await req.service.endpoint_filter.group_endpoints(req.params["group_id"])
    return _list(req, "endpoints", [views.endpoint(e, req.base_url) for e in endpoints])


async def project_add(req: ApiRequest[IdentityService]) -> Response:
    req.authorize("identity:add_endpoint_group_to_project")
    await req.service.endpoint_filter.add_group_project(
        req.params["group_id"], req.params["project_id"]
    )
    return empty_response()


async def project_check(req: ApiRequest[IdentityService]) -> Response:
    req.authorize("identity:get_endpoint_group_in_project")
    svc = req.service
    await svc.endpoint_filter.check_group_project(req.params["group_id"], req.params["project_id"])
    if req.raw.method == "HEAD":
        return empty_response(200)
    project = await svc.projects.get(req.params["project_id"])
    return json_response({"project": views.project(project, req.base_url)})


async def project_remove(req: ApiRequest[IdentityService]) -> Response:
    req.authorize("identity:remove_endpoint_group_from_project")
    await req.service.endpoint_filter.remove_group_project(
        req.params["group_id"], req.params["project_id"]
    )
    return empty_response()


async def groups_for_project(req: ApiRequest[IdentityService]) -> Response:
    req.authorize("identity:list_endpoint_groups_for_project")
    groups = await req.service.endpoint_filter.list_groups(project_id=req.params["project_id"])
    return _list(req, "endpoint_groups", [_group(g, req.base_url) for g in groups])


# -- endpoints associated with projects one by one --------------------------------------


async def endpoint_add(req: ApiRequest[IdentityService]) -> Response:
    req.authorize("identity:add_endpoint_to_project")
    await req.service.endpoint_filter.add_project_endpoint(
        req.params["project_id"], req.params["endpoint_id"]
    )
    return empty_response()


async def endpoint_check(req: ApiRequest[IdentityService]) -> Response:
    req.authorize("identity:check_endpoint_in_project")
    await req.service.endpoint_filter.check_project_endpoint(
        req.params["project_id"], req.params["endpoint_id"]
    )
    return empty_response()


async def endpoint_remove(req: ApiRequest[IdentityService]) -> Response:
    req.authorize("identity:remove_endpoint_from_project")
    await req.service.endpoint_filter.remove_project_endpoint(
        req.params["project_id"], req.params["endpoint_id"]
    )
    return empty_response()


async def project_endpoints(req: ApiRequest[IdentityService]) -> Response:
    req.authorize("identity:list_endpoints_for_project")
    endpoints = await req.service.endpoint_filter.project_endpoints(req.params["project_id"])
    return _list(req, "endpoints", [views.endpoint(e, req.base_url) for e in endpoints])


async def endpoint_projects(req: ApiRequest[IdentityService]) -> Response:
    req.authorize("identity:list_projects_for_endpoint")
    projects = await req.service.endpoint_filter.endpoint_projects(req.params["endpoint_id"])
    return _list(req, "projects", [views.project(p, req.base_url) for p in projects])
