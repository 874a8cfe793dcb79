"""The fake driver's live migration, in memory: the guest leaves one fake
driver and arrives in another (possibly in another process), reporting
progress for ``metadata[MIGRATION_SECONDS]`` seconds of its spec."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

from stratus.compute.drivers.base import DriverError, GuestSpec, GuestStatus, Power
from stratus.compute.drivers.fake_host import (
    INCOMING_FAILURE,
    MIGRATION_FAILURE,
    MIGRATION_SECONDS,
    FakeGuest,
    FakeHost,
)
from stratus.compute.drivers.live import (
    IncomingGuest,
    LiveControl,
    LiveProgress,
    LiveResult,
    ProgressCallback,
)


class FakeLiveMigration(FakeHost):
    """The ``LiveMigrationDriver`` methods of the fake driver."""

    async def prepare_incoming(self, spec: GuestSpec) -> IncomingGuest:
        await self._enter("prepare_incoming", spec.uuid)
        if INCOMING_FAILURE in spec.metadata:
            raise DriverError(spec.metadata[INCOMING_FAILURE])
        guest = self.instances.setdefault(spec.uuid, FakeGuest(spec))
        guest.spec, guest.has_disk, guest.power = spec, True, Power.PAUSED
        guest.volumes = {v.serial: v for v in spec.volumes}  # started with them, as qemu
        if guest.pid is None:
            guest.pid = next(self._pids)
        where = f"fake://{self.host.hostname}/{spec.uuid}"
        return IncomingGuest(disk_uri=f"{where}/disk", memory_uri=f"{where}/memory")

    async def live_migrate(
        self, spec: GuestSpec, target: IncomingGuest, progress: ProgressCallback
    ) -> LiveResult:
        """Reports progress for ``spec.metadata[MIGRATION_SECONDS]`` seconds
        (0.2 by default), half disk and half memory, then the guest is gone."""
        await self._enter("live_migrate", spec.uuid)
        guest = self._running(spec.uuid)
        if MIGRATION_FAILURE in spec.metadata:
            raise DriverError(spec.metadata[MIGRATION_FAILURE])
        seconds = float(spec.metadata.get(MIGRATION_SECONDS, "0.2"))
        started = asyncio.get_running_loop().time()
        total = spec.memory_mb * 2**20
        while True:
            done = min((asyncio.get_running_loop().time() - started) / max(seconds, 1e-6), 1.0)
            disk = min(done * 2, 1.0)
            memory = max(done * 2 - 1, 0.0)
            report = LiveProgress(
                "disk" if done < 0.5 else "memory",
                memory_total=total,
                memory_processed=int(total * memory),
                memory_remaining=total - int(total * memory),
                disk_total=2**20,
                disk_processed=int(2**20 * disk),
                disk_remaining=2**20 - int(2**20 * disk),
            )
            if done >= 1.0:
                break
            control = await progress(report)
            if control == LiveControl.ABORT:
                guest.console.append("fake: live migration aborted")
                return LiveResult(False, progress=report)
            if control == LiveControl.FORCE_COMPLETE:
                break
            await asyncio.sleep(0.02)
        guest.power, guest.migrated = Power.PAUSED, True  # stopped here until finish_outgoing
        elapsed = int((asyncio.get_running_loop().time() - started) * 1000)
        return LiveResult(True, total_ms=elapsed, downtime_ms=1, progress=report)

    async def finish_outgoing(self, uuid: str, directory: Path) -> None:
        await self._enter("finish_outgoing", uuid)
        self.instances.pop(uuid, None)
        await asyncio.to_thread(shutil.rmtree, directory, True)

    async def recover_outgoing(self, spec: GuestSpec) -> bool:
        await self._enter("recover_outgoing", spec.uuid)
        guest = self.instances.get(spec.uuid)
        return guest is not None and guest.migrated

    async def finish_incoming(self, spec: GuestSpec, running: bool) -> GuestStatus:
        await self._enter("finish_incoming", spec.uuid)
        guest = self._guest(spec.uuid)
        guest.power = Power.RUNNING if running else Power.PAUSED
        guest.console.append("fake: arrived by live migration")
        return self._status(guest)

    async def abort_incoming(self, uuid: str, directory: Path) -> None:
        await self._enter("abort_incoming", uuid)
        self.instances.pop(uuid, None)
        await asyncio.to_thread(shutil.rmtree, directory, True)
