"""Snapshots: create (the volume's agent makes it), list, show, update,
delete, metadata and the administrators' actions."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from stratus.common.context import RequestContext
from stratus.common.db import Database
from stratus.common.microversion import Version
from stratus.volume import models as m
from stratus.volume.errors import BadRequest, NotFound
from stratus.volume.service.common import Wake, start_task, visible_snapshot, visible_volume
from stratus.volume.service.quotas import Quotas
from stratus.volume.service.volumes import page, sort_rows

SNAPSHOT_STATUSES = frozenset(
    {"creating", "available", "deleting", "error", "error_deleting", "restoring", "backing-up",
     "unmanaging"}
)  # fmt: skip


@dataclass
class SnapshotFilter:
    all_projects: bool = False
    project_id: str | None = None
    exact: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, str] = field(default_factory=dict)
    sort: list[tuple[str, str]] = field(default_factory=list)
    limit: int | None = None
    marker: str | None = None
    offset: int = 0


class Snapshots:
    def __init__(self, db: Database, quotas: Quotas, wake: Wake):
        self.db = db
        self.quotas = quotas
        self.wake = wake

    async def create(
        self, ctx: RequestContext, volume_id: str, *, force: bool, name: str | None,
        description: str | None, metadata: dict[str, str], version: Version,
    ) -> m.Snapshot:  # fmt: skip
        async with self.db.transaction() as s:
            volume = await visible_volume(s, ctx, volume_id, for_update=True)
            in_use_ok = force or version.at_least("3.66")
            if volume.status == m.IN_USE and not in_use_ok:
                raise BadRequest(
                    f"Invalid volume: Volume {volume.id} is in-use: snapshot it with force."
                )
            if volume.status not in (m.AVAILABLE, m.IN_USE) or volume.host is None:
                raise BadRequest(
                    f"Invalid volume: Volume {volume.id} status must be available or in-use "
                    f"to snapshot, but current status is: {volume.status}."
                )
            vtype = await s.get(m.VolumeType, volume.volume_type_id or "")
            requests = {"snapshots": 1, "gigabytes": volume.size}
            if vtype is not None:
                requests[f"snapshots_{vtype.name}"] = 1
                requests[f"gigabytes_{vtype.name}"] = volume.size
            await self.quotas.check(s, volume.project_id, requests)
            snap = m.Snapshot(
                volume_id=volume.id,
                name=name,
                description=description,
                project_id=volume.project_id,
                user_id=ctx.user_id or "",
                size=volume.size,
                metadata_=dict(metadata),
                volume_type_id=volume.volume_type_id,
            )
            start_task(snap, m.T_CREATE, m.CREATING)
            s.add(snap)
            await s.flush()
            host = volume.host
        self.wake(host)
        return snap

    async def get(self, ctx: RequestContext, snapshot_id: str) -> m.Snapshot:
        async with self.db.session() as s:
            return await visible_snapshot(s, ctx, snapshot_id)

    async def list_snapshots(self, ctx: RequestContext, f: SnapshotFilter) -> list[m.Snapshot]:
        stmt = select(m.Snapshot)
        if not (ctx.is_admin and f.all_projects):
            stmt = stmt.where(m.Snapshot.project_id == (ctx.project_id or ""))
        elif f.project_id:
            stmt = stmt.where(m.Snapshot.project_id == f.project_id)
        for column, value in f.exact.items():
            stmt = stmt.where(getattr(m.Snapshot, column) == value)
        async with self.db.session() as s:
            rows = list((await s.scalars(stmt)).all())
        if f.metadata:
            rows = [r for r in rows if all(r.metadata_.get(k) == v for k, v in f.metadata.items())]
        return page(sort_rows(rows, f.sort), f.marker, f.limit, f.offset, "snapshot")

    async def update(
        self, ctx: RequestContext, snapshot_id: str, changes: dict[str, Any]
    ) -> m.Snapshot:
        async with self.db.transaction() as s:
            snap = await visible_snapshot(s, ctx, snapshot_id)
            for key, value in changes.items():
                setattr(snap, key, value)
            return snap

    async def delete(self, ctx: RequestContext, snapshot_id: str, *, force: bool = False) -> None:
        async with self.db.transaction() as s:
            snap = await visible_snapshot(s, ctx, snapshot_id)
            if not force and snap.status not in (m.AVAILABLE, m.ERROR, m.ERROR_DELETING):
                raise BadRequest(
                    f"Invalid snapshot: Snapshot status must be available or error, "
                    f"not {snap.status}."
                )
            volume = await s.get(m.Volume, snap.volume_id)
            if volume is None or volume.host is None:
                await s.delete(snap)
                return
            start_task(snap, m.T_DELETE, m.DELETING)
            host = volume.host
        self.wake(host)

    async def set_metadata(
        self, ctx: RequestContext, snapshot_id: str, meta: dict[str, str], *, replace: bool
    ) -> dict[str, str]:
        async with self.db.transaction() as s:
            snap = await visible_snapshot(s, ctx, snapshot_id)
            current = {} if replace else dict(snap.metadata_)
            current.update(meta)
            snap.metadata_ = current
            return dict(current)

    async def delete_metadata(self, ctx: RequestContext, snapshot_id: str, key: str) -> None:
        async with self.db.transaction() as s:
            snap = await visible_snapshot(s, ctx, snapshot_id)
            if key not in snap.metadata_:
                raise NotFound(f"Snapshot {snapshot_id} has no metadata with key {key}.")
            snap.metadata_ = {k: v for k, v in snap.metadata_.items() if k != key}

    async def reset_status(self, ctx: RequestContext, snapshot_id: str, status: str) -> None:
        if status not in SNAPSHOT_STATUSES:
            raise BadRequest(f"Invalid input received: Must specify a valid status ({status}).")
        async with self.db.transaction() as s:
            snap = await visible_snapshot(s, ctx, snapshot_id)
            snap.status, snap.task = status, None
            snap.generation += 1

    async def update_status(
        self, ctx: RequestContext, snapshot_id: str, status: str, progress: str | None
    ) -> None:
        """os-update_snapshot_status: what a compute-assisted snapshot reports."""
        if status not in (m.AVAILABLE, m.ERROR, m.ERROR_DELETING, m.CREATING, m.DELETING):
            raise BadRequest(f"Invalid input received: Invalid status {status}.")
        async with self.db.transaction() as s:
            snap = await visible_snapshot(s, ctx, snapshot_id)
            snap.status = status
            if progress is not None:
                snap.progress = progress
