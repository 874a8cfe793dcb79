"""Live migration: the ``os-migrateLive`` server action and the server's
in-progress live migrations (``/servers/{id}/migrations``: list, show,
abort, force-complete)."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from stratus.common.api import ApiRequest, empty_response, json_response
from stratus.common.microversion import Version
from stratus.compute import models as m
from stratus.compute.api import views
from stratus.compute.api.schemas import MigrateLive
from stratus.compute.errors import BadRequest, NotFound
from stratus.compute.service import ComputeService
from stratus.compute.service.live import LiveRequest

V = Version.parse
TRUE = {"true", "1", "on", "yes", "t", "y"}
FALSE = {"false", "0", "off", "no", "f", "n"}


def _svc(req: ApiRequest) -> ComputeService:
    return req.service  # type: ignore[no-any-return]


def _v(req: ApiRequest) -> Version:
    assert req.version is not None
    return req.version


def _boolean(value: Any, field: str, auto: bool = False) -> bool | None:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if auto and text == "auto":
        return None
    if text in TRUE:
        return True
    if text in FALSE:
        return False
    allowed = "a boolean or 'auto'" if auto else "a boolean"
    raise BadRequest(
        f"Invalid input for field/attribute {field}. Value: {value}. It must be {allowed}."
    )


def _live_request(body: MigrateLive, v: Version) -> LiveRequest:
    """Nova's os-migrateLive body, per microversion: ``host`` and
    ``block_migration`` always required; ``disk_over_commit`` required up to
    2.24 and refused after; ``block_migration: "auto"`` from 2.25; ``force``
    from 2.30 to 2.67."""
    given = body.model_fields_set
    for field in ("host", "block_migration"):
        if field not in given:
            raise BadRequest(
                f"Invalid input for field/attribute os-migrateLive: '{field}' is a required property"
            )
    if v < V("2.25"):
        if "disk_over_commit" not in given:
            raise BadRequest(
                "Invalid input for field/attribute os-migrateLive: 'disk_over_commit' is a required property"
            )
        _boolean(body.disk_over_commit, "disk_over_commit")
    elif "disk_over_commit" in given:
        raise BadRequest(
            "Invalid input for field/attribute os-migrateLive: 'disk_over_commit' is not allowed "
            "since microversion 2.25"
        )
    block = _boolean(body.block_migration, "block_migration", auto=v >= V("2.25"))
    force = False
    if "force" in given:
        if not V("2.30") <= v < V("2.68"):
            raise BadRequest(
                "Invalid input for field/attribute os-migrateLive: 'force' is allowed only in "
                "microversions 2.30 to 2.67"
            )
        force = bool(_boolean(body.force, "force"))
        if force and not body.host:
            raise BadRequest("Can't force to a non-provided destination")
    if body.host is not None and not body.host.strip():
        raise BadRequest("Invalid input for field/attribute host: it must not be empty.")
    return LiveRequest(host=body.host, block_migration=block, force=force)


async def migrate_live(req: ApiRequest, server: m.Server) -> Response:
    """POST /servers/{id}/action {"os-migrateLive": {...}}: 202, the server
    shows MIGRATING until the agents are done."""
    req.authorize("compute:servers:migrate_live", {"project_id": server.project_id})
    live = _live_request(req.body.migrate_live, _v(req))
    await _svc(req).live.start(req.ctx, server.id, live)
    return empty_response(202)


def migration_view(row: m.Migration, v: Version) -> dict[str, Any]:
    out: dict[str, Any] = {
        "created_at": views.usgtime(row.created_at),
        "dest_compute": row.dest_compute,
        "dest_host": row.dest_host,
        "dest_node": row.dest_compute,
        "disk_processed_bytes": row.disk_processed,
        "disk_remaining_bytes": row.disk_remaining,
        "disk_total_bytes": row.disk_total,
        "id": row.id,
        "memory_processed_bytes": row.memory_processed,
        "memory_remaining_bytes": row.memory_remaining,
        "memory_total_bytes": row.memory_total,
        "server_uuid": row.server_id,
        "source_compute": row.source_compute,
        "source_node": row.source_compute,
        "status": row.status,
        "updated_at": views.usgtime(row.updated_at),
    }
    if v >= V("2.59"):
        out["uuid"] = row.uuid
    if v >= V("2.80"):
        out["user_id"] = row.user_id
        out["project_id"] = row.project_id
    return out


def _since(req: ApiRequest, version: str) -> None:
    """Routes that exist only from a microversion answer 404 below it, as Nova."""
    if _v(req) < V(version):
        raise NotFound("The resource could not be found.")


async def _server(req: ApiRequest, action: str) -> m.Server:
    server = await _svc(req).servers.get(req.ctx, req.params["server_id"])
    req.authorize(action, {"project_id": server.project_id})
    return server


async def index(req: ApiRequest) -> Response:
    _since(req, "2.23")
    server = await _server(req, "compute:server_migrations")
    rows = await _svc(req).live.in_progress(req.ctx, server.id)
    return json_response({"migrations": [migration_view(r, _v(req)) for r in rows]})


async def show(req: ApiRequest) -> Response:
    _since(req, "2.23")
    server = await _server(req, "compute:server_migrations")
    row = await _svc(req).live.get(req.ctx, server.id, req.params["migration_id"])
    return json_response({"migration": migration_view(row, _v(req))})


async def delete(req: ApiRequest) -> Response:
    """Abort: the guest stays on its host; the migration becomes cancelled."""
    _since(req, "2.24")
    server = await _server(req, "compute:server_migrations")
    await _svc(req).live.abort(
        req.ctx, server.id, req.params["migration_id"], queued_ok=_v(req) >= V("2.65")
    )
    return empty_response(202)


async def action(req: ApiRequest) -> Response:
    """force_complete: the source pauses the guest so the copy converges."""
    _since(req, "2.22")
    server = await _server(req, "compute:server_migrations")
    await _svc(req).live.force_complete(req.ctx, server.id, req.params["migration_id"])
    return empty_response(202)
