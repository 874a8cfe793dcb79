"""Domains, projects and project tags."""

from __future__ import annotations

from starlette.responses import Response

from stratus.common.api import ApiRequest, empty_response, json_response
from stratus.identity.api import views
from stratus.identity.errors import not_found
from stratus.identity.service import IdentityService


def default_domain(req: ApiRequest[IdentityService]) -> str | None:
    return req.ctx.project_domain_id or req.ctx.domain_id or req.ctx.user_domain_id


# -- domains ---------------------------------------------------------------------


async def domain_index(req: ApiRequest[IdentityService]) -> Response:
    req.authorize("identity:list_domains")
    q = req.query
    page = await req.service.projects.list_domains(q.filters("name"), q.enabled, q.limit, q.marker)
    return json_response(views.page("domains", page, views.domain, req.base_url, req.url))


async def domain_show(req: ApiRequest[IdentityService]) -> Response:
    domain_id = req.params["domain_id"]
    req.authorize("identity:get_domain", {"target.domain.id": domain_id})
    domain = await req.service.projects.get_domain(domain_id)
    return json_response({"domain": views.domain(domain, req.base_url)})


async def domain_create(req: ApiRequest[IdentityService]) -> Response:
    req.authorize("identity:create_domain")
    domain = await req.service.projects.create_domain(req.body.domain.attrs())
    return json_response({"domain": views.domain(domain, req.base_url)}, status=201)


async def domain_update(req: ApiRequest[IdentityService]) -> Response:
    req.authorize("identity:update_domain", {"target.domain.id": req.params["domain_id"]})
    domain = await req.service.projects.update_domain(
        req.params["domain_id"], req.body.domain.attrs()
    )
    return json_response({"domain": views.domain(domain, req.base_url)})


async def domain_delete(req: ApiRequest[IdentityService]) -> Response:
    req.authorize("identity:delete_domain", {"target.domain.id": req.params["domain_id"]})
    await req.service.projects.delete_domain(req.params["domain_id"])
    return empty_response()


# -- projects ---------------------------------------------------------------------


async def index(req: ApiRequest[IdentityService]) -> Response:
    req.authorize("identity:list_projects")
    q = req.query
    extra = q.model_extra or {}
    tags = {k: extra.get(k) for k in ("tags", "tags-any", "not-tags", "not-tags-any")}
    if q.is_domain:
        # Projects acting as domains are the domains; they have no domain or parent.
        if q.domain_id or q.parent_id:
            page = await req.service.projects.list_projects({}, ids=[])
        else:
            domains = await req.service.projects.list_domains(
                q.filters("name"), q.enabled, q.limit, q.marker
            )
            return json_response(
                views.page("projects", domains, views.domain_project, req.base_url, req.url)
            )
    else:
        page = await req.service.projects.list_projects(
            q.filters("name", "domain_id", "parent_id"),
            enabled=q.enabled,
            tags=tags,
            limit=q.limit,
            marker=q.marker,
        )
    return json_response(views.page("projects", page, views.project, req.base_url, req.url))


async def show(req: ApiRequest[IdentityService]) -> Response:
    project_id = req.params["project_id"]
    req.authorize("identity:get_project", {"target.project.id": project_id})
    project = await req.service.projects.get_any(project_id)
    return json_response({"project": views.any_project(project, req.base_url)})


async def create(req: ApiRequest[IdentityService]) -> Response:
    req.authorize("identity:create_project")
    project = await req.service.projects.create(req.body.project.attrs(), default_domain(req))
    return json_response({"project": views.any_project(project, req.base_url)}, status=201)


async def update(req: ApiRequest[IdentityService]) -> Response:
    project_id = req.params["project_id"]
    req.authorize("identity:update_project", {"target.project.id": project_id})
    project = await req.service.projects.update(project_id, req.body.project.attrs())
    return json_response({"project": views.any_project(project, req.base_url)})


async def delete(req: ApiRequest[IdentityService]) -> Response:
    project_id = req.params["project_id"]
    req.authorize("identity:delete_project", {"target.project.id": project_id})
    await req.service.projects.delete(project_id)
    return empty_response()


async def user_projects(req: ApiRequest[IdentityService]) -> Response:
    user_id = req.params["user_id"]
    req.authorize("identity:list_user_projects", {"target.user.id": user_id})
    svc = req.service
    await svc.users.get(user_id)
    ids = await svc.assignments.user_project_ids(user_id)
    page = await svc.projects.list_projects(
        req.query.filters("name", "domain_id"), enabled=req.query.enabled, ids=ids
    )
    return json_response(views.page("projects", page, views.project, req.base_url, req.url))


# -- tags ---------------------------------------------------------------------------


async def tag_index(req: ApiRequest[IdentityService]) -> Response:
    project_id = req.params["project_id"]
    req.authorize("identity:list_project_tags", {"target.project.id": project_id})
    return json_response({"tags": await req.service.projects.list_tags(project_id)})


async def tag_show(req: ApiRequest[IdentityService]) -> Response:
    project_id, tag = req.params["project_id"], req.params["tag"]
    req.authorize("identity:get_project_tag", {"target.project.id": project_id})
    if tag not in await req.service.projects.list_tags(project_id):
        raise not_found("project tag", tag)
    return empty_response()


async def tags_update(req: ApiRequest[IdentityService]) -> Response:
    project_id = req.params["project_id"]
    req.authorize("identity:update_project_tags", {"target.project.id": project_id})
    tags = await req.service.projects.set_tags(project_id, req.body.tags)
    return json_response({"tags": tags})


async def tag_create(req: ApiRequest[IdentityService]) -> Response:
    project_id, tag = req.params["project_id"], req.params["tag"]
    req.authorize("identity:create_project_tag", {"target.project.id": project_id})
    await req.service.projects.add_tag(project_id, tag)
    return empty_response(
        201, headers={"Location": f"{req.base_url}/v3/projects/{project_id}/tags/{tag}"}
    )


async def tags_delete(req: ApiRequest[IdentityService]) -> Response:
    project_id = req.params["project_id"]
    req.authorize("identity:delete_project_tags", {"target.project.id": project_id})
    await req.service.projects.delete_tag(project_id, None)
    return empty_response()


async def tag_delete(req: ApiRequest[IdentityService]) -> Response:
    project_id, tag = req.params["project_id"], req.params["tag"]
    req.authorize("identity:delete_project_tag", {"target.project.id": project_id})
    await req.service.projects.delete_tag(project_id, tag)
    return empty_response()
