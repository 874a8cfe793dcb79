"""Networks."""

from __future__ import annotations

from starlette.responses import Response

from stratus.common.api import ApiRequest, empty_response
from stratus.network.api import listing, views
from stratus.network.api.common import authorize, check_attrs, hidden, if_match, many, one, svc
from stratus.network.service import NetworkService

ATTR_RULES = {
    "shared": "shared",
    "router:external": "router:external",
    "is_default": "is_default",
    "provider:network_type": "provider",
    "provider:physical_network": "provider",
    "provider:segmentation_id": "provider",
}
DEFAULTS = {"shared": False, "router:external": False, "is_default": False}


def _hide(req: ApiRequest[NetworkService]) -> set[str]:
    return hidden(
        req,
        "network:get_network:provider",
        views.NETWORK_PROVIDER,
        {"project_id": req.ctx.project_id},
    )


async def index(req: ApiRequest[NetworkService]) -> Response:
    q = listing.parse(req, views.NETWORK_KINDS)
    authorize(req, "network:get_network", {"project_id": req.ctx.project_id})
    rows = await svc(req).networks.find(req.ctx, q.strings())
    return listing.respond(
        req, "networks", [views.network(r) for r in rows], q, views.NETWORK_KINDS, _hide(req)
    )


async def show(req: ApiRequest[NetworkService]) -> Response:
    rec = await svc(req).networks.get(req.ctx, req.params["network_id"])
    authorize(req, "network:get_network", {"project_id": rec.row.project_id})
    return one(req, "network", views.network(rec), hide=_hide(req))


async def create(req: ApiRequest[NetworkService]) -> Response:
    items = [item.attrs() for item in req.body.items()]
    for attrs in items:
        target = {"project_id": attrs.get("project_id") or req.ctx.project_id}
        authorize(req, "network:create_network", target)
        check_attrs(req, "network:create_network", attrs, ATTR_RULES, target, DEFAULTS)
    if req.body.network is not None:
        rec = await svc(req).networks.create(req.ctx, items[0])
        return one(req, "network", views.network(rec), status=201, hide=_hide(req))
    recs = await svc(req).networks.create_many(req.ctx, items)
    return many(req, "networks", [views.network(r) for r in recs], _hide(req))


async def update(req: ApiRequest[NetworkService]) -> Response:
    network_id = req.params["network_id"]
    current = await svc(req).networks.get(req.ctx, network_id)
    target = {"project_id": current.row.project_id}
    attrs = req.body.network.attrs()
    authorize(req, "network:update_network", target)
    check_attrs(req, "network:update_network", attrs, ATTR_RULES, target)
    rec = await svc(req).networks.update(req.ctx, network_id, attrs, if_match(req))
    return one(req, "network", views.network(rec), hide=_hide(req))


async def delete(req: ApiRequest[NetworkService]) -> Response:
    network_id = req.params["network_id"]
    current = await svc(req).networks.get(req.ctx, network_id)
    authorize(req, "network:delete_network", {"project_id": current.row.project_id})
    await svc(req).networks.delete(req.ctx, network_id, if_match(req))
    return empty_response()
