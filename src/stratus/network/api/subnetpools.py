"""Subnet pools."""

from __future__ import annotations

from starlette.responses import Response

from stratus.common.api import ApiRequest, empty_response
from stratus.network.api import listing, views
from stratus.network.api.common import authorize, check_attrs, if_match, one, svc
from stratus.network.service import NetworkService

ATTR_RULES = {"shared": "shared", "is_default": "is_default"}
DEFAULTS = {"shared": False, "is_default": False}


async def index(req: ApiRequest[NetworkService]) -> Response:
    q = listing.parse(req, views.SUBNETPOOL_KINDS)
    authorize(req, "network:get_subnetpool", {"project_id": req.ctx.project_id})
    rows = await svc(req).pools.find(req.ctx, q.strings())
    return listing.respond(
        req, "subnetpools", [views.subnetpool(r) for r in rows], q, views.SUBNETPOOL_KINDS
    )


async def show(req: ApiRequest[NetworkService]) -> Response:
    rec = await svc(req).pools.get(req.ctx, req.params["subnetpool_id"])
    authorize(req, "network:get_subnetpool", {"project_id": rec.row.project_id})
    return one(req, "subnetpool", views.subnetpool(rec))


async def create(req: ApiRequest[NetworkService]) -> Response:
    attrs = req.body.subnetpool.attrs()
    target = {"project_id": attrs.get("project_id") or req.ctx.project_id}
    authorize(req, "network:create_subnetpool", target)
    check_attrs(req, "network:create_subnetpool", attrs, ATTR_RULES, target, DEFAULTS)
    rec = await svc(req).pools.create(req.ctx, attrs)
    return one(req, "subnetpool", views.subnetpool(rec), status=201)


async def update(req: ApiRequest[NetworkService]) -> Response:
    pool_id = req.params["subnetpool_id"]
    current = await svc(req).pools.get(req.ctx, pool_id)
    target = {"project_id": current.row.project_id}
    attrs = req.body.subnetpool.attrs()
    authorize(req, "network:update_subnetpool", target)
    check_attrs(req, "network:update_subnetpool", attrs, {"is_default": "is_default"}, target)
    rec = await svc(req).pools.update(req.ctx, pool_id, attrs, if_match(req))
    return one(req, "subnetpool", views.subnetpool(rec))


async def delete(req: ApiRequest[NetworkService]) -> Response:
    pool_id = req.params["subnetpool_id"]
    current = await svc(req).pools.get(req.ctx, pool_id)
    authorize(req, "network:delete_subnetpool", {"project_id": current.row.project_id})
    await svc(req).pools.delete(req.ctx, pool_id, if_match(req))
    return empty_response()
