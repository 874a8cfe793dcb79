"""The migration records as os-migrations lists them: every kind of move
(cold migration, resize, evacuation, live migration), filtered, newest
first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from stratus.common.db import Database
from stratus.compute import models as m
from stratus.compute.errors import BadRequest


@dataclass
class MigrationFilter:
    host: str | None = None
    status: str | None = None
    instance_uuid: str | None = None
    source_compute: str | None = None
    migration_type: str | None = None
    user_id: str | None = None
    project_id: str | None = None
    changes_since: datetime | None = None
    changes_before: datetime | None = None
    limit: int | None = None
    marker: str | None = None


async def list_migrations(db: Database, f: MigrationFilter) -> list[m.Migration]:
    """The migrations the filter asks for, newest first, paged after a
    marker as Nova pages them."""
    stmt = select(m.Migration)
    if f.host:
        stmt = stmt.where(
            (m.Migration.source_compute == f.host) | (m.Migration.dest_compute == f.host)
        )
    if f.status:
        stmt = stmt.where(m.Migration.status == f.status)
    if f.instance_uuid:
        stmt = stmt.where(m.Migration.server_id == f.instance_uuid)
    if f.source_compute:
        stmt = stmt.where(m.Migration.source_compute == f.source_compute)
    if f.migration_type:
        stmt = stmt.where(m.Migration.migration_type == f.migration_type)
    if f.user_id:
        stmt = stmt.where(m.Migration.user_id == f.user_id)
    if f.project_id:
        stmt = stmt.where(m.Migration.project_id == f.project_id)
    if f.changes_since is not None:
        stmt = stmt.where(m.Migration.updated_at >= f.changes_since)
    if f.changes_before is not None:
        stmt = stmt.where(m.Migration.updated_at <= f.changes_before)
    stmt = stmt.order_by(m.Migration.created_at.desc(), m.Migration.id.desc())
    async with db.session() as s:
        rows = list((await s.scalars(stmt)).all())
    if f.marker:
        ids = [r.uuid for r in rows]
        if f.marker not in ids:
            raise BadRequest(f"Marker {f.marker} could not be found.")
        rows = rows[ids.index(f.marker) + 1 :]
    return rows[: f.limit] if f.limit is not None else rows
