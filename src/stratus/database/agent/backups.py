"""The work on one backup: stream the server's backup into the object store
(its size and SHA-256 recorded), full or incremental on top of its parent
(with what the datastore's tool said of the parent), or delete it.  A
backup a crash stopped is made again from the start (the store first
deletes the segments the killed attempt left); the instance returns to
ACTIVE either way, and a failed backup's segments are deleted."""

from __future__ import annotations

import logging

from stratus.database import models as m
from stratus.database.agent.instances import InstanceWork
from stratus.database.agent.recorder import Recorder
from stratus.database.drivers.base import BackupStore, ByteStream, DriverError

log = logging.getLogger(__name__)


class BackupWork:
    def __init__(self, recorder: Recorder, instances: InstanceWork, store: BackupStore):
        self.rec = recorder
        self.instances = instances
        self.store = store

    async def work(self, backup: m.Backup) -> None:
        if backup.deleting:
            # A failed backup has no location, but may have left segments.
            await self.store.delete(backup.container, backup.location or _name(backup))
            await self.rec.remove_backup(backup.id)
            log.info("database: backup %s deleted", backup.id)
            return
        inst = await self.rec.instance(backup.instance_id)
        name = _name(backup)
        if inst is None:
            # What an attempt a crash stopped stored goes with it.
            await self._discard(backup, name)
            await self.rec.update_backup(backup.id, status=m.B_FAILED,
                                         fail_reason="the instance is gone")  # fmt: skip
            return
        await self.rec.update_backup(backup.id, status=m.B_BUILDING)
        outcome: dict[str, object] = {}
        try:
            parent_meta = None
            if backup.parent_id is not None:
                parent = await self.rec.backup(backup.parent_id)
                if parent is None or parent.deleting or parent.status != m.B_COMPLETED:
                    raise DriverError(f"the parent backup {backup.parent_id} is gone")
                parent_meta = parent.meta or {}
            store = self.instances.datastore(inst)
            place = self.instances.places.get(inst.id) or await self.instances.place(inst)
            try:
                # The databases and users asked for before the backup are in it.
                await self.instances.accounts(inst, place)
            except DriverError as exc:
                log.warning("database: backup %s: the instance's accounts not applied first: %s",
                            backup.id, exc)  # fmt: skip

            async def sink(stream: ByteStream) -> None:
                size, digest = await self.store.put(backup.container, name, stream,
                                                    segmented=True)  # fmt: skip
                outcome.update(size=size, checksum=digest)

            outcome["meta"] = await store.backup(
                place, await self.instances.spec(inst), sink, parent_meta
            )
        except DriverError as exc:
            log.warning("database: backup %s failed: %s", backup.id, exc)
            await self._discard(backup, name)
            await self.rec.update_backup(backup.id, status=m.B_FAILED, fail_reason=str(exc))
        else:
            await self.rec.update_backup(
                backup.id, status=m.B_COMPLETED, location=name, fail_reason=None, **outcome
            )
            log.info("database: backup %s of %s: %s bytes", backup.id, inst.id, outcome.get("size"))
        finally:
            await self.rec.backup_over(inst.id)

    async def _discard(self, backup: m.Backup, name: str) -> None:
        """What a failed attempt stored (segments, a manifest), best effort:
        deleting the backup later tries again."""
        try:
            await self.store.delete(backup.container, name)
        except Exception as exc:  # the store down: the failure stands as it is
            log.warning("database: backup %s: what it stored is not deleted: %s", backup.id, exc)


def _name(backup: m.Backup) -> str:
    return f"{backup.id}.{'tar' if backup.datastore == 'postgresql' else 'xbstream'}"
