"""Subnets."""

from __future__ import annotations

from starlette.responses import Response

from stratus.common.api import ApiRequest, empty_response
from stratus.network.api import listing, views
from stratus.network.api.common import authorize, if_match, many, one, svc
from stratus.network.service import NetworkService


async def index(req: ApiRequest[NetworkService]) -> Response:
    q = listing.parse(req, views.SUBNET_KINDS)
    authorize(req, "network:get_subnet", {"project_id": req.ctx.project_id})
    rows = await svc(req).subnets.find(req.ctx, q.strings())
    return listing.respond(req, "subnets", [views.subnet(r) for r in rows], q, views.SUBNET_KINDS)


async def show(req: ApiRequest[NetworkService]) -> Response:
    rec = await svc(req).subnets.get(req.ctx, req.params["subnet_id"])
    authorize(req, "network:get_subnet", {"project_id": rec.row.project_id})
    return one(req, "subnet", views.subnet(rec))


async def create(req: ApiRequest[NetworkService]) -> Response:
    items = [item.attrs() for item in req.body.items()]
    for attrs in items:
        net = await svc(req).networks.get(req.ctx, attrs["network_id"])
        target = {
            "project_id": attrs.get("project_id") or req.ctx.project_id,
            "network_project_id": net.row.project_id,
        }
        authorize(req, "network:create_subnet", target)
    recs = await svc(req).subnets.create(req.ctx, items)
    if req.body.subnet is not None:
        return one(req, "subnet", views.subnet(recs[0]), status=201)
    return many(req, "subnets", [views.subnet(r) for r in recs])


async def _authorize(req: ApiRequest[NetworkService], action: str) -> str:
    subnet_id = req.params["subnet_id"]
    owner = await svc(req).subnets.network_project(req.ctx, subnet_id)
    authorize(req, action, {"network_project_id": owner})
    return subnet_id


async def update(req: ApiRequest[NetworkService]) -> Response:
    subnet_id = await _authorize(req, "network:update_subnet")
    rec = await svc(req).subnets.update(req.ctx, subnet_id, req.body.subnet.attrs(), if_match(req))
    return one(req, "subnet", views.subnet(rec))


async def delete(req: ApiRequest[NetworkService]) -> Response:
    subnet_id = await _authorize(req, "network:delete_subnet")
    await svc(req).subnets.delete(req.ctx, subnet_id, if_match(req))
    return empty_response()
