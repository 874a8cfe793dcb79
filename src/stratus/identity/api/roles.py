"""Roles, role inference, grants and the role assignment list."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.responses import Response

from stratus.common.api import ApiRequest, empty_response, json_response
from stratus.identity.api import views
from stratus.identity.errors import BadRequest
from stratus.identity.service import IdentityService

Handler = Callable[[ApiRequest[IdentityService]], Awaitable[Response]]


async def index(req: ApiRequest[IdentityService]) -> Response:
    req.authorize("identity:list_roles")
    q = req.query
    page = await req.service.roles.list_roles(q.filters("name"), q.domain_id, q.limit, q.marker)
    return json_response(views.page("roles", page, views.role, req.base_url, req.url))


async def show(req: ApiRequest[IdentityService]) -> Response:
    req.authorize("identity:get_role")
    role = await req.service.roles.get(req.params["role_id"])
    return json_response({"role": views.role(role, req.base_url)})


async def create(req: ApiRequest[IdentityService]) -> Response:
    req.authorize("identity:create_role")
    role = await req.service.roles.create(req.body.role.attrs())
    return json_response({"role": views.role(role, req.base_url)}, status=201)


async def update(req: ApiRequest[IdentityService]) -> Response:
    req.authorize("identity:update_role")
    role = await req.service.roles.update(req.params["role_id"], req.body.role.attrs())
    return json_response({"role": views.role(role, req.base_url)})


async def delete(req: ApiRequest[IdentityService]) -> Response:
    req.authorize("identity:delete_role")
    await req.service.roles.delete(req.params["role_id"])
    return empty_response()


# -- inference -----------------------------------------------------------------------


async def inference_index(req: ApiRequest[IdentityService]) -> Response:
    req.authorize("identity:list_role_inference_rules")
    rules = await req.service.roles.list_implied()
    return json_response(
        {
            "role_inferences": [views.implied(p, i, req.base_url) for p, i in rules],
            "links": {"self": req.url},
        }
    )


async def implied_index(req: ApiRequest[IdentityService]) -> Response:
    req.authorize("identity:list_implied_roles")
    rules = await req.service.roles.list_implied(req.params["prior_role_id"])
    prior, implied = rules[0]
    return json_response(
        {"role_inference": views.implied(prior, implied, req.base_url), "links": {"self": req.url}}
    )


async def implied_show(req: ApiRequest[IdentityService]) -> Response:
    req.authorize("identity:get_implied_role")
    prior, implied = await req.service.roles.get_implied(
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


async def implied_create(req: ApiRequest[IdentityService]) -> Response:
    req.authorize("identity:create_implied_role")
    prior, implied = await req.service.roles.create_implied(
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


async def implied_delete(req: ApiRequest[IdentityService]) -> Response:
    req.authorize("identity:delete_implied_role")
    await req.service.roles.delete_implied(
        req.params["prior_role_id"], req.params["implied_role_id"]
    )
    return empty_response()


# -- grants ------------------------------------------------------------------------------


def grant_handlers(actor: str, target: str, inherited: bool = False) -> dict[str, Handler]:
    """List, create, check and delete handlers for one kind of grant path,
    e.g. /v3/projects/{target_id}/users/{actor_id}/roles[/{role_id}]."""

    def ids(req: ApiRequest[IdentityService]) -> tuple[str, str]:
        target_id = "system" if target == "system" else req.params["target_id"]
        return req.params["actor_id"], target_id

    async def list_(req: ApiRequest[IdentityService]) -> Response:
        req.authorize("identity:list_grants")
        actor_id, target_id = ids(req)
        roles = await req.service.grants.list_grants(actor, actor_id, target, target_id, inherited)
        return json_response(views.collection("roles", roles, views.role, req.base_url, req.url))

    async def create(req: ApiRequest[IdentityService]) -> Response:
        req.authorize("identity:create_grant")
        actor_id, target_id = ids(req)
        await req.service.grants.grant(
            actor, actor_id, target, target_id, req.params["role_id"], inherited
        )
        return empty_response()

    async def check(req: ApiRequest[IdentityService]) -> Response:
        req.authorize("identity:check_grant")
        actor_id, target_id = ids(req)
        await req.service.grants.check_grant(
            actor, actor_id, target, target_id, req.params["role_id"], inherited
        )
        return empty_response()

    async def delete(req: ApiRequest[IdentityService]) -> Response:
        req.authorize("identity:revoke_grant")
        actor_id, target_id = ids(req)
        await req.service.grants.revoke(
            actor, actor_id, target, target_id, req.params["role_id"], inherited
        )
        return empty_response()

    return {"list": list_, "create": create, "check": check, "delete": delete}


async def assignment_index(req: ApiRequest[IdentityService]) -> Response:
    req.authorize("identity:list_role_assignments")
    q = req.query
    if q.user_id and q.group_id:
        raise BadRequest("Filter by user.id or group.id, not both.")
    if q.effective and q.group_id:
        raise BadRequest("Effective assignments cannot be filtered by group.")
    if sum(bool(x) for x in (q.project_id, q.domain_id, q.system)) > 1:
        raise BadRequest("Filter by one scope at a time.")
    svc = req.service
    assignments = await svc.assignments.list_assignments(
        user_id=q.user_id,
        group_id=q.group_id,
        role_id=q.role_id,
        project_id=q.project_id,
        domain_id=q.domain_id,
        system=bool(q.system),
        inherited=True if q.inherited_to else None,
        effective=bool(q.effective),
    )
    names = await svc.assignments.assignment_names() if q.include_names else None
    return json_response(
        {
            "role_assignments": [views.assignment(a, req.base_url, names) for a in assignments],
            "links": {"self": req.url, "previous": None, "next": None},
        }
    )
