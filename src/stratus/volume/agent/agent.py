"""The volume agent of one host, on the loop every agent shares
(``common/reconciler.py``): it registers its backend, finds the volumes,
snapshots and backups of its host that have work, hands each to its
workflow, and at start puts right what a crash left: interrupted work ends
in ``available``, ``in-use`` or ``error`` with its reason, and files that
belong to nothing are removed and logged."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterable

from sqlalchemy import select

from stratus.common.db import Database, utcnow
from stratus.common.reconciler import Reconciler, Timing
from stratus.volume import models as m
from stratus.volume.agent.backups import BackupWork
from stratus.volume.agent.exports import ExportWork
from stratus.volume.agent.recorder import Recorder
from stratus.volume.agent.volumes import VolumeWork
from stratus.volume.drivers.base import BackupStore, VolumeDriver

log = logging.getLogger(__name__)

INTERRUPTED = "{what} was interrupted when the volume agent of host {host} stopped."


class VolumeAgent:
    def __init__(
        self,
        db: Database,
        *,
        host: str,
        backend: str,
        zone: str,
        driver: VolumeDriver,
        store: BackupStore,
        volumes: VolumeWork,
        backups: BackupWork,
        recorder: Recorder,
        over_subscription: float,
        timing: Timing = Timing(),
        closers: Iterable[object] = (),
        exports: ExportWork | None = None,
    ):
        self.db = db
        self.host = host
        self.backend = backend
        self.zone = zone
        self.driver = driver
        self.store = store
        self.volumes = volumes
        self.backups = backups
        self.rec = recorder
        self.over_subscription = over_subscription
        self.loop = Reconciler(f"volume-agent-{host}", self, timing)
        self.closers = list(closers)
        self.exports = exports  # None: a backend without network exports

    def wake(self) -> None:
        self.loop.wake()

    async def start(self) -> None:
        await self.driver.start()
        await self.loop.start()

    async def stop(self) -> None:
        await self.loop.stop()
        for closer in self.closers:
            await closer.close()  # type: ignore[attr-defined]

    # -- Workflows ------------------------------------------------------------------------

    async def register(self) -> None:
        cap = await self.driver.capacity()
        async with self.db.transaction() as s:
            row = await s.get(m.VolumeHost, self.rec.backend)
            if row is None:
                row = m.VolumeHost(
                    host=self.rec.backend, backend=self.backend, driver=self.driver.name
                )
                s.add(row)
            row.driver = self.driver.name
            row.availability_zone = self.zone
            row.capacity_gb, row.free_gb = cap.total_gb, cap.free_gb
            row.capabilities = {
                "capabilities": sorted(str(c) for c in self.driver.capabilities),
                "max_over_subscription_ratio": self.over_subscription,
                "thin_provisioning_support": True,
                "multiattach": True,
                "allocated_capacity_gb": cap.allocated_gb,
            }
            if self.exports is not None:
                # the compute hosts that open its files; others get exports
                row.capabilities["local_hosts"] = sorted(self.exports.local_hosts)
            row.heartbeat = utcnow()
        log.info(
            "volume: host %s up (%s, %d GiB free)", self.rec.backend, self.driver.name, cap.free_gb
        )

    async def heartbeat(self) -> None:
        async with self.db.transaction() as s:
            row = await s.get(m.VolumeHost, self.rec.backend)
            if row is not None:
                row.heartbeat = utcnow()

    async def resync(self) -> None:
        cap = await self.driver.capacity()
        async with self.db.transaction() as s:
            row = await s.get(m.VolumeHost, self.rec.backend)
            if row is not None:
                row.capacity_gb, row.free_gb = cap.total_gb, cap.free_gb
                row.heartbeat = utcnow()

    async def pending(self) -> Iterable[str]:
        async with self.db.session() as s:
            volumes = await s.scalars(
                select(m.Volume.id).where(self.rec.mine(), m.Volume.task.is_not(None))
            )
            keys = [f"v:{v}" for v in volumes]
            snaps = await s.scalars(
                select(m.Snapshot.id)
                .join(m.Volume, m.Volume.id == m.Snapshot.volume_id)
                .where(self.rec.mine(), m.Snapshot.task.is_not(None))
            )
            keys += [f"s:{x}" for x in snaps]
            backups = await s.scalars(
                select(m.Backup.id).where(m.Backup.host == self.host, m.Backup.task.is_not(None))
            )
            keys += [f"b:{b}" for b in backups]
        if self.exports is not None:
            keys += await self.exports.pending(self.rec.mine())
        return keys

    async def work(self, key: str) -> None:
        kind, _, row_id = key.partition(":")
        if kind == "v":
            volume = await self.rec.load(m.Volume, row_id)
            if volume is not None and volume.task:
                await self.volumes.run(volume)
        elif kind == "e" and self.exports is not None:
            await self.exports.reconcile(row_id)
        elif kind == "s":
            snap = await self.rec.load(m.Snapshot, row_id)
            if snap is not None and snap.task:
                await self.volumes.snapshot(snap)
        else:
            backup = await self.rec.load(m.Backup, row_id)
            if backup is not None and backup.task:
                await self.backups.run(backup)

    async def adopt(self) -> None:
        """Interrupted work ends cleanly; what belongs to nothing goes."""
        await self._interrupted_volumes()
        await self._interrupted_backups()
        await self._orphans()

    async def _interrupted_volumes(self) -> None:
        async with self.db.session() as s:
            rows = list(
                (
                    await s.scalars(
                        select(m.Volume).where(self.rec.mine(), m.Volume.task.is_not(None))
                    )
                ).all()
            )
        for volume in rows:
            if not volume.task_args.get("started") and volume.task != m.T_EXTEND:
                continue  # never begun: the loop does it now
            what = {m.T_CREATE: "Creating the volume", m.T_UPLOAD: "Uploading the volume",
                    m.T_RESTORE: "Restoring a backup into the volume",
                    m.T_EXTEND: "Extending the volume"}.get(volume.task or "", "The work")  # fmt: skip
            reason = INTERRUPTED.format(what=what, host=self.host)
            if volume.task == m.T_CREATE:
                await self.driver.delete(volume.id)
                await self.rec.fail(volume, m.ERROR, reason, "VOLUME_000008", task_args={})
            elif volume.task == m.T_EXTEND:
                await self._interrupted_extend(volume, reason)
            elif volume.task == m.T_UPLOAD:
                await self.volumes.images.delete(
                    volume.task_args["image_id"]
                ) if self.volumes.images else None
                await self.rec.fail(
                    volume,
                    volume.previous_status or m.AVAILABLE,
                    reason,
                    "VOLUME_000008",
                    task_args={},
                )
            elif volume.task == m.T_RESTORE:
                await self.rec.fail(volume, m.ERROR, reason, "VOLUME_000008", task_args={})
                await self.rec.set_backup_status_if(
                    volume.task_args.get("backup_id", ""), "restoring", m.AVAILABLE
                )

    async def _interrupted_extend(self, volume: m.Volume, reason: str) -> None:
        new_size = int(volume.task_args.get("new_size", volume.size))
        size = await self.driver.size_of(volume.id)
        back = volume.previous_status or m.AVAILABLE
        if size is not None and size >= new_size << 30:
            await self.rec.update(volume, size=new_size, status=back, task=None, task_args={})
        else:
            await self.rec.fail(volume, back, reason, "VOLUME_000008", task_args={})

    async def _interrupted_backups(self) -> None:
        async with self.db.session() as s:
            rows = list(
                (await s.scalars(
                    select(m.Backup).where(m.Backup.host == self.host, m.Backup.task == m.T_CREATE)
                )).all()
            )  # fmt: skip
        for backup in rows:
            if not backup.task_args.get("started"):
                continue
            reason = INTERRUPTED.format(what="Creating the backup", host=self.host)
            if backup.service_metadata:
                await self.backups.discard(backup, backup.service_metadata)
            await self.rec.fail(backup, m.ERROR, reason, "BACKUP_000005", resource="BACKUP")
            back = backup.task_args.get("volume_status", m.AVAILABLE)
            await self.rec.set_volume_status_if(backup.volume_id, m.BACKING_UP, back)

    async def _orphans(self) -> None:
        inventory = await self.driver.inventory()
        async with self.db.session() as s:
            volumes = set(await s.scalars(select(m.Volume.id).where(self.rec.mine())))
            snaps = set(await s.scalars(select(m.Snapshot.id)))
        for volume_id in sorted(inventory.volumes - volumes):
            log.warning(
                "volume: removing the file of volume %s, which no volume of %s owns",
                volume_id,
                self.host,
            )
            await self.driver.delete(volume_id)
        for volume_id, snapshot_id in sorted(inventory.snapshots):
            if snapshot_id not in snaps and volume_id in volumes | {""}:
                log.warning("volume: removing snapshot %s, which no snapshot owns", snapshot_id)
                await self.driver.remove_snapshot_orphan(volume_id, snapshot_id)
        for path in inventory.scratch:
            log.warning("volume: removing %s, left by an interrupted operation", path)
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
