"""Booting from volumes: block_device_mapping_v2 entries whose destination
is a volume (source ``volume``, ``image``, ``snapshot`` or ``blank``).

The API checks the mappings (``boot_volumes``), records the server with
task ``block_device_mapping`` (the scheduler leaves it alone), then
``plan_boot`` asks Cinder for what it needs as the user: a volume made
from the image or the snapshot (row ``creating``), or a reservation of the
volume named (row ``attaching``); then the server is handed to the
scheduler.  The agent of its host waits for the volumes, connects them and
boots the root volume (``agent/volumes.py``).  When Cinder refuses, the
server is gone and what was made for it is undone: the API answers the
refusal (400 or 404, in Nova's format)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from stratus.common.context import RequestContext
from stratus.common.db import Database, utcnow
from stratus.compute import models as m
from stratus.compute.errors import BadRequest
from stratus.compute.service.volume_client import VolumeClient

log = logging.getLogger(__name__)

SOURCES = ("image", "volume", "snapshot", "blank")


@dataclass(frozen=True)
class BootVolume:
    """A block_device_mapping_v2 entry with destination ``volume``."""

    source_type: str  # image | volume | snapshot | blank
    source_id: str | None
    boot_index: int | None  # 0: the root disk
    size: int | None  # GiB, for a volume made here
    delete_on_termination: bool
    device: str | None = None
    tag: str | None = None


def boot_volumes(mappings: list[Any]) -> list[BootVolume]:
    """Nova's checks of the mappings whose destination is a volume."""
    found = []
    for bdm in mappings:
        if bdm.destination_type != "volume":
            continue
        source = bdm.source_type or ""
        if source not in SOURCES:
            raise BadRequest(f"Invalid block device mapping: unknown source_type {source!r}.")
        if source != "blank" and not bdm.uuid:
            raise BadRequest(f"Invalid block device mapping: a {source} source needs its uuid.")
        if source in ("image", "blank") and not bdm.volume_size:
            raise BadRequest(
                f"Invalid block device mapping: a volume from a{'n' if source == 'image' else ''} "
                f"{source} needs volume_size."
            )
        if bdm.volume_size is not None and bdm.volume_size < 1:
            raise BadRequest("Invalid block device mapping: volume_size must be at least 1.")
        try:
            index = None if bdm.boot_index in (None, "", "none") else int(bdm.boot_index)
        except ValueError as exc:
            raise BadRequest(f"Invalid boot_index {bdm.boot_index!r}.") from exc
        index = None if index is not None and index < 0 else index
        if index == 0 and source == "blank":
            raise BadRequest("Invalid block device mapping: a blank volume cannot boot.")
        found.append(
            BootVolume(
                source,
                bdm.uuid,
                index,
                bdm.volume_size,
                bool(bdm.delete_on_termination),
                bdm.device_name,
                bdm.tag,
            )
        )
    if sum(1 for v in found if v.boot_index == 0) > 1:
        raise BadRequest("Invalid block device mapping: more than one volume has boot_index 0.")
    return found


async def plan_boot(
    db: Database,
    client: VolumeClient | None,
    wake: Callable[[str | None], None],
    ctx: RequestContext,
    server: m.Server,
    volumes: list[BootVolume],
) -> None:
    """Make or reserve the server's volumes, then let it be scheduled."""
    made: list[str] = []  # volumes made here (deleted when the plan fails)
    rows: list[m.VolumeAttachment] = []
    try:
        if client is None:
            raise BadRequest("Block storage is not available in this cloud.")
        letters = iter("abcdefghijklmnopqrstuvwxyz")
        for vol in sorted(volumes, key=lambda v: (v.boot_index is None, v.boot_index or 0)):
            device = vol.device or f"/dev/vd{next(letters)}"
            volume_id, status, size = await _volume_for(client, ctx, server, vol, device, made)
            row = m.VolumeAttachment(
                server_id=server.id,
                project_id=server.project_id,
                volume_id=volume_id,
                device=device,
                tag=vol.tag,
                boot_index=vol.boot_index,
                delete_on_termination=vol.delete_on_termination,
                source_type=vol.source_type,
                source_id=vol.source_id,
                volume_size=size,
                status=status,
            )
            async with db.transaction() as s:
                s.add(row)
            rows.append(row)
            if vol.source_type == "volume":
                await _reserve(db, client, ctx, server, row)
    except Exception:
        await _undo(db, client, server, rows, made)
        raise
    async with db.transaction() as s:
        stored_server = await s.get(m.Server, server.id)
        if stored_server is not None and stored_server.task_state == "block_device_mapping":
            stored_server.task_state = "scheduling"
    wake(None)


async def _volume_for(
    client: VolumeClient,
    ctx: RequestContext,
    server: m.Server,
    vol: BootVolume,
    device: str,
    made: list[str],
) -> tuple[str, str, int | None]:
    """The volume behind one mapping, its attachment's first status and its
    size: the one named (available, or multi-attach), or one made here
    (from an image, a snapshot or blank; noted in ``made``)."""
    if vol.source_type == "volume":
        info = await client.get(ctx, vol.source_id or "")
        if info.status != "available" and not info.multiattach:
            raise BadRequest(
                f"Invalid volume: volume {info.id} status must be 'available', not '{info.status}'"
            )
        return info.id, m.VOL_ATTACHING, info.size
    volume_id = await client.create_volume(
        ctx,
        vol.size,
        name=f"{server.name}-{device.rsplit('/', 1)[-1]}",
        image_id=vol.source_id if vol.source_type == "image" else None,
        snapshot_id=vol.source_id if vol.source_type == "snapshot" else None,
    )
    made.append(volume_id)
    return volume_id, m.VOL_CREATING, vol.size


async def _reserve(
    db: Database,
    client: VolumeClient,
    ctx: RequestContext,
    server: m.Server,
    row: m.VolumeAttachment,
) -> None:
    """Reserve an existing volume for the server; its attachment id noted."""
    attachment = await client.reserve(ctx, row.volume_id, server.id)
    async with db.transaction() as s:
        stored = await s.get(m.VolumeAttachment, row.id)
        if stored is not None:
            stored.attachment_id = attachment
            row.attachment_id = attachment


async def _undo(
    db: Database,
    client: VolumeClient | None,
    server: m.Server,
    rows: list[m.VolumeAttachment],
    made: list[str],
) -> None:
    """The plan failed: the server goes, and what was reserved or made for it."""
    for row in rows:
        if row.attachment_id and client is not None:
            await client.release(row.attachment_id)
    if client is not None:
        for volume_id in made:
            try:
                await client.delete_volume(volume_id)
            except Exception as exc:  # a volume still being made: its owner deletes it
                log.warning("compute: could not delete volume %s: %s", volume_id, exc)
    async with db.transaction() as s:
        for row in rows:
            stored = await s.get(m.VolumeAttachment, row.id)
            if stored is not None:
                await s.delete(stored)
        stored_server = await s.get(m.Server, server.id)
        if stored_server is not None:
            now = utcnow()
            stored_server.vm_state, stored_server.task_state = m.DELETED, None
            stored_server.deleted_at = stored_server.terminated_at = now
