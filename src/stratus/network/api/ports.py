"""Ports."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from stratus.common.api import ApiRequest, empty_response
from stratus.network.api import listing, views
from stratus.network.api.common import authorize, hidden, if_match, many, one, svc
from stratus.network.service import NetworkService


def _hide(req: ApiRequest[NetworkService]) -> set[str]:
    return hidden(
        req, "network:get_port:binding", views.PORT_BINDING, {"project_id": req.ctx.project_id}
    )


def _check_attrs(
    req: ApiRequest[NetworkService], action: str, attrs: dict[str, Any], target: dict[str, Any]
) -> None:
    """Neutron's attribute rules: setting a network:* owner, a MAC, an
    address, port security or address pairs is for the network's owner;
    bindings are for admins and services."""
    checks = []
    if str(attrs.get("device_owner") or "").startswith("network:"):
        checks.append("device_owner")
    if attrs.get("mac_address") is not None:
        checks.append("mac_address")
    if any(ip.get("ip_address") for ip in attrs.get("fixed_ips") or []):
        checks.append("fixed_ips:ip_address")
    if "port_security_enabled" in attrs:
        checks.append("port_security_enabled")
    if attrs.get("allowed_address_pairs"):
        checks.append("allowed_address_pairs")
    if any(key.startswith("binding:") for key in attrs):
        checks.append("binding")
    for rule in checks:
        authorize(req, f"{action}:{rule}", target)


async def index(req: ApiRequest[NetworkService]) -> Response:
    q = listing.parse(req, views.PORT_KINDS)
    authorize(req, "network:get_port", {"project_id": req.ctx.project_id})
    rows = await svc(req).ports.find(req.ctx, q.strings())
    return listing.respond(
        req, "ports", [views.port(r) for r in rows], q, views.PORT_KINDS, _hide(req)
    )


async def show(req: ApiRequest[NetworkService]) -> Response:
    rec = await svc(req).ports.get(req.ctx, req.params["port_id"])
    authorize(req, "network:get_port", {"project_id": rec.row.project_id})
    return one(req, "port", views.port(rec), hide=_hide(req))


async def create(req: ApiRequest[NetworkService]) -> Response:
    items = [item.attrs() for item in req.body.items()]
    for attrs in items:
        net = await svc(req).networks.get(req.ctx, attrs["network_id"])
        target = {
            "project_id": attrs.get("project_id") or req.ctx.project_id,
            "network_project_id": net.row.project_id,
        }
        authorize(req, "network:create_port", target)
        _check_attrs(req, "network:create_port", attrs, target)
    recs = await svc(req).ports.create(req.ctx, items)
    if req.body.port is not None:
        return one(req, "port", views.port(recs[0]), status=201, hide=_hide(req))
    return many(req, "ports", [views.port(r) for r in recs], _hide(req))


async def _target(req: ApiRequest[NetworkService]) -> dict[str, Any]:
    project, network_project = await svc(req).ports.network_project(req.ctx, req.params["port_id"])
    return {"project_id": project, "network_project_id": network_project}


async def update(req: ApiRequest[NetworkService]) -> Response:
    target = await _target(req)
    attrs = req.body.port.attrs()
    authorize(req, "network:update_port", target)
    _check_attrs(req, "network:update_port", attrs, target)
    rec = await svc(req).ports.update(req.ctx, req.params["port_id"], attrs, if_match(req))
    return one(req, "port", views.port(rec), hide=_hide(req))


async def delete(req: ApiRequest[NetworkService]) -> Response:
    authorize(req, "network:delete_port", await _target(req))
    await svc(req).ports.delete(req.ctx, req.params["port_id"], if_match(req))
    return empty_response()
