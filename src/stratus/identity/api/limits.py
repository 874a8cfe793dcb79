"""Unified limits: /v3/registered_limits and /v3/limits."""

from __future__ import annotations

from starlette.responses import Response

from stratus.common.api import ApiRequest, empty_response, json_response
from stratus.identity.api import views
from stratus.identity.service import IdentityService


def _links(req: ApiRequest[IdentityService]) -> dict[str, object]:
    return {"self": req.url, "previous": None, "next": None}


async def registered_index(req: ApiRequest[IdentityService]) -> Response:
    req.authorize("identity:list_registered_limits")
    rows = await req.service.limits.list_registered(req.query.model_dump(exclude_none=True))
    return json_response(
        {
            "registered_limits": [views.registered_limit(r, req.base_url) for r in rows],
            "links": _links(req),
        }
    )


async def registered_show(req: ApiRequest[IdentityService]) -> Response:
    req.authorize("identity:get_registered_limit")
    row = await req.service.limits.get_registered(req.params["limit_id"])
    return json_response({"registered_limit": views.registered_limit(row, req.base_url)})


async def registered_create(req: ApiRequest[IdentityService]) -> Response:
    req.authorize("identity:create_registered_limits")
    items = [i.model_dump(exclude_unset=True) for i in req.body.registered_limits]
    rows = await req.service.limits.create_registered(items)
    return json_response(
        {"registered_limits": [views.registered_limit(r, req.base_url) for r in rows]}, status=201
    )


async def registered_update(req: ApiRequest[IdentityService]) -> Response:
    req.authorize("identity:update_registered_limit")
    attrs = req.body.registered_limit.model_dump(exclude_unset=True)
    row = await req.service.limits.update_registered(req.params["limit_id"], attrs)
    return json_response({"registered_limit": views.registered_limit(row, req.base_url)})


async def registered_delete(req: ApiRequest[IdentityService]) -> Response:
    req.authorize("identity:delete_registered_limit")
    await req.service.limits.delete_registered(req.params["limit_id"])
    return empty_response()


async def model(req: ApiRequest[IdentityService]) -> Response:
    req.authorize("identity:get_limit_model")
    return json_response(
        {
            "model": {
                "name": "flat",
                "description": "A project's limit overrides the registered default; no hierarchy.",
            }
        }
    )


async def index(req: ApiRequest[IdentityService]) -> Response:
    req.authorize("identity:list_limits")
    # Without admin, a caller sees its own project's limits only.
    own = None if req.ctx.is_admin else (req.ctx.project_id or "")
    rows = await req.service.limits.list_limits(req.query.model_dump(exclude_none=True), own)
    return json_response(
        {"limits": [views.limit(r, req.base_url) for r in rows], "links": _links(req)}
    )


async def show(req: ApiRequest[IdentityService]) -> Response:
    row = await req.service.limits.get_limit(req.params["limit_id"])
    req.authorize("identity:get_limit", {"target.limit.project_id": row.project_id})
    return json_response({"limit": views.limit(row, req.base_url)})


async def create(req: ApiRequest[IdentityService]) -> Response:
    req.authorize("identity:create_limits")
    items = [i.model_dump(exclude_unset=True) for i in req.body.limits]
    rows = await req.service.limits.create_limits(items)
    return json_response({"limits": [views.limit(r, req.base_url) for r in rows]}, status=201)


async def update(req: ApiRequest[IdentityService]) -> Response:
    req.authorize("identity:update_limit")
    row = await req.service.limits.update_limit(
        req.params["limit_id"], req.body.limit.model_dump(exclude_unset=True)
    )
    return json_response({"limit": views.limit(row, req.base_url)})


async def delete(req: ApiRequest[IdentityService]) -> Response:
    req.authorize("identity:delete_limit")
    await req.service.limits.delete_limit(req.params["limit_id"])
    return empty_response()
