"""Volumes: create (validate, check quota, place, record the agent's work),
list, show, update, delete and metadata."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from stratus.common.context import RequestContext
from stratus.common.db import Database
from stratus.volume import models as m
from stratus.volume.drivers.base import GiB
from stratus.volume.errors import BadRequest, InvalidVolume, NotFound
from stratus.volume.service.common import (
    VolumeDetail,
    Wake,
    add_message,
    details,
    start_task,
    visible_backup,
    visible_snapshot,
    visible_volume,
)
from stratus.volume.service.hosts import Hosts, NoValidBackend
from stratus.volume.service.images import ImageClient, ImageInfo
from stratus.volume.service.quotas import Quotas
from stratus.volume.service.types import Types, is_multiattach

DELETABLE = (m.AVAILABLE, m.ERROR, m.ERROR_RESTORING, m.ERROR_EXTENDING, "error_managing")
SORT_KEYS = {
    "id", "name", "display_name", "status", "size", "availability_zone", "created_at",
    "updated_at", "bootable", "volume_type_id", "project_id", "host",
}  # fmt: skip
# Properties of an image copied into a volume's volume_image_metadata.
IMAGE_FIELDS = ("checksum", "container_format", "disk_format", "min_disk", "min_ram", "size")


@dataclass
class CreateVolume:
    size: int | None
    name: str | None = None
    description: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    availability_zone: str | None = None
    volume_type: str | None = None
    snapshot_id: str | None = None
    source_volid: str | None = None
    image_id: str | None = None
    backup_id: str | None = None
    multiattach: bool = False


@dataclass
class ListFilter:
    all_projects: bool = False
    project_id: str | None = None
    exact: dict[str, Any] = field(default_factory=dict)  # column -> value
    metadata: dict[str, str] = field(default_factory=dict)
    name_contains: str | None = None
    sort: list[tuple[str, str]] = field(default_factory=list)
    limit: int | None = None
    marker: str | None = None
    offset: int = 0


def image_metadata(image: ImageInfo) -> dict[str, str]:
    meta = {"image_id": image.id, "image_name": image.name or ""}
    for key in IMAGE_FIELDS:
        value = getattr(image, key, None)
        if value is not None:
            meta[key] = str(value)
    for key, value in image.properties.items():
        if isinstance(value, (str, int, float, bool)):
            meta[key] = str(value)
    return meta


def _sort_value(row: Any, attr: str) -> tuple[bool, Any]:
    value = getattr(row, attr, None)
    if value is None:
        return (True, "")
    return (False, value)


def sort_rows(rows: list[Any], sort: list[tuple[str, str]]) -> list[Any]:
    """Sort by several keys (Cinder's ``sort=k1:asc,k2:desc``); id last."""
    keys = sort or [("created_at", "desc")]
    if all(k != "id" for k, _ in keys):
        keys = [*keys, ("id", keys[-1][1])]
    for key, direction in reversed(keys):
        attr = "name" if key == "display_name" else key
        rows.sort(key=lambda r, a=attr: _sort_value(r, a), reverse=direction == "desc")  # type: ignore[misc]
    return rows


def page(
    rows: list[Any], marker: str | None, limit: int | None, offset: int, what: str
) -> list[Any]:
    if marker:
        ids = [r.id for r in rows]
        if marker not in ids:
            raise BadRequest(f"Marker {marker} could not be found.")
        rows = rows[ids.index(marker) + 1 :]
    if offset:
        rows = rows[offset:]
    if limit is not None:
        rows = rows[:limit]
    return rows


class Volumes:
    def __init__(
        self,
        db: Database,
        quotas: Quotas,
        types: Types,
        hosts: Hosts,
        images: ImageClient,
        wake: Wake,
        default_zone: str,
    ):
        self.db = db
        self.quotas = quotas
        self.types = types
        self.hosts = hosts
        self.images = images
        self.wake = wake
        self.default_zone = default_zone

    # -- create ---------------------------------------------------------------------------

    async def create(self, ctx: RequestContext, req: CreateVolume) -> VolumeDetail:
        image = await self.images.get(ctx, req.image_id) if req.image_id else None
        zone = req.availability_zone
        if zone:
            await self.hosts.check_zone(zone)
        async with self.db.transaction() as s:
            source_host, size, bootable, image_meta, source_type = await self._sources(
                s, ctx, req, image
            )
            vtype = await (
                self.types.find(s, ctx, req.volume_type)
                if req.volume_type
                else self.types.default(s)
            )
            limits = await self.quotas.limits(ctx.project_id, s)
            self.quotas.check_size(limits, size)
            await self.quotas.check(
                s,
                ctx.project_id or "",
                {"volumes": 1, "gigabytes": size, f"volumes_{vtype.name}": 1,
                 f"gigabytes_{vtype.name}": size},
            )  # fmt: skip
            volume = m.Volume(
                name=req.name,
                description=req.description,
                project_id=ctx.project_id or "",
                user_id=ctx.user_id or "",
                size=size,
                availability_zone=zone or self.default_zone,
                volume_type_id=vtype.id,
                bootable=bootable,
                multiattach=req.multiattach or is_multiattach(vtype),
                metadata_=dict(req.metadata),
                image_metadata=image_meta,
                snapshot_id=req.snapshot_id,
                source_volid=req.source_volid,
            )
            args = {"source": source_type, "image_id": req.image_id, "backup_id": req.backup_id}
            start_task(volume, m.T_CREATE, m.CREATING, args)
            try:
                volume.host = source_host or await self.hosts.pick(s, size, zone or None, vtype)
            except NoValidBackend as exc:
                volume.host, volume.task = None, None
                volume.status, volume.error = m.ERROR, str(exc)
            s.add(volume)
            await s.flush()
            if volume.host is None:
                add_message(
                    s, volume.project_id, "VOLUME", volume.id, "VOLUME_000002",
                    "schedule allocate volume:Could not find any available weighted backend.",
                    ctx.request_id,
                )  # fmt: skip
            if req.backup_id:
                backup = await s.get(m.Backup, req.backup_id)
                if backup is not None:
                    backup.status = "restoring"
            detail = (await details(s, [volume]))[0]
        self.wake(volume.host)
        return detail

    async def _sources(
        self, s: AsyncSession, ctx: RequestContext, req: CreateVolume, image: ImageInfo | None
    ) -> tuple[str | None, int, bool, dict[str, str], str]:
        """(host it must go to, size, bootable, image metadata, source kind)."""
        size = req.size
        if req.snapshot_id:
            snap = await visible_snapshot(s, ctx, req.snapshot_id)
            if snap.status != m.AVAILABLE:
                raise BadRequest(
                    f"Invalid snapshot: Originating snapshot status must be one of "
                    f"'available' values but is {snap.status}."
                )
            parent = await s.get(m.Volume, snap.volume_id)
            size = _at_least(size, snap.size, "snapshot")
            meta = dict(parent.image_metadata) if parent else {}
            return (
                (parent.host if parent else None),
                size,
                bool(parent and parent.bootable),
                meta,
                "snapshot",
            )
        if req.source_volid:
            src = await visible_volume(s, ctx, req.source_volid)
            if src.status not in (m.AVAILABLE, m.IN_USE):
                raise BadRequest(
                    f"Invalid volume: Unable to create volume from source volume in status "
                    f"{src.status}."
                )
            size = _at_least(size, src.size, "source volume")
            return src.host, size, src.bootable, dict(src.image_metadata), "volume"
        if req.backup_id:
            backup = await visible_backup(s, ctx, req.backup_id)
            if backup.status != m.AVAILABLE:
                raise BadRequest(
                    f"Invalid backup: Backup status must be available, not {backup.status}."
                )
            size = _at_least(size, backup.size, "backup")
            return None, size, False, {}, "backup"
        if size is None:
            raise BadRequest("Missing required element 'size' in request body.")
        if image is not None:
            need = math.ceil(max(image.size, image.virtual_size or 0) / GiB)
            if need > size:
                raise BadRequest(
                    f"Invalid input received: Size of specified image {need} GB is larger "
                    f"than volume size {size} GB."
                )
            if image.min_disk > size:
                raise BadRequest(
                    f"Invalid input received: Volume size {size}GB cannot be smaller than "
                    f"the image minDisk size {image.min_disk}GB."
                )
            return None, size, True, image_metadata(image), "image"
        return None, size, False, {}, "empty"

    # -- read -----------------------------------------------------------------------------

    async def get(self, ctx: RequestContext, volume_id: str) -> VolumeDetail:
        async with self.db.session() as s:
            volume = await visible_volume(s, ctx, volume_id)
            return (await details(s, [volume]))[0]

    async def row(self, ctx: RequestContext, volume_id: str) -> m.Volume:
        async with self.db.session() as s:
            return await visible_volume(s, ctx, volume_id)

    async def list_volumes(
        self, ctx: RequestContext, f: ListFilter
    ) -> tuple[list[VolumeDetail], int]:
        stmt = select(m.Volume)
        if not (ctx.is_admin and f.all_projects):
            stmt = stmt.where(m.Volume.project_id == (ctx.project_id or ""))
        elif f.project_id:
            stmt = stmt.where(m.Volume.project_id == f.project_id)
        for column, value in f.exact.items():
            stmt = stmt.where(getattr(m.Volume, column) == value)
        async with self.db.session() as s:
            rows = list((await s.scalars(stmt)).all())
            if f.metadata:
                rows = [
                    r for r in rows
                    if all(r.metadata_.get(k) == v for k, v in f.metadata.items())
                ]  # fmt: skip
            if f.name_contains:
                rows = [r for r in rows if f.name_contains in (r.name or "")]
            rows = sort_rows(rows, f.sort)
            count = len(rows)
            rows = page(rows, f.marker, f.limit, f.offset, "volume")
            return await details(s, rows), count

    # -- update, delete -------------------------------------------------------------------

    async def update(
        self, ctx: RequestContext, volume_id: str, changes: dict[str, Any]
    ) -> VolumeDetail:
        async with self.db.transaction() as s:
            volume = await visible_volume(s, ctx, volume_id)
            for key, value in changes.items():
                if key == "metadata":
                    volume.metadata_ = dict(value)
                else:
                    setattr(volume, key, value)
            return (await details(s, [volume]))[0]

    async def delete(
        self, ctx: RequestContext, volume_id: str, *, cascade: bool, force: bool
    ) -> None:
        async with self.db.transaction() as s:
            volume = await visible_volume(s, ctx, volume_id, for_update=True)
            snaps = list(
                (await s.scalars(select(m.Snapshot).where(m.Snapshot.volume_id == volume.id))).all()
            )
            if not force:
                self._check_deletable(volume, snaps, cascade)
            elif volume.status == m.DELETING and volume.task == m.T_DELETE:
                return
            for snap in snaps:
                start_task(snap, m.T_DELETE, m.DELETING)
            for att in (
                await s.scalars(select(m.Attachment).where(m.Attachment.volume_id == volume.id))
            ).all():
                await s.delete(att)
            for transfer in (
                await s.scalars(select(m.Transfer).where(m.Transfer.volume_id == volume.id))
            ).all():
                await s.delete(transfer)
            if volume.host is None:
                for snap in snaps:
                    await s.delete(snap)
                await s.delete(volume)
                return
            start_task(volume, m.T_DELETE, m.DELETING, {})
            volume.attach_status = m.DETACHED
            host = volume.host
        self.wake(host)

    @staticmethod
    def _check_deletable(volume: m.Volume, snaps: list[m.Snapshot], cascade: bool) -> None:
        if (
            volume.status not in DELETABLE
            or volume.attach_status == m.ATTACHED
            or volume.migration_status
        ):
            raise InvalidVolume(
                "Invalid volume: Volume status must be available or error or error_restoring "
                "or error_extending or error_managing and must not be migrating, attached, "
                "belong to a group, have snapshots, awaiting a transfer, or be disassociated "
                "from snapshots after volume transfer."
            )
        if snaps and not cascade:
            raise InvalidVolume(
                f"Invalid volume: Volume still has {len(snaps)} dependent snapshots."
            )
        busy = [s for s in snaps if s.status not in (m.AVAILABLE, m.ERROR)]
        if busy:
            raise InvalidVolume(
                f"Invalid volume: Snapshot {busy[0].id} must be available or error, "
                f"not {busy[0].status}."
            )

    # -- metadata -------------------------------------------------------------------------

    async def set_metadata(
        self, ctx: RequestContext, volume_id: str, meta: dict[str, str], *, replace: bool,
        field_name: str = "metadata_",
    ) -> dict[str, str]:  # fmt: skip
        async with self.db.transaction() as s:
            volume = await visible_volume(s, ctx, volume_id)
            if volume.status == m.MAINTENANCE:
                raise InvalidVolume("Invalid volume: the volume is in maintenance.")
            current = {} if replace else dict(getattr(volume, field_name))
            current.update(meta)
            setattr(volume, field_name, current)
            return dict(current)

    async def delete_metadata(
        self, ctx: RequestContext, volume_id: str, key: str, field_name: str = "metadata_"
    ) -> None:
        async with self.db.transaction() as s:
            volume = await visible_volume(s, ctx, volume_id)
            current = dict(getattr(volume, field_name))
            if key not in current:
                raise NotFound(f"Volume {volume_id} has no metadata with key {key}.")
            del current[key]
            setattr(volume, field_name, current)


def _at_least(size: int | None, minimum: int, what: str) -> int:
    if size is None:
        return minimum
    if size < minimum:
        raise BadRequest(
            f"Invalid input received: Volume size '{size}'(GB) cannot be smaller than the "
            f"{what} size ({minimum}GB)."
        )
    return size
