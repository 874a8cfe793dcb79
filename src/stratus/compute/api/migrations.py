"""Moving servers: the migrate, resize, confirmResize, revertResize and
evacuate actions (one route each), and ``GET /os-migrations``."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from starlette.responses import Response

from stratus.common.api import ApiRequest, empty_response, json_response
from stratus.common.microversion import Version
from stratus.compute import models as m
from stratus.compute.api import history_views
from stratus.compute.api.move_schemas import EvacuateAction, MigrateAction, ResizeAction
from stratus.compute.api.servers import load
from stratus.compute.errors import BadRequest, NotFound
from stratus.compute.service import ComputeService
from stratus.compute.service.migration_list import MigrationFilter

V = Version.parse
Req = ApiRequest[ComputeService]


def _v(req: Req) -> Version:
    assert req.version is not None
    return req.version


async def _server(req: Req, action: str) -> m.Server:
    """The server, if the caller may act on it and do ``action``."""
    server = await load(req, "compute:servers:action")
    req.authorize(action, {"project_id": server.project_id})
    return server


# -- actions ----------------------------------------------------------------------------------


async def migrate(req: Req) -> Response:
    body: MigrateAction = req.body
    server = await _server(req, "compute:servers:migrate")
    host = body.migrate.host if body.migrate is not None else None
    if host is not None:
        req.authorize("compute:servers:migrate:host", {"project_id": server.project_id})
    await req.service.moves.migrate(req.ctx, server.id, host=host)
    return empty_response(202)


async def resize(req: Req) -> Response:
    body: ResizeAction = req.body
    server = await _server(req, "compute:servers:resize")
    await req.service.moves.migrate(req.ctx, server.id, flavor_ref=body.resize.flavor_id)
    return empty_response(202)


async def confirm_resize(req: Req) -> Response:
    server = await _server(req, "compute:servers:confirm_resize")
    await req.service.moves.confirm(req.ctx, server.id)
    return empty_response(204)


async def revert_resize(req: Req) -> Response:
    server = await _server(req, "compute:servers:revert_resize")
    await req.service.moves.revert(req.ctx, server.id)
    return empty_response(202)


async def evacuate(req: Req) -> Response:
    body: EvacuateAction = req.body
    e = body.evacuate
    server = await _server(req, "compute:servers:evacuate")
    v = _v(req)
    # From 2.95 an evacuated server arrives stopped: its owner starts it.
    await req.service.moves.evacuate(req.ctx, server.id, e.host, stop=v >= V("2.95"))
    if v < V("2.14"):
        return json_response({"adminPass": e.admin_pass()})
    return empty_response(200)


# -- listings ---------------------------------------------------------------------------------------


def _time(value: str | None, name: str) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).replace(tzinfo=None)
    except ValueError as exc:
        raise BadRequest(f"Invalid input for query parameters {name}: {value!r}.") from exc


async def index(req: ApiRequest[ComputeService]) -> Response:
    req.authorize("compute:migrations:index")
    q = req.query
    v = _v(req)
    paging = v >= V("2.59")
    if (q.user_id or q.project_id) and v < V("2.80"):
        raise BadRequest("Filtering by user_id or project_id needs microversion 2.80.")
    if q.changes_before and v < V("2.66"):
        raise BadRequest("changes-before needs microversion 2.66.")
    since = _time(q.changes_since, "changes-since") if paging else None
    before = _time(q.changes_before, "changes-before")
    if since and before and before < since:
        raise BadRequest("The value of changes-since must be less than or equal to changes-before.")
    try:
        rows = await req.service.moves.list_migrations(
            MigrationFilter(
                host=q.host,
                status=q.status,
                instance_uuid=q.instance_uuid,
                source_compute=q.source_compute,
                migration_type=q.migration_type if v >= V("2.23") else None,
                user_id=q.user_id,
                project_id=q.project_id,
                changes_since=since,
                changes_before=before,
                limit=q.limit if paging else None,
                marker=q.marker if paging else None,
            )
        )
    except BadRequest as exc:
        if q.marker:
            raise NotFound(f"Marker {q.marker} could not be found.") from exc
        raise
    out: dict[str, Any] = {
        "migrations": [history_views.migration(r, v, req.base_url) for r in rows]
    }
    if paging and q.limit and len(rows) == q.limit:
        query = [(k, val) for k, val in req.raw.query_params.multi_items() if k != "marker"]
        query.append(("marker", rows[-1].uuid))
        out["migrations_links"] = [
            {"rel": "next", "href": f"{req.base_url}/os-migrations?{urlencode(query)}"}
        ]
    return json_response(out)
