"""Backups: create (full or incremental), list, show, update, delete,
restore (into a new or an existing volume), export and import of records.

A backup's work is done by an agent: the volume's for creating and
restoring (they read or write its file), any live one for deleting and
importing (they only talk to the object store), so a backup outlives its
volume's host."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from stratus.common.config import VolumeConfig
from stratus.common.context import RequestContext
from stratus.common.db import Database
from stratus.volume import models as m
from stratus.volume.errors import BadRequest
from stratus.volume.service.common import (
    Wake,
    start_task,
    visible_backup,
    visible_snapshot,
    visible_volume,
)
from stratus.volume.service.hosts import Hosts, agent_of
from stratus.volume.service.quotas import Quotas
from stratus.volume.service.volumes import CreateVolume, Volumes, page, sort_rows

BACKUP_SERVICE = "stratus.volume.backup.swift"
EXPORTED = (
    "id", "volume_id", "snapshot_id", "name", "description", "container", "size",
    "object_count", "is_incremental", "parent_id", "service_metadata", "availability_zone",
    "project_id", "user_id", "metadata",
)  # fmt: skip


@dataclass
class BackupRequest:
    volume_id: str
    name: str | None = None
    description: str | None = None
    container: str | None = None
    incremental: bool = False
    force: bool = False
    snapshot_id: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass
class BackupFilter:
    all_projects: bool = False
    project_id: str | None = None
    exact: dict[str, Any] = field(default_factory=dict)
    sort: list[tuple[str, str]] = field(default_factory=list)
    limit: int | None = None
    marker: str | None = None
    offset: int = 0


class Backups:
    def __init__(
        self, db: Database, cfg: VolumeConfig, quotas: Quotas, hosts: Hosts, volumes: Volumes,
        wake: Wake,
    ):  # fmt: skip
        self.db = db
        self.cfg = cfg
        self.quotas = quotas
        self.hosts = hosts
        self.volumes = volumes
        self.wake = wake

    async def _any_agent(self, s: AsyncSession, prefer: str | None) -> str:
        """An agent for work that needs only the object store."""
        views = [v for v in await self.hosts.list_hosts() if v.up and not v.row.backup_disabled]
        names = [agent_of(v.row.host) for v in views]
        if prefer in names:
            return prefer
        if not names:
            raise BadRequest("Service cinder-backup could not be found: no backup service is up.")
        return names[0]

    async def create(self, ctx: RequestContext, req: BackupRequest) -> m.Backup:
        async with self.db.transaction() as s:
            volume = await visible_volume(s, ctx, req.volume_id, for_update=True)
            await self._check_source(s, ctx, req, volume)
            container = req.container or self.cfg.backup_container
            parent = await self._parent(s, volume, container) if req.incremental else None
            await self.quotas.check(
                s, volume.project_id, {"backups": 1, "backup_gigabytes": volume.size}
            )
            backup = m.Backup(
                volume_id=volume.id,
                snapshot_id=req.snapshot_id,
                name=req.name,
                description=req.description,
                project_id=volume.project_id,
                user_id=ctx.user_id or "",
                availability_zone=volume.availability_zone,
                container=container,
                host=agent_of(volume.host),
                size=volume.size,
                is_incremental=parent is not None,
                parent_id=parent.id if parent else None,
                metadata_=dict(req.metadata),
            )
            start_task(backup, m.T_CREATE, m.CREATING, {"volume_status": volume.status})
            s.add(backup)
            volume.previous_status = volume.status
            volume.status = m.BACKING_UP
            await s.flush()
            host = volume.host
        self.wake(host)
        return backup

    async def _check_source(
        self, s: AsyncSession, ctx: RequestContext, req: BackupRequest, volume: m.Volume
    ) -> None:
        """The volume (or its snapshot) can be backed up now, by a live host."""
        if req.snapshot_id:
            snap = await visible_snapshot(s, ctx, req.snapshot_id)
            if snap.volume_id != volume.id or snap.status != m.AVAILABLE:
                raise BadRequest(
                    f"Invalid snapshot: Snapshot {snap.id} must be available and of volume "
                    f"{volume.id}."
                )
        allowed = (m.AVAILABLE, m.IN_USE) if (req.force or req.snapshot_id) else (m.AVAILABLE,)
        if volume.status not in allowed:
            raise BadRequest(
                f"Invalid volume: Volume to be backed up must be available or in-use, "
                f'but the current status is "{volume.status}".'
                + (" Use force to back up an in-use volume." if volume.status == m.IN_USE else "")
            )
        if not await self.hosts.check_host_alive(s, volume.host):
            raise BadRequest(f"Service cinder-backup could not be found for {volume.host}.")

    async def _parent(self, s: AsyncSession, volume: m.Volume, container: str) -> m.Backup:
        """An incremental backup's parent: the volume's latest available
        backup in the same container."""
        parent = await s.scalar(
            select(m.Backup)
            .where(
                m.Backup.volume_id == volume.id,
                m.Backup.status == m.AVAILABLE,
                m.Backup.container == container,
            )
            .order_by(m.Backup.data_timestamp.desc(), m.Backup.created_at.desc())
            .limit(1)
        )
        if parent is None:
            raise BadRequest("Invalid backup: No backups available to do an incremental backup.")
        return parent

    async def get(self, ctx: RequestContext, backup_id: str) -> m.Backup:
        async with self.db.session() as s:
            return await visible_backup(s, ctx, backup_id)

    async def children(self, backup_ids: list[str]) -> set[str]:
        """The ids among ``backup_ids`` that incremental backups depend on."""
        if not backup_ids:
            return set()
        async with self.db.session() as s:
            rows = await s.scalars(
                select(m.Backup.parent_id).where(m.Backup.parent_id.in_(backup_ids))
            )
            return {r for r in rows if r}

    async def list_backups(self, ctx: RequestContext, f: BackupFilter) -> list[m.Backup]:
        stmt = select(m.Backup)
        if not (ctx.is_admin and f.all_projects):
            stmt = stmt.where(m.Backup.project_id == (ctx.project_id or ""))
        elif f.project_id:
            stmt = stmt.where(m.Backup.project_id == f.project_id)
        for column, value in f.exact.items():
            stmt = stmt.where(getattr(m.Backup, column) == value)
        async with self.db.session() as s:
            rows = list((await s.scalars(stmt)).all())
        return page(sort_rows(rows, f.sort), f.marker, f.limit, f.offset, "backup")

    async def update(
        self, ctx: RequestContext, backup_id: str, changes: dict[str, Any]
    ) -> m.Backup:
        async with self.db.transaction() as s:
            backup = await visible_backup(s, ctx, backup_id)
            for key, value in changes.items():
                setattr(backup, key, value)
            return backup

    async def delete(self, ctx: RequestContext, backup_id: str, *, force: bool = False) -> None:
        async with self.db.transaction() as s:
            backup = await visible_backup(s, ctx, backup_id)
            if not force and backup.status not in (m.AVAILABLE, m.ERROR):
                raise BadRequest(
                    f"Invalid backup: Backup status must be available or error, not {backup.status}."
                )
            if await s.scalar(select(m.Backup.id).where(m.Backup.parent_id == backup.id).limit(1)):
                raise BadRequest("Invalid backup: Incremental backups exist for this backup.")
            if backup.service_metadata is None and backup.task is None:
                await s.delete(backup)  # nothing was stored
                return
            backup.host = await self._any_agent(s, backup.host)
            start_task(backup, m.T_DELETE, m.DELETING)
            host = backup.host
        self.wake(f"{host}@")

    async def restore(
        self, ctx: RequestContext, backup_id: str, volume_id: str | None, name: str | None
    ) -> dict[str, Any]:
        async with self.db.session() as s:
            backup = await visible_backup(s, ctx, backup_id)
            if backup.status != m.AVAILABLE:
                raise BadRequest(
                    f"Invalid backup: Backup status must be available, not {backup.status}."
                )
        if volume_id is None:
            detail = await self.volumes.create(
                ctx,
                CreateVolume(
                    size=backup.size,
                    name=name or f"restore_backup_{backup.id}",
                    description=f"auto-created_from_restore_from_backup {backup.id}",
                    backup_id=backup.id,
                ),
            )
            return {"backup_id": backup.id, "volume_id": detail.volume.id,
                    "volume_name": detail.volume.name}  # fmt: skip
        async with self.db.transaction() as s:
            volume = await visible_volume(s, ctx, volume_id, for_update=True)
            backup = await visible_backup(s, ctx, backup_id)
            if volume.status != m.AVAILABLE:
                raise BadRequest(
                    f"Invalid volume: Volume to be restored to must be available, not "
                    f"{volume.status}."
                )
            if volume.size < backup.size:
                raise BadRequest(
                    f"Invalid volume: volume size {volume.size} is smaller than the backup's "
                    f"size {backup.size}."
                )
            backup.status = "restoring"
            start_task(volume, m.T_RESTORE, m.RESTORING, {"backup_id": backup.id})
            host, volume_name = volume.host, volume.name
        self.wake(host)
        return {"backup_id": backup_id, "volume_id": volume_id, "volume_name": volume_name}

    async def reset_status(self, ctx: RequestContext, backup_id: str, status: str) -> None:
        if status not in (m.AVAILABLE, m.ERROR):
            raise BadRequest(f"Invalid input received: Invalid backup status {status}.")
        async with self.db.transaction() as s:
            backup = await visible_backup(s, ctx, backup_id)
            backup.status, backup.task = status, None
            backup.generation += 1

    async def export_record(self, ctx: RequestContext, backup_id: str) -> dict[str, str]:
        backup = await self.get(ctx, backup_id)
        if backup.status != m.AVAILABLE:
            raise BadRequest(
                f"Invalid backup: Backup status must be available, not {backup.status}."
            )
        record = {k: getattr(backup, "metadata_" if k == "metadata" else k) for k in EXPORTED}
        record["data_timestamp"] = backup.data_timestamp.isoformat()
        url = base64.b64encode(json.dumps(record).encode()).decode()
        return {"backup_service": BACKUP_SERVICE, "backup_url": url}

    async def import_record(self, ctx: RequestContext, service: str, url: str) -> m.Backup:
        if service != BACKUP_SERVICE:
            raise BadRequest(f"Invalid backup: Unsupported backup service {service}.")
        try:
            record = json.loads(base64.b64decode(url, validate=True))
            assert isinstance(record, dict) and record.get("service_metadata")
        except (binascii.Error, ValueError, AssertionError) as exc:
            raise BadRequest("Invalid backup: the backup record cannot be read.") from exc
        async with self.db.transaction() as s:
            if record.get("id") and await s.get(m.Backup, record["id"]) is not None:
                raise BadRequest(f"Invalid backup: Backup {record['id']} already exists.")
            values = {k: record.get(k) for k in EXPORTED if k != "metadata"}
            backup = m.Backup(**{k: v for k, v in values.items() if v is not None})
            backup.metadata_ = dict(record.get("metadata") or {})
            backup.project_id = ctx.project_id or backup.project_id
            backup.user_id = ctx.user_id or ""
            if record.get("data_timestamp"):
                backup.data_timestamp = datetime.fromisoformat(record["data_timestamp"])
            backup.host = await self._any_agent(s, None)
            start_task(backup, "import", m.CREATING)
            s.add(backup)
            await s.flush()
            host = backup.host
        self.wake(f"{host}@")
        return backup
