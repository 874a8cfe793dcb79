"""The database agent: one per host, on the shared reconcile loop.  It runs
each instance's server (isolation, port, volume, the datastore's server) as
the rows say, watches the servers (a dead one is started again), and at
start removes what belongs to no instance."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from stratus.common import logs
from stratus.common.reconciler import Reconciler, Timing
from stratus.database import models as m
from stratus.database.agent.backups import BackupWork
from stratus.database.agent.instances import InstanceWork
from stratus.database.agent.logs import LogWork
from stratus.database.agent.recorder import Recorder
from stratus.database.agent.replicasets import ReplicaSets
from stratus.database.drivers.base import Datastore, Isolation

log = logging.getLogger(__name__)


class DatabaseAgent:
    def __init__(
        self,
        host: str,
        zone: str,
        recorder: Recorder,
        datastores: dict[str, Datastore],
        isolation: Isolation,
        instances: InstanceWork,
        backups: BackupWork,
        logs: LogWork,
        timing: Timing,
        closers: list[Any],
    ):
        self.host = host
        self.zone = zone
        self.rec = recorder
        self.datastores = datastores
        self.isolation = isolation
        self.instances = instances
        self.replica_sets = ReplicaSets(instances)
        self.backups = backups
        self.logs = logs
        self.closers = closers
        self.loop = Reconciler(f"database-agent-{host}", self, timing)

    # -- the loop's face --------------------------------------------------------------------

    def wake(self) -> None:
        self.loop.wake()

    async def start(self) -> None:
        await self.loop.start()

    async def stop(self) -> None:
        await self.loop.stop()
        for closer in self.closers:
            await closer.close()

    async def idle(self, timeout: float = 30.0) -> None:
        await self.loop.idle(timeout)

    # -- Workflows --------------------------------------------------------------------------

    def versions(self) -> dict[str, str]:
        return {name: v for name, store in self.datastores.items() if (v := store.version())}

    async def register(self) -> None:
        await self.rec.heartbeat(self.zone, self.versions())

    async def heartbeat(self) -> None:
        await self.register()

    async def adopt(self) -> None:
        rows = {i.id: i for i in await self.rec.instances()}
        for orphan in sorted(await self.isolation.present() - set(rows)):
            log.warning("database: removing what instance %s left on this host: it belongs "
                        "to no instance", orphan)  # fmt: skip
            await self.isolation.remove(orphan)
        for inst in rows.values():
            if inst.task is None and inst.status in (m.ACTIVE, m.BACKUP):
                try:
                    await self.instances.watch(inst)
                except Exception:
                    log.exception("database: instance %s could not be adopted", inst.id)

    async def pending(self) -> Iterable[str]:
        return await self.rec.pending()

    async def work(self, key: str) -> None:
        kind, _, ident = key.partition(":")
        if kind == "b":
            backup = await self.rec.backup(ident)
            if backup is not None:
                logs.bind_request_id(backup.request_id)
                await self.backups.work(backup)
            return
        inst = await self.rec.instance(ident)
        if inst is None:
            return
        if kind == "l":
            await self.logs.work(inst)
            return
        logs.bind_request_id(inst.request_id)
        work = self.instances
        if inst.task == m.T_DELETE:
            await work.delete(inst)
        elif inst.task == m.T_BUILD:
            await work.build(inst)
        elif inst.task == m.T_RESTART:
            await work.restart(inst)
        elif inst.task == m.T_RESIZE_FLAVOR:
            await work.resize_flavor(inst)
        elif inst.task == m.T_RESIZE_VOLUME:
            await work.resize_volume(inst)
        elif inst.task == m.T_CONFIGURE:
            await work.configure(inst)
        elif inst.task == m.T_DETACH:
            await self.replica_sets.detach(inst)
        elif inst.task in (m.T_PROMOTE, m.T_EJECT):
            await self.replica_sets.promote(inst, eject=inst.task == m.T_EJECT)
        elif inst.task is None and inst.status in (m.ACTIVE, m.BACKUP):
            await work.sync_accounts(inst)

    async def resync(self) -> None:
        for inst in await self.rec.instances():
            if inst.task is None and inst.status in (m.ACTIVE, m.BACKUP):
                try:
                    await self.instances.watch(inst)
                except Exception:
                    log.exception("database: instance %s: the health check failed", inst.id)
