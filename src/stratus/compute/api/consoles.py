"""Remote consoles: ``POST /servers/{id}/remote-consoles`` (2.6+) and the
legacy ``os-getSerialConsole`` action answer a one-time URL; the websocket
at ``/compute/serial-console?token=...`` (any API process: the token is in
the database) bridges to the guest's serial console through the agent
channel of its host.  Only the serial console is served; VNC, SPICE, RDP
and MKS are not enabled (400, as Nova's when they are off)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from pydantic import BaseModel, ConfigDict, Field, StrictStr
from starlette.responses import Response
from starlette.websockets import WebSocket

from stratus.common.api import ApiRequest, json_response
from stratus.common.microversion import Version
from stratus.compute.agent.channel_wire import ChannelError
from stratus.compute.agent.serial_bridge import WS_POLICY, WS_UNAVAILABLE, bridge_peer
from stratus.compute.api.servers import load
from stratus.compute.errors import NotFound
from stratus.compute.service import ComputeService
from stratus.registry import SERVICES

log = logging.getLogger(__name__)

Req = ApiRequest[ComputeService]
PATH = "/serial-console"  # under the compute prefix


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RemoteConsole(_Strict):
    protocol: StrictStr
    type: StrictStr


class RemoteConsoleBody(_Strict):
    remote_console: RemoteConsole


class SerialConsole(_Strict):
    type: StrictStr


class SerialConsoleAction(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    console: SerialConsole = Field(alias="os-getSerialConsole")


async def _url(req: Req, protocol: str, kind: str) -> str:
    server = await load(req, "compute:servers:remote_consoles")
    consoles = req.service.consoles
    consoles.check_protocol(protocol, kind)
    token = await consoles.create(server, protocol)
    public = SERVICES["compute"].prefix
    base = req.service.cfg.public_url.rstrip("/")
    scheme, _, rest = base.partition("://")
    return f"{'wss' if scheme == 'https' else 'ws'}://{rest}{public}{PATH}?token={token}"


async def create(req: Req) -> Response:
    """``POST /servers/{id}/remote-consoles``."""
    assert req.version is not None
    if req.version < Version.parse("2.6"):
        raise NotFound("The resource could not be found.")
    body: RemoteConsoleBody = req.body
    wanted = body.remote_console
    url = await _url(req, wanted.protocol, wanted.type)
    console = {"protocol": wanted.protocol, "type": wanted.type, "url": url}
    return json_response({"remote_console": console})


async def serial_action(req: Req) -> Response:
    """The legacy action ``os-getSerialConsole``."""
    body: SerialConsoleAction = req.body
    url = await _url(req, "serial", body.console.type)
    return json_response({"console": {"type": body.console.type, "url": url}})


def websocket_endpoint(service: ComputeService) -> Callable[[WebSocket], Awaitable[None]]:
    async def serial(ws: WebSocket) -> None:
        target = await service.consoles.redeem(ws.query_params.get("token", ""))
        if target is None:
            await ws.close(code=WS_POLICY, reason="invalid or expired console token")
            return
        try:
            peer = await service.open_serial(target)
        except ChannelError as exc:
            log.info("compute: the serial console of %s is not reachable: %s", target.server_id, exc)
            await ws.close(code=WS_UNAVAILABLE, reason="the console is not reachable")
            return
        offered = ws.scope.get("subprotocols") or []
        await ws.accept(subprotocol="binary" if "binary" in offered else None)
        log.info("compute: serial console of server %s opened", target.server_id)
        await bridge_peer(ws, peer)

    return serial
