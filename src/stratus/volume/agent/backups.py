"""The agent's work on backups: create (full or incremental, from the
volume or one of its snapshots), delete, import a record, and restoring
a backup into a volume of this host."""

from __future__ import annotations

import logging
import uuid

from stratus.common.db import utcnow
from stratus.volume import models as m
from stratus.volume.agent import chunked
from stratus.volume.agent.recorder import Recorder
from stratus.volume.drivers.base import BackupStore, DriverError, SnapshotRef, VolumeDriver

log = logging.getLogger(__name__)


class BackupWork:
    def __init__(
        self,
        driver: VolumeDriver,
        store: BackupStore,
        recorder: Recorder,
        *,
        chunk_size: int,
        compression: str,
    ):
        self.driver = driver
        self.store = store
        self.rec = recorder
        self.chunk_size = chunk_size
        self.compression = compression

    async def run(self, backup: m.Backup) -> None:
        if backup.task == m.T_DELETE:
            await self.delete(backup)
        elif backup.task == "import":
            await self.import_record(backup)
        else:
            await self.create(backup)

    async def create(self, backup: m.Backup) -> None:
        args = backup.task_args
        back = args.get("volume_status", m.AVAILABLE)
        volume = await self.rec.load(m.Volume, backup.volume_id)
        if volume is None:
            await self.rec.fail(
                backup, m.ERROR, "the volume no longer exists", "BACKUP_000001", resource="BACKUP"
            )
            return
        when = utcnow()
        prefix = chunked.prefix_for(volume.id, backup.id, backup.availability_zone, when)
        if not await self.rec.update(
            backup, service_metadata=prefix, task_args={**args, "started": True}
        ):
            return
        temporary: SnapshotRef | None = None
        try:
            parent = await self._parent_meta(backup)
            source = await self._source(backup, volume, back)
            if source is not None and source.id.startswith("backup-tmp-"):
                temporary = source
            async with self.driver.reader(volume.id, source) as reader:
                meta = await chunked.backup(
                    reader,
                    self.store,
                    backup.container or "",
                    prefix,
                    chunk_size=self.chunk_size,
                    compression=self.compression,
                    parent=parent,
                    header=self._header(backup),
                )
        except DriverError as exc:
            await self.discard(backup, prefix)
            await self.rec.fail(
                backup,
                m.ERROR,
                f"Creating the backup failed: {exc}",
                "BACKUP_000002",
                resource="BACKUP",
            )
            await self.rec.set_volume_status_if(volume.id, m.BACKING_UP, back)
            return
        finally:
            if temporary is not None:
                await self.driver.delete_snapshot(temporary)
        stored = {
            c["object"] for c in meta["chunks"] if c["object"] and c["object"].startswith(prefix)
        }
        await self.rec.update(
            backup,
            status=m.AVAILABLE,
            task=None,
            task_args={},
            object_count=len(stored) + 1,
            data_timestamp=when,
        )
        await self.rec.set_volume_status_if(volume.id, m.BACKING_UP, back)

    async def _source(self, backup: m.Backup, volume: m.Volume, back: str) -> SnapshotRef | None:
        """What to read: the named snapshot, a temporary one of an in-use
        volume (its data keeps changing), or the volume itself."""
        if backup.snapshot_id:
            snap = await self.rec.load(m.Snapshot, backup.snapshot_id)
            if snap is None:
                raise DriverError(f"snapshot {backup.snapshot_id} no longer exists")
            return SnapshotRef(snap.id, volume.id, snap.size)
        if back == m.IN_USE:
            temporary = SnapshotRef(f"backup-tmp-{uuid.uuid4().hex}", volume.id, volume.size)
            await self.driver.snapshot(temporary)
            return temporary
        return None

    async def _parent_meta(self, backup: m.Backup) -> dict[str, object] | None:
        if not backup.parent_id:
            return None
        parent = await self.rec.load(m.Backup, backup.parent_id)
        if parent is None or not parent.service_metadata:
            raise DriverError(f"the parent backup {backup.parent_id} is gone")
        return await chunked.load_metadata(
            self.store, parent.container or "", parent.service_metadata
        )

    @staticmethod
    def _header(backup: m.Backup) -> dict[str, object]:
        return {
            "backup_id": backup.id,
            "volume_id": backup.volume_id,
            "backup_name": backup.name,
            "backup_description": backup.description,
            "created_at": backup.created_at.isoformat(),
            "parent_id": backup.parent_id,
        }

    async def discard(self, backup: m.Backup, prefix: str) -> None:
        try:
            await chunked.delete(self.store, backup.container or "", prefix)
        except DriverError as exc:
            log.warning("volume: could not remove the objects of backup %s: %s", backup.id, exc)

    async def delete(self, backup: m.Backup) -> None:
        try:
            if backup.service_metadata:
                await chunked.delete(self.store, backup.container or "", backup.service_metadata)
        except DriverError as exc:
            await self.rec.fail(
                backup,
                m.ERROR,
                f"Deleting the backup failed: {exc}",
                "BACKUP_000003",
                resource="BACKUP",
            )
            return
        await self.rec.remove(backup)

    async def import_record(self, backup: m.Backup) -> None:
        try:
            meta = await chunked.load_metadata(
                self.store, backup.container or "", backup.service_metadata or ""
            )
        except DriverError as exc:
            await self.rec.fail(
                backup,
                m.ERROR,
                f"Importing the backup failed: {exc}",
                "BACKUP_000004",
                resource="BACKUP",
            )
            return
        size = -(-int(meta.get("volume_size", 0)) // (1 << 30))
        await self.rec.update(backup, status=m.AVAILABLE, task=None, size=size or backup.size)

    async def restore_into(self, volume: m.Volume, backup_id: str) -> None:
        """Write a backup into a volume of this host (raises DriverError)."""
        backup = await self.rec.load(m.Backup, backup_id)
        if backup is None or not backup.service_metadata:
            raise DriverError(f"backup {backup_id} no longer exists")
        meta = await chunked.load_metadata(
            self.store, backup.container or "", backup.service_metadata
        )
        async with self.driver.writer(volume.id) as writer:
            await chunked.restore(writer, self.store, backup.container or "", meta)
