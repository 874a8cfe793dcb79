"""Routers, their interfaces and static routes."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from stratus.common.api import ApiRequest, empty_response, json_response
from stratus.network.api import listing, views
from stratus.network.api.common import authorize, if_match, one, svc
from stratus.network.service import NetworkService


def _check_gateway(
    req: ApiRequest[NetworkService], action: str, attrs: dict[str, Any], target: dict[str, Any]
) -> None:
    info = attrs.get("external_gateway_info") or {}
    if info.get("enable_snat") is not None:
        authorize(req, f"{action}:external_gateway_info:enable_snat", target)
    if info.get("external_fixed_ips"):
        authorize(req, f"{action}:external_gateway_info:external_fixed_ips", target)


async def index(req: ApiRequest[NetworkService]) -> Response:
    q = listing.parse(req, views.ROUTER_KINDS)
    authorize(req, "network:get_router", {"project_id": req.ctx.project_id})
    rows = await svc(req).routers.find(req.ctx, q.strings())
    return listing.respond(req, "routers", [views.router(r) for r in rows], q, views.ROUTER_KINDS)


async def show(req: ApiRequest[NetworkService]) -> Response:
    rec = await svc(req).routers.get(req.ctx, req.params["router_id"])
    authorize(req, "network:get_router", {"project_id": rec.row.project_id})
    return one(req, "router", views.router(rec))


async def create(req: ApiRequest[NetworkService]) -> Response:
    attrs = req.body.router.attrs()
    target = {"project_id": attrs.get("project_id") or req.ctx.project_id}
    authorize(req, "network:create_router", target)
    _check_gateway(req, "network:create_router", attrs, target)
    rec = await svc(req).routers.create(req.ctx, attrs)
    return one(req, "router", views.router(rec), status=201)


async def _owner(req: ApiRequest[NetworkService], action: str) -> dict[str, Any]:
    rec = await svc(req).routers.get(req.ctx, req.params["router_id"])
    target = {"project_id": rec.row.project_id}
    authorize(req, action, target)
    return target


async def update(req: ApiRequest[NetworkService]) -> Response:
    target = await _owner(req, "network:update_router")
    attrs = req.body.router.attrs()
    _check_gateway(req, "network:update_router", attrs, target)
    rec = await svc(req).routers.update(req.ctx, req.params["router_id"], attrs, if_match(req))
    return one(req, "router", views.router(rec))


async def delete(req: ApiRequest[NetworkService]) -> Response:
    await _owner(req, "network:delete_router")
    await svc(req).routers.delete(req.ctx, req.params["router_id"], if_match(req))
    return empty_response()


async def add_interface(req: ApiRequest[NetworkService]) -> Response:
    await _owner(req, "network:add_router_interface")
    info = await svc(req).routers.add_interface(
        req.ctx, req.params["router_id"], req.body.subnet_id, req.body.port_id
    )
    return json_response(info)


async def remove_interface(req: ApiRequest[NetworkService]) -> Response:
    await _owner(req, "network:remove_router_interface")
    info = await svc(req).routers.remove_interface(
        req.ctx, req.params["router_id"], req.body.subnet_id, req.body.port_id
    )
    return json_response(info)


async def _routes(req: ApiRequest[NetworkService], add: bool) -> Response:
    await _owner(req, "network:update_router")
    routes = [r.model_dump() for r in req.body.router.routes]
    rec = await svc(req).routers.change_routes(req.ctx, req.params["router_id"], routes, add=add)
    return one(req, "router", views.router(rec))


async def add_extraroutes(req: ApiRequest[NetworkService]) -> Response:
    return await _routes(req, True)


async def remove_extraroutes(req: ApiRequest[NetworkService]) -> Response:
    return await _routes(req, False)
