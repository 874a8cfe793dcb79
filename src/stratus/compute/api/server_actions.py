"""The server actions that change a server's power, disk or lock, its
console output, diagnostics and crash dump, and the admin's reset of its
state: one route each (``POST /servers/{id}/action``, told apart by
the body's key), one request schema each (``action_schemas.py``), one
service verb each (``service/server_actions.py``)."""

from __future__ import annotations

import secrets

from starlette.responses import Response

from stratus.common.api import ApiRequest, empty_response, json_response
from stratus.compute import models as m
from stratus.compute.api import host_views, views
from stratus.compute.api.action_schemas import (
    ConsoleAction,
    LockAction,
    RebootAction,
    RebuildAction,
    ResetStateAction,
)
from stratus.compute.api.servers import load, render_with_ports
from stratus.compute.service import ComputeService
from stratus.compute.service.server_actions import RebuildRequest

Req = ApiRequest[ComputeService]
ACTION = "compute:servers:action"


async def _server(req: Req) -> m.Server:
    return await load(req, ACTION)


async def stop(req: Req) -> Response:
    await req.service.server_actions.stop(req.ctx, (await _server(req)).id)
    return empty_response(202)


async def start(req: Req) -> Response:
    await req.service.server_actions.start(req.ctx, (await _server(req)).id)
    return empty_response(202)


async def pause(req: Req) -> Response:
    await req.service.server_actions.pause(req.ctx, (await _server(req)).id)
    return empty_response(202)


async def unpause(req: Req) -> Response:
    await req.service.server_actions.unpause(req.ctx, (await _server(req)).id)
    return empty_response(202)


async def suspend(req: Req) -> Response:
    await req.service.server_actions.suspend(req.ctx, (await _server(req)).id)
    return empty_response(202)


async def resume(req: Req) -> Response:
    await req.service.server_actions.resume(req.ctx, (await _server(req)).id)
    return empty_response(202)


async def reboot(req: Req) -> Response:
    body: RebootAction = req.body
    server = await _server(req)
    await req.service.server_actions.reboot(req.ctx, server.id, body.reboot.type == "HARD")
    return empty_response(202)


async def rebuild(req: Req) -> Response:
    body: RebuildAction = req.body
    r = body.rebuild
    server = await _server(req)
    rebuilt = RebuildRequest(
        image_ref=r.imageRef, name=r.name, metadata=r.metadata, user_data=r.user_data
    )
    updated = await req.service.server_actions.rebuild(req.ctx, server, rebuilt)
    assert req.version is not None
    view = views.updated_server(await render_with_ports(req, updated), req.version)
    # Nova answers the password (given, or made up) as it does on create
    view["adminPass"] = r.adminPass or secrets.token_urlsafe(9)
    return json_response({"server": view}, status=202)


async def lock(req: Req) -> Response:
    body: LockAction = req.body
    server = await _server(req)
    reason = body.lock.locked_reason if body.lock is not None else None
    await req.service.server_actions.lock(req.ctx, server.id, reason)
    return empty_response(202)


async def unlock(req: Req) -> Response:
    await req.service.server_actions.unlock(req.ctx, (await _server(req)).id)
    return empty_response(202)


async def console_output(req: Req) -> Response:
    body: ConsoleAction = req.body
    server = await load(req, "compute:servers:console_output")
    output = await req.service.console_output(server, body.console.length)
    return json_response({"output": output})


async def diagnostics(req: Req) -> Response:
    """``GET /servers/{id}/diagnostics`` (admin): Nova's standard shape from
    2.48, the driver's flat dictionary before."""
    server = await load(req, "compute:servers:diagnostics")
    found = await req.service.diagnostics(server)
    assert req.version is not None
    return json_response(host_views.diagnostics(found, req.version))


async def trigger_crash_dump(req: Req) -> Response:
    server = await load(req, "compute:servers:trigger_crash_dump")
    await req.service.trigger_crash_dump(req.ctx, server)
    return empty_response(202)


async def reset_state(req: Req) -> Response:
    body: ResetStateAction = req.body
    server = await load(req, "compute:servers:reset_state")
    await req.service.server_actions.reset_state(req.ctx, server.id, body.reset_state.state)
    return empty_response(202)


async def restore(req: Req) -> Response:
    server = await load(req, "compute:servers:restore")
    await req.service.server_actions.restore(req.ctx, server)
    return empty_response(202)


async def force_delete(req: Req) -> Response:
    server = await load(req, "compute:servers:force_delete")
    await req.service.delete_server(req.ctx, server)
    return empty_response(202)
