"""Roles, role inference, grants and the role assignment list."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import select
from starlette.responses import Response

from stratus.common.api import ApiRequest, empty_response, json_response
from stratus.identity import models as m
from stratus.identity.api import views
from stratus.identity.errors import BadRequest
from stratus.identity.service import IdentityService

Handler = Callable[[ApiRequest], Awaitable[Response]]


def _svc(req: ApiRequest) -> IdentityService:
    return req.service  # type: ignore[no-any-return]


async def index(req: ApiRequest) -> Response:
    req.authorize("identity:list_roles")
    q = req.query
    page = await _svc(req).roles.list_roles(q.filters("name"), q.domain_id, q.limit, q.marker)
    return json_response(views.page("roles", page, views.role, req.base_url, req.url))


async def show(req: ApiRequest) -> Response:
    req.authorize("identity:get_role")
    role = await _svc(req).roles.get(req.params["role_id"])
    return json_response({"role": views.role(role, req.base_url)})


async def create(req: ApiRequest) -> Response:
    req.authorize("identity:create_role")
    role = await _svc(req).roles.create(req.body.role.attrs())
    return json_response({"role": views.role(role, req.base_url)}, status=201)


async def update(req: ApiRequest) -> Response:
    req.authorize("identity:update_role")
    role = await _svc(req).roles.update(req.params["role_id"], req.body.role.attrs())
    return json_response({"role": views.role(role, req.base_url)})


async def delete(req: ApiRequest) -> Response:
    req.authorize("identity:delete_role")
    await _svc(req).roles.delete(req.params["role_id"])
    return empty_response()


# -- inference -----------------------------------------------------------------------


async def inference_index(req: ApiRequest) -> Response:
    req.authorize("identity:list_role_inference_rules")
    rules = await _svc(req).roles.list_implied()
    return json_response(
        {
            "role_inferences": [views.implied(p, i, req.base_url) for p, i in rules],
            "links": {"self": req.url},
        }
    )


async def implied_index(req: ApiRequest) -> Response:
    req.authorize("identity:list_implied_roles")
    rules = await _svc(req).roles.list_implied(req.params["prior_role_id"])
    prior, implied = rules[0]
    return json_response(
        {"role_inference": views.implied(prior, implied, req.base_url), "links": {"self": req.url}}
    )


async def implied_show(req: ApiRequest) -> Response:
    req.authorize("identity:get_implied_role")
    prior, implied = await _svc(req).roles.get_implied(
        req.params["prior_role_id"], req.params["implied_role_id"]
    )
    if req.raw.method == "HEAD":
        return empty_response()
    return json_response(
        {
            "role_inference": {
                "prior_role": views.role_ref(prior, req.base_url),
                "implies": views.role_ref(implied, req.base_url),
            }
        }
    )


async def implied_create(req: ApiRequest) -> Response:
    req.authorize("identity:create_implied_role")
    prior, implied = await _svc(req).roles.create_implied(
        req.params["prior_role_id"], req.params["implied_role_id"]
    )
    return json_response(
        {
            "role_inference": {
                "prior_role": views.role_ref(prior, req.base_url),
                "implies": views.role_ref(implied, req.base_url),
            }
        },
        status=201,
    )


async def implied_delete(req: ApiRequest) -> Response:
    req.authorize("identity:delete_implied_role")
    await _svc(req).roles.delete_implied(req.params["prior_role_id"], req.params["implied_role_id"])
    return empty_response()


# -- grants ------------------------------------------------------------------------------


def grant_handlers(actor: str, target: str, inherited: bool = False) -> dict[str, Handler]:
    """List, create, check and delete handlers for one kind of grant path,
    e.g. /v3/projects/{target_id}/users/{actor_id}/roles[/{role_id}]."""

    def ids(req: ApiRequest) -> tuple[str, str]:
        target_id = "system" if target == "system" else req.params["target_id"]
        return req.params["actor_id"], target_id

    async def list_(req: ApiRequest) -> Response:
        req.authorize("identity:list_grants")
        actor_id, target_id = ids(req)
        roles = await _svc(req).roles.list_grants(actor, actor_id, target, target_id, inherited)
        return json_response(views.collection("roles", roles, views.role, req.base_url, req.url))

    async def create(req: ApiRequest) -> Response:
        req.authorize("identity:create_grant")
        actor_id, target_id = ids(req)
        await _svc(req).roles.grant(
            actor, actor_id, target, target_id, req.params["role_id"], inherited
        )
        return empty_response()

    async def check(req: ApiRequest) -> Response:
        req.authorize("identity:check_grant")
        actor_id, target_id = ids(req)
        await _svc(req).roles.check_grant(
            actor, actor_id, target, target_id, req.params["role_id"], inherited
        )
        return empty_response()

    async def delete(req: ApiRequest) -> Response:
        req.authorize("identity:revoke_grant")
        actor_id, target_id = ids(req)
        await _svc(req).roles.revoke(
            actor, actor_id, target, target_id, req.params["role_id"], inherited
        )
        return empty_response()

    return {"list": list_, "create": create, "check": check, "delete": delete}


async def _names(svc: IdentityService) -> dict[str, dict[str, Any]]:
    async with svc.core.db.session() as s:
        out: dict[str, dict[str, Any]] = {}
        models: dict[str, Any] = {
            "roles": m.Role,
            "users": m.User,
            "groups": m.Group,
            "projects": m.Project,
            "domains": m.Domain,
        }
        for key, model in models.items():
            out[key] = {row.id: row for row in (await s.scalars(select(model))).all()}
        return out


async def assignment_index(req: ApiRequest) -> Response:
    req.authorize("identity:list_role_assignments")
    q = req.query
    if q.user_id and q.group_id:
        raise BadRequest("Filter by user.id or group.id, not both.")
    if q.effective and q.group_id:
        raise BadRequest("Effective assignments cannot be filtered by group.")
    if sum(bool(x) for x in (q.project_id, q.domain_id, q.system)) > 1:
        raise BadRequest("Filter by one scope at a time.")
    svc = _svc(req)
    assignments = await svc.roles.list_assignments(
        user_id=q.user_id,
        group_id=q.group_id,
        role_id=q.role_id,
        project_id=q.project_id,
        domain_id=q.domain_id,
        system=bool(q.system),
        inherited=True if q.inherited_to else None,
        effective=bool(q.effective),
    )
    names = await _names(svc) if q.include_names else None
    return json_response(
        {
            "role_assignments": [views.assignment(a, req.base_url, names) for a in assignments],
            "links": {"self": req.url, "previous": None, "next": None},
        }
    )
