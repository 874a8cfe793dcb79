"""A server's network interfaces (os-interface: what ``server add/remove
port|network`` use), its addresses by network (``/servers/{id}/ips``) and the legacy actions on its security groups and
floating IPs (addSecurityGroup, removeSecurityGroup, addFloatingIp,
removeFloatingIp)."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from stratus.common.api import ApiRequest, empty_response, json_response
from stratus.common.microversion import Version
from stratus.compute.api.action_schemas import (
    AddFloatingIpAction,
    AddSecurityGroupAction,
    RemoveFloatingIpAction,
    RemoveSecurityGroupAction,
)
from stratus.compute.api.schemas import InterfaceAttachBody
from stratus.compute.api.servers import load, render_with_ports
from stratus.compute.errors import NotFound
from stratus.compute.service import ComputeService
from stratus.compute.service.network import VifPort

Req = ApiRequest[ComputeService]


def attachment(port: VifPort, version: Version | None, tag: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "net_id": port.network_id,
        "port_id": port.id,
        "mac_addr": port.mac_address,
        "port_state": port.status,
        "fixed_ips": [
            {"subnet_id": f.subnet_id, "ip_address": f.ip_address} for f in port.fixed_ips
        ],
    }
    if version is not None and version >= Version.parse("2.70"):
        out["tag"] = tag
    return out


async def index(req: Req) -> Response:
    server = await load(req, "compute:os-interface:list")
    ports = await req.service.interfaces.ports(server)
    return json_response({"interfaceAttachments": [attachment(p, req.version) for p in ports]})


async def show(req: Req) -> Response:
    server = await load(req, "compute:os-interface:show")
    port = await req.service.interfaces.port(server, req.params["port_id"])
    return json_response({"interfaceAttachment": attachment(port, req.version)})


async def create(req: Req) -> Response:
    server = await load(req, "compute:os-interface:create")
    body: InterfaceAttachBody = req.body
    nic = body.interfaceAttachment.nic()
    port = await req.service.interfaces.attach(req.ctx, server, nic)
    return json_response({"interfaceAttachment": attachment(port, req.version, nic.tag)})


async def delete(req: Req) -> Response:
    server = await load(req, "compute:os-interface:delete")
    await req.service.interfaces.detach(req.ctx, server, req.params["port_id"])
    return empty_response(202)


async def add_security_group(req: Req) -> Response:
    server = await load(req, "compute:servers:security_groups:add")
    body: AddSecurityGroupAction = req.body
    await req.service.interfaces.add_security_group(req.ctx, server, body.group.name)
    return empty_response(202)


async def remove_security_group(req: Req) -> Response:
    server = await load(req, "compute:servers:security_groups:remove")
    body: RemoveSecurityGroupAction = req.body
    await req.service.interfaces.remove_security_group(req.ctx, server, body.group.name)
    return empty_response(202)


async def add_floating_ip(req: Req) -> Response:
    server = await load(req, "compute:servers:floating_ips:add")
    body: AddFloatingIpAction = req.body
    f = body.floating
    await req.service.interfaces.add_floating_ip(req.ctx, server, f.address, f.fixed_address)
    return empty_response(202)


async def remove_floating_ip(req: Req) -> Response:
    server = await load(req, "compute:servers:floating_ips:remove")
    body: RemoveFloatingIpAction = req.body
    await req.service.interfaces.remove_floating_ip(req.ctx, server, body.floating.address)
    return empty_response(202)


# -- addresses (/servers/{id}/ips) ------------------------------------------------------------


async def _addresses(req: Req) -> dict[str, list[dict[str, Any]]]:
    """The server's addresses by network, as Nova's ips API shows them
    (version and address only)."""
    server = await load(req, "compute:servers:show")
    view = await render_with_ports(req, server)
    return {
        net: [{"version": a["version"], "addr": a["addr"]} for a in addrs]
        for net, addrs in view["addresses"].items()
    }


async def ips_index(req: Req) -> Response:
    return json_response({"addresses": await _addresses(req)})


async def ips_show(req: Req) -> Response:
    addresses = await _addresses(req)
    network = req.params["network"]
    if network not in addresses:
        raise NotFound("Instance is not a member of specified network")
    return json_response({network: addresses[network]})
