"""The agent's work on volumes and snapshots, by task: create (empty, from
an image, a snapshot, another volume or a backup), delete, extend, upload
to an image, revert to a snapshot, restore a backup; snapshot create and
delete.  Each ends by recording the outcome (compare-and-swap); a failure
records the error status, its reason and a user message."""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from stratus.common.db import utcnow
from stratus.volume import models as m
from stratus.volume.agent.images import ImageTransfer
from stratus.volume.agent.recorder import Recorder
from stratus.volume.drivers.base import (
    DriverError,
    HeldOpen,
    SnapshotRef,
    VolumeDriver,
    VolumeRef,
)

log = logging.getLogger(__name__)

# A volume type's extra spec naming the image format of its new, empty
# volumes on a file backend ("raw" or "qcow2").
FORMAT_SPEC = "stratus:file_format"

# Told when an attached volume grew, so the guest can see it (Nova's
# "volume-extended" external event; compute's side does the resize).
ExtendHook = Callable[[m.Volume, int], Awaitable[None]]
Restorer = Callable[[m.Volume, str], Awaitable[None]]


def ref(volume: m.Volume, size: int | None = None) -> VolumeRef:
    return VolumeRef(volume.id, size if size is not None else volume.size)


def snap_ref(snap: m.Snapshot) -> SnapshotRef:
    return SnapshotRef(snap.id, snap.volume_id, snap.size)


class VolumeWork:
    def __init__(
        self,
        driver: VolumeDriver,
        recorder: Recorder,
        images: ImageTransfer | None,
        restore: Restorer,
        on_extended: ExtendHook | None = None,
    ):
        self.driver = driver
        self.rec = recorder
        self.images = images
        self.restore_backup = restore
        self.on_extended = on_extended
        # Grows a volume a network export holds open (agent/exports.py);
        # False when none does.  Set by the runner where exports exist.
        self.grow_exported: Callable[[VolumeRef, int], Awaitable[bool]] | None = None
        # An export of a volume grown in place made to show its new size.
        self.exports_resized: Callable[[VolumeRef], Awaitable[None]] | None = None
        # Whether a volume's consumer runs its format over an export of the
        # file's bytes (a live move off the volume's host): only that QEMU
        # may grow the image, even in the moment no process locks the file.
        self.consumer_grows: Callable[[VolumeRef], bool] | None = None

    async def run(self, volume: m.Volume) -> None:
        handler = {
            m.T_CREATE: self.create,
            m.T_DELETE: self.delete,
            m.T_EXTEND: self.extend,
            m.T_UPLOAD: self.upload,
            m.T_REVERT: self.revert,
            m.T_RESTORE: self.restore,
        }.get(volume.task or "")
        if handler is None:
            await self.rec.fail(volume, m.ERROR, f"unknown task {volume.task}", "VOLUME_000000")
            return
        await handler(volume)

    async def started(self, row: Any) -> bool:
        """Mark the work begun (so a restart knows it was interrupted)."""
        return await self.rec.update(row, task_args={**row.task_args, "started": True})

    # -- create ---------------------------------------------------------------------------

    async def create(self, volume: m.Volume) -> None:
        args = volume.task_args
        if not args.get("started") and not await self.started(volume):
            return
        source = args.get("source", "empty")
        try:
            await self._make(volume, source, args)
            location = self.driver.connection(volume.id, {})
        except DriverError as exc:
            await self.driver.delete(volume.id)
            await self.rec.fail(
                volume, m.ERROR, f"Creating the volume failed: {exc}", "VOLUME_000001"
            )
            if source == "backup":
                await self.rec.set_backup_status_if(args["backup_id"], "restoring", m.AVAILABLE)
            return
        done = await self.rec.update(
            volume,
            status=m.AVAILABLE,
            task=None,
            task_args={},
            launched_at=utcnow(),
            provider_location={"driver_volume_type": location.driver_volume_type, **location.data},
        )
        if source == "backup":
            await self.rec.set_backup_status_if(args["backup_id"], "restoring", m.AVAILABLE)
        if not done and await self.rec.load(m.Volume, volume.id) is None:
            await self.driver.delete(volume.id)  # deleted meanwhile: no orphan

    async def _make(self, volume: m.Volume, source: str, args: dict[str, Any]) -> None:
        if source == "image":
            await self._from_image(volume, args["image_id"])
        elif source == "snapshot":
            snap = await self.rec.load(m.Snapshot, volume.snapshot_id or "")
            if snap is None:
                raise DriverError(f"snapshot {volume.snapshot_id} no longer exists")
            await self.driver.create_from_snapshot(ref(volume), snap_ref(snap))
        elif source == "volume":
            src = await self.rec.load(m.Volume, volume.source_volid or "")
            if src is None:
                raise DriverError(f"source volume {volume.source_volid} no longer exists")
            await self.driver.create_from_volume(ref(volume), ref(src))
        elif source == "backup":
            await self.driver.create(ref(volume))
            await self.restore_backup(volume, args["backup_id"])
        else:
            vtype = await self.rec.load(m.VolumeType, volume.volume_type_id or "")
            fmt = (vtype.extra_specs or {}).get(FORMAT_SPEC) if vtype is not None else None
            await self.driver.create(VolumeRef(volume.id, volume.size, fmt))

    async def _from_image(self, volume: m.Volume, image_id: str) -> None:
        if self.images is None:
            raise DriverError("this agent cannot reach the image service")
        scratch = self.driver.scratch(f"image-{volume.id}-{uuid.uuid4().hex[:8]}")
        await self.rec.update(volume, status=m.DOWNLOADING)
        try:
            fmt = await self.images.download(image_id, scratch)
            await self.rec.update(volume, status=m.CREATING)
            await self.driver.create_from_image(ref(volume), scratch, fmt)
        finally:
            scratch.unlink(missing_ok=True)

    # -- delete, extend ---------------------------------------------------------------------

    async def delete(self, volume: m.Volume) -> None:
        try:
            for snap in await self.rec.snapshots_of(volume.id):
                await self.driver.delete_snapshot(snap_ref(snap))
                await self.rec.remove(snap)
            await self.driver.delete(volume.id)
        except DriverError as exc:
            await self.rec.fail(
                volume, m.ERROR_DELETING, f"Deleting the volume failed: {exc}", "VOLUME_000003"
            )
            return
        await self.rec.remove(volume)

    async def extend(self, volume: m.Volume) -> None:
        new_size = int(volume.task_args["new_size"])
        back = volume.previous_status or m.AVAILABLE
        try:
            try:
                if back == m.IN_USE and self.consumer_grows and self.consumer_grows(ref(volume)):
                    raise HeldOpen(f"volume {volume.id} is grown by the QEMU that runs its format")
                await self.driver.extend(ref(volume), new_size)
                if back == m.IN_USE and self.exports_resized is not None:
                    await self.exports_resized(ref(volume))
            except HeldOpen:
                if back != m.IN_USE:
                    raise
                if self.grow_exported is not None and await self.grow_exported(
                    ref(volume), new_size
                ):
                    log.info("volume %s: grown through its network export", volume.id)
                else:
                    # The guest's QEMU holds the file: compute grows it
                    # (block_resize) once told below; the size recorded is the
                    # one asked for.
                    log.info("volume %s: held open by its server, which grows it", volume.id)
        except DriverError as exc:
            await self.rec.fail(
                volume, m.ERROR_EXTENDING, f"Extending the volume failed: {exc}", "VOLUME_000004"
            )
            return
        await self.rec.update(volume, size=new_size, status=back, task=None, task_args={})
        if back == m.IN_USE and self.on_extended is not None:
            with contextlib.suppress(Exception):
                await self.on_extended(volume, new_size)

    # -- upload, revert, restore ------------------------------------------------------------

    async def upload(self, volume: m.Volume) -> None:
        args = volume.task_args
        back = volume.previous_status or m.AVAILABLE
        if not args.get("started") and not await self.started(volume):
            return
        scratch = self.driver.scratch(f"upload-{volume.id}-{uuid.uuid4().hex[:8]}")
        try:
            if self.images is None:
                raise DriverError("this agent cannot reach the image service")
            await self.driver.export(volume.id, args["disk_format"], scratch)
            await self.images.upload(args["image_id"], scratch)
        except DriverError as exc:
            if self.images is not None:
                await self.images.delete(args["image_id"])
            await self.rec.fail(
                volume, back, f"Uploading the volume to an image failed: {exc}", "VOLUME_000005"
            )
            return
        finally:
            scratch.unlink(missing_ok=True)
        await self.rec.update(volume, status=back, task=None, task_args={})

    async def revert(self, volume: m.Volume) -> None:
        snap = await self.rec.load(m.Snapshot, volume.task_args.get("snapshot_id", ""))
        try:
            if snap is None:
                raise DriverError("the snapshot no longer exists")
            await self.driver.revert(ref(volume), snap_ref(snap))
        except DriverError as exc:
            await self.rec.fail(
                volume, m.ERROR, f"Reverting the volume failed: {exc}", "VOLUME_000006"
            )
            return
        finally:
            if snap is not None:
                await self.rec.update(snap, status=m.AVAILABLE)
        await self.rec.update(volume, status=m.AVAILABLE, task=None, task_args={})

    async def restore(self, volume: m.Volume) -> None:
        backup_id = volume.task_args["backup_id"]
        if not volume.task_args.get("started") and not await self.started(volume):
            return
        try:
            await self.restore_backup(volume, backup_id)
        except DriverError as exc:
            await self.rec.fail(
                volume, m.ERROR_RESTORING, f"Restoring the backup failed: {exc}", "VOLUME_000007"
            )
            await self.rec.set_backup_status_if(backup_id, "restoring", m.AVAILABLE)
            return
        await self.rec.update(volume, status=m.AVAILABLE, task=None, task_args={})
        await self.rec.set_backup_status_if(backup_id, "restoring", m.AVAILABLE)

    # -- snapshots -----------------------------------------------------------------------------

    async def snapshot(self, snap: m.Snapshot) -> None:
        if snap.task == m.T_DELETE:
            try:
                await self.driver.delete_snapshot(snap_ref(snap))
            except DriverError as exc:
                await self.rec.fail(
                    snap,
                    m.ERROR_DELETING,
                    f"Deleting the snapshot failed: {exc}",
                    "SNAPSHOT_000002",
                    resource="SNAPSHOT",
                )
                return
            await self.rec.remove(snap)
            return
        try:
            await self.driver.snapshot(snap_ref(snap))
        except DriverError as exc:
            await self.rec.fail(
                snap,
                m.ERROR,
                f"Creating the snapshot failed: {exc}",
                "SNAPSHOT_000001",
                resource="SNAPSHOT",
            )
            return
        if not await self.rec.update(snap, status=m.AVAILABLE, task=None, progress="100%"):
            if await self.rec.load(m.Snapshot, snap.id) is None:
                await self.driver.delete_snapshot(snap_ref(snap))
