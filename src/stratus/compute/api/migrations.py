"""Moving servers: the migrate, resize, confirmResize, revertResize and
evacuate actions, ``os-migrations`` and ``/servers/{id}/migrations``, with
their shapes per microversion."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from starlette.responses import Response

from stratus.common.api import ApiRequest, empty_response, json_response
from stratus.common.microversion import Version
from stratus.compute import models as m
from stratus.compute.api.views import usgtime
from stratus.compute.errors import BadRequest, NotFound
from stratus.compute.service import ComputeService
from stratus.compute.service.moves import MigrationFilter

V = Version.parse
ACTIONS = frozenset({"migrate", "resize", "confirm_resize", "revert_resize", "evacuate"})
LIVE_RUNNING = frozenset({"queued", "preparing", "running", "post-migrating"})


def _svc(req: ApiRequest) -> ComputeService:
    return req.service  # type: ignore[no-any-return]


def _v(req: ApiRequest) -> Version:
    assert req.version is not None
    return req.version


def _ref(value: str) -> str:
    return value.rstrip("/").rsplit("/", 1)[-1] if "/" in value else value


# -- actions ----------------------------------------------------------------------------------


async def action(req: ApiRequest, server: m.Server) -> Response:
    """One of ``ACTIONS`` on a server the caller may act on."""
    body = req.body
    name = body.name
    svc = _svc(req)
    target = {"project_id": server.project_id}
    if name == "migrate":
        req.authorize("compute:servers:migrate", target)
        host = body.migrate.host if body.migrate is not None else None
        if body.migrate is not None and body.migrate.model_fields_set and _v(req) < V("2.56"):
            raise BadRequest(
                "Invalid input for field/attribute migrate: a body needs microversion 2.56."
            )
        if host is not None:
            req.authorize("compute:servers:migrate:host", target)
        await svc.moves.migrate(req.ctx, server.id, host=host)
        return empty_response(202)
    if name == "resize":
        req.authorize("compute:servers:resize", target)
        await svc.moves.migrate(req.ctx, server.id, flavor_ref=_ref(str(body.resize.flavorRef)))
        return empty_response(202)
    if name in ("confirm_resize", "revert_resize"):
        req.authorize(f"compute:servers:{name}", target)
        if name == "confirm_resize":
            await svc.moves.confirm(req.ctx, server.id)
            return empty_response(204)
        await svc.moves.revert(req.ctx, server.id)
        return empty_response(202)
    req.authorize("compute:servers:evacuate", target)
    e = body.evacuate
    v = _v(req)
    if e.onSharedStorage is not None and v >= V("2.14"):
        raise BadRequest("onSharedStorage was removed in microversion 2.14.")
    if e.force is not None and not V("2.29") <= v < V("2.68"):
        raise BadRequest("force is only accepted from microversion 2.29 to 2.67.")
    # From 2.95 an evacuated server arrives stopped: its owner starts it.
    await svc.moves.evacuate(req.ctx, server.id, e.host, stop=v >= V("2.95"))
    if v < V("2.14"):
        import secrets

        return json_response({"adminPass": e.adminPass or secrets.token_urlsafe(9)})
    return empty_response(200)


# -- views ------------------------------------------------------------------------------------------


def _flavor_number(flavor_id: str | None) -> int | str | None:
    """Nova shows its internal integer flavor ids; ours are the flavor ids."""
    if flavor_id is not None and flavor_id.isdigit():
        return int(flavor_id)
    return flavor_id


def migration(row: m.Migration, v: Version, base: str) -> dict[str, Any]:
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
    if v >= V("2.59"):
        out["uuid"] = row.uuid
    if v >= V("2.80"):
        out["user_id"] = row.user_id
        out["project_id"] = row.project_id
    return out


# -- listings ---------------------------------------------------------------------------------------


def _time(value: str | None, name: str) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).replace(tzinfo=None)
    except ValueError as exc:
        raise BadRequest(f"Invalid input for query parameters {name}: {value!r}.") from exc


async def index(req: ApiRequest) -> Response:
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
        rows = await _svc(req).moves.list_migrations(
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
    out: dict[str, Any] = {"migrations": [migration(r, v, req.base_url) for r in rows]}
    if paging and q.limit and len(rows) == q.limit:
        query = [(k, val) for k, val in req.raw.query_params.multi_items() if k != "marker"]
        query.append(("marker", rows[-1].uuid))
        out["migrations_links"] = [
            {"rel": "next", "href": f"{req.base_url}/os-migrations?{urlencode(query)}"}
        ]
    return json_response(out)
