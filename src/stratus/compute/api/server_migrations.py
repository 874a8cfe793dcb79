"""Live migration: the ``os-migrateLive`` server action and the server's
in-progress live migrations (``/servers/{id}/migrations``: list, show,
abort, force-complete)."""

from __future__ import annotations

from starlette.responses import Response

from stratus.common.api import ApiRequest, empty_response, json_response
from stratus.common.microversion import Version
from stratus.compute import models as m
from stratus.compute.api import history_views
from stratus.compute.api.move_schemas import MigrateLiveAction
from stratus.compute.api.servers import load
from stratus.compute.errors import NotFound
from stratus.compute.service import ComputeService

V = Version.parse
Req = ApiRequest[ComputeService]


def _v(req: Req) -> Version:
    assert req.version is not None
    return req.version


async def migrate_live(req: Req) -> Response:
    """POST /servers/{id}/action {"os-migrateLive": {...}}: 202, the server
    shows MIGRATING until the agents are done."""
    body: MigrateLiveAction = req.body
    server = await load(req, "compute:servers:action")
    req.authorize("compute:servers:migrate_live", {"project_id": server.project_id})
    await req.service.live.start(req.ctx, server.id, body.migrate_live.request(_v(req)))
    return empty_response(202)


def _since(req: ApiRequest[ComputeService], version: str) -> None:
    """Routes that exist only from a microversion answer 404 below it, as Nova."""
    if _v(req) < V(version):
        raise NotFound("The resource could not be found.")


async def _server(req: ApiRequest[ComputeService], action: str) -> m.Server:
    server = await req.service.servers.get(req.ctx, req.params["server_id"])
    req.authorize(action, {"project_id": server.project_id})
    return server


async def index(req: ApiRequest[ComputeService]) -> Response:
    _since(req, "2.23")
    server = await _server(req, "compute:server_migrations")
    rows = await req.service.live.in_progress(req.ctx, server.id)
    return json_response({"migrations": [history_views.live_migration(r, _v(req)) for r in rows]})


async def show(req: ApiRequest[ComputeService]) -> Response:
    _since(req, "2.23")
    server = await _server(req, "compute:server_migrations")
    row = await req.service.live.get(req.ctx, server.id, req.params["migration_id"])
    return json_response({"migration": history_views.live_migration(row, _v(req))})


async def delete(req: ApiRequest[ComputeService]) -> Response:
    """Abort: the guest stays on its host; the migration becomes cancelled."""
    _since(req, "2.24")
    server = await _server(req, "compute:server_migrations")
    await req.service.live.abort(
        req.ctx, server.id, req.params["migration_id"], queued_ok=_v(req) >= V("2.65")
    )
    return empty_response(202)


async def action(req: ApiRequest[ComputeService]) -> Response:
    """force_complete: the source pauses the guest so the copy converges."""
    _since(req, "2.22")
    server = await _server(req, "compute:server_migrations")
    await req.service.live.force_complete(req.ctx, server.id, req.params["migration_id"])
    return empty_response(202)
