"""Floating IPs."""

from __future__ import annotations

from starlette.responses import Response

from stratus.common.api import ApiRequest, empty_response
from stratus.network.api import listing, views
from stratus.network.api.common import authorize, if_match, one, svc
from stratus.network.service import NetworkService


async def index(req: ApiRequest[NetworkService]) -> Response:
    q = listing.parse(req, views.FLOATINGIP_KINDS)
    authorize(req, "network:get_floatingip", {"project_id": req.ctx.project_id})
    rows = await svc(req).floatingips.find(req.ctx, q.strings())
    return listing.respond(
        req, "floatingips", [views.floatingip(r) for r in rows], q, views.FLOATINGIP_KINDS
    )


async def show(req: ApiRequest[NetworkService]) -> Response:
    rec = await svc(req).floatingips.get(req.ctx, req.params["floatingip_id"])
    authorize(req, "network:get_floatingip", {"project_id": rec.row.project_id})
    return one(req, "floatingip", views.floatingip(rec))


async def create(req: ApiRequest[NetworkService]) -> Response:
    attrs = req.body.floatingip.attrs()
    target = {"project_id": attrs.get("project_id") or req.ctx.project_id}
    authorize(req, "network:create_floatingip", target)
    if attrs.get("floating_ip_address") is not None:
        authorize(req, "network:create_floatingip:floating_ip_address", target)
    rec = await svc(req).floatingips.create(req.ctx, attrs)
    return one(req, "floatingip", views.floatingip(rec), status=201)


async def _owner(req: ApiRequest[NetworkService], action: str) -> str:
    fip_id = req.params["floatingip_id"]
    rec = await svc(req).floatingips.get(req.ctx, fip_id)
    authorize(req, action, {"project_id": rec.row.project_id})
    return fip_id


async def update(req: ApiRequest[NetworkService]) -> Response:
    fip_id = await _owner(req, "network:update_floatingip")
    rec = await svc(req).floatingips.update(
        req.ctx, fip_id, req.body.floatingip.attrs(), if_match(req)
    )
    return one(req, "floatingip", views.floatingip(rec))


async def delete(req: ApiRequest[NetworkService]) -> Response:
    fip_id = await _owner(req, "network:delete_floatingip")
    await svc(req).floatingips.delete(req.ctx, fip_id, if_match(req))
    return empty_response()
