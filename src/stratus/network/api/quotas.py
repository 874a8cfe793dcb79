"""Quotas per project (``quotas``, ``quota_details``)."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from stratus.common.api import ApiRequest, empty_response, json_response
from stratus.network.api.common import authorize, svc
from stratus.network.service import NetworkService


def _with_ids(project_id: str, limits: dict[str, Any]) -> dict[str, Any]:
    return {**limits, "project_id": project_id, "tenant_id": project_id}


async def index(req: ApiRequest[NetworkService]) -> Response:
    authorize(req, "network:list_quotas", {})
    projects = await svc(req).quotas.projects()
    return json_response({"quotas": [_with_ids(p, lim) for p, lim in sorted(projects.items())]})


async def tenant(req: ApiRequest[NetworkService]) -> Response:
    return json_response({"tenant": {"tenant_id": req.ctx.project_id}})


async def project(req: ApiRequest[NetworkService]) -> Response:
    return json_response({"project": {"project_id": req.ctx.project_id}})


def _project(req: ApiRequest[NetworkService], action: str) -> str:
    project_id = req.params["project_id"]
    authorize(req, action, {"project_id": project_id})
    return project_id


async def show(req: ApiRequest[NetworkService]) -> Response:
    project_id = _project(req, "network:get_quota")
    return json_response({"quota": await svc(req).quotas.limits(project_id)})


async def defaults(req: ApiRequest[NetworkService]) -> Response:
    _project(req, "network:get_quota")
    return json_response({"quota": dict(svc(req).quotas.defaults)})


async def details(req: ApiRequest[NetworkService]) -> Response:
    project_id = _project(req, "network:get_quota")
    return json_response({"quota": await svc(req).quotas.details(project_id)})


async def update(req: ApiRequest[NetworkService]) -> Response:
    project_id = _project(req, "network:update_quota")
    body = req.body.quota
    values = body.model_dump(exclude_none=True, exclude={"force", "check_limit"})
    limits = await svc(req).quotas.update(project_id, values, check_limit=bool(body.check_limit))
    return json_response({"quota": limits})


async def delete(req: ApiRequest[NetworkService]) -> Response:
    await svc(req).quotas.reset(_project(req, "network:delete_quota"))
    return empty_response()
