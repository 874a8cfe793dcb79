"""Nova's JSON shapes of what happened to servers, per microversion: the
instance actions and their events, and the migrations (os-migrations, and
a server's live migrations)."""

from __future__ import annotations

import hashlib
from typing import Any

from stratus.common.microversion import Version
from stratus.compute import models as m
from stratus.compute.api.views import V, usgtime


def action(a: m.InstanceAction, v: Version) -> dict[str, Any]:
    out = {
        "action": a.action,
        "instance_uuid": a.server_id,
        "request_id": a.request_id,
        "user_id": a.user_id,
        "project_id": a.project_id,
        "start_time": usgtime(a.start_time),
        "message": a.message,
    }
    if v >= V("2.58"):
        out["updated_at"] = usgtime(a.updated_at)
    return out


def event(e: m.InstanceActionEvent, v: Version, admin: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "event": e.event,
        "start_time": usgtime(e.start_time),
        "finish_time": usgtime(e.finish_time),
        "result": e.result,
    }
    if admin:
        out["traceback"] = None
    if v >= V("2.62"):
        if admin:
            out["host"] = e.host
        out["hostId"] = hashlib.sha224(f"{e.host}".encode()).hexdigest() if e.host else ""
    if v >= V("2.84") and admin:
        out["details"] = e.details
    return out


# -- migrations ------------------------------------------------------------------------------

LIVE_RUNNING = frozenset({"queued", "preparing", "running", "post-migrating"})


def _flavor_number(flavor_id: str | None) -> int | str | None:
    """Nova shows its internal integer flavor ids; ours are the flavor ids."""
    if flavor_id is not None and flavor_id.isdigit():
        return int(flavor_id)
    return flavor_id


def migration(row: m.Migration, v: Version, base: str) -> dict[str, Any]:
    """A move as ``GET /os-migrations`` shows it (every kind)."""
    out: dict[str, Any] = {
        "id": row.id,
        "instance_uuid": row.server_id,
        "status": row.status,
        "source_compute": row.source_compute,
        "source_node": row.source_compute,
        "dest_compute": row.dest_compute,
        "dest_node": row.dest_compute,
        "dest_host": row.dest_host,
        "old_instance_type_id": _flavor_number(row.old_flavor_id),
        "new_instance_type_id": _flavor_number(row.new_flavor_id),
        "created_at": usgtime(row.created_at),
        "updated_at": usgtime(row.updated_at),
    }
    if v >= V("2.23"):
        out["migration_type"] = row.migration_type
        if row.migration_type == "live-migration" and row.status in LIVE_RUNNING:
            path = f"servers/{row.server_id}/migrations/{row.id}"
            bookmark = base.rsplit("/v2.1", 1)[0]
            out["links"] = [
                {"rel": "self", "href": f"{base}/{path}"},
                {"rel": "bookmark", "href": f"{bookmark}/{path}"},
            ]
    return _migration_owner(out, row, v)


def live_migration(row: m.Migration, v: Version) -> dict[str, Any]:
    """A live migration under way, as ``GET /servers/{id}/migrations`` shows it."""
    out: dict[str, Any] = {
        "created_at": usgtime(row.created_at),
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
        "updated_at": usgtime(row.updated_at),
    }
    return _migration_owner(out, row, v)


def _migration_owner(out: dict[str, Any], row: m.Migration, v: Version) -> dict[str, Any]:
    """The fields both migration views add by microversion: uuid (2.59),
    user and project (2.80)."""
    if v >= V("2.59"):
        out["uuid"] = row.uuid
    if v >= V("2.80"):
        out["user_id"] = row.user_id
        out["project_id"] = row.project_id
    return out
