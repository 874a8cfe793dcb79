"""Replica sets: a replica detached, promoted to its set's source
(``promote_to_replica_source``), or promoted when the source is lost
(``eject_replica_source``: the replica holding most of the source's changes).
Each change of who is the source is one transaction of the recorder's."""

from __future__ import annotations

import logging

from stratus.database import models as m
from stratus.database.agent.instances import InstanceWork
from stratus.database.agent.specs import replication_user
from stratus.database.drivers.base import DriverError

log = logging.getLogger(__name__)


class ReplicaSets:
    def __init__(self, work: InstanceWork):
        self.work = work
        self.rec = work.rec

    async def detach(self, inst: m.Instance) -> None:
        """A replica stops following its source and takes writes; its
        databases and users become rows of its own."""
        source_id = inst.replica_of_id
        try:
            store, place = self.work.datastore(inst), await self.work.place(inst)
            spec = await self.work.spec(inst)
            await store.start(place, spec)
            await store.detach_replica(place, spec)
            dbs, users = await store.accounts(place, spec)
        except DriverError as exc:
            await self.rec.fail(inst, f"detach failed: {exc}")
            return
        if not await self.rec.update(inst, status=m.ACTIVE, task=None, replica_of_id=None):
            return
        await self.rec.adopt_accounts(
            inst.id, dbs, [(u.name, u.host, list(u.databases)) for u in users]
        )
        await self.work.forget(source_id, inst.id)
        log.info("database: replica %s detached from %s", inst.id, source_id)

    async def promote(self, inst: m.Instance, eject: bool = False, choose: bool = True) -> None:
        """The replica becomes its set's source: its source (unless ejected,
        being lost) is stopped first, so that its last writes reach the
        replica; the replica applies them and takes writes; then every other
        member of the set (the old source too, when promoted) is copied
        afresh from it and follows it.  Done again after a crash: the rows
        say how far it went (the members still PROMOTE/EJECT follow it)."""
        if eject and choose and inst.replica_of_id is not None:
            best = await self._most_recent(inst)
            if best is not None:
                log.info("database: %s holds more of the lost source's changes than %s: it "
                         "is promoted instead", best.id, inst.id)  # fmt: skip
                await self.promote(best, eject=True, choose=False)
                return
        try:
            store, place = self.work.datastore(inst), await self.work.place(inst)
            old_id = inst.replica_of_id
            if old_id is not None:
                old = await self.rec.instance(old_id)
                if not eject and old is not None and old.host == self.work.host:
                    await store.stop(self.work.places.get(old.id) or await self.work.place(old))
                await store.start(place, await self.work.spec(inst))
                await store.detach_replica(place, await self.work.spec(inst))
                if not await self.rec.promoted(inst, old_id, keep_old=eject):
                    return
                log.info("database: %s is the source of its set now, after %s", inst.id, old_id)
        except DriverError as exc:
            await self.rec.fail(inst, f"promotion failed: {exc}")
            if inst.replica_of_id is not None:
                # The set as it was: its members ACTIVE again (a stopped
                # source is started again by the health check).
                await self.rec.set_settled(inst.replica_of_id, inst.id)
            return
        try:
            # The replication user it followed as (copied from its source).
            await store.forget_replica(place, await self.work.spec(inst), replication_user(inst.id))
        except DriverError as exc:
            log.warning("database: instance %s: its old replication user stays: %s", inst.id, exc)
        for member in await self.rec.replicas(inst.id):
            if member.status not in (m.PROMOTE, m.EJECT):
                continue
            try:
                member_place = self.work.places.get(member.id) or await self.work.place(member)
                member_spec = await self.work.spec(member)
                await self.work.follow(member, store, member_place, member_spec)
                await store.start(member_place, member_spec)
            except DriverError as exc:
                await self.rec.fail(member, f"following the new source {inst.id} failed: {exc}")
                continue
            await self.rec.update(member, status=m.ACTIVE, task=None, fault=None)
        await self.rec.update(inst, status=m.ACTIVE, task=None)

    async def _most_recent(self, inst: m.Instance) -> m.Instance | None:
        """Of the replicas of a lost source, the one holding most of its
        changes when that is not ``inst`` (a tie keeps ``inst``), with the
        eject handed over to it; None to go on with ``inst``."""
        store, held = self.work.datastore(inst), dict[str, int]()
        for member in await self.rec.replicas(inst.replica_of_id or ""):
            if member.status != m.EJECT or member.host != self.work.host:
                continue
            try:
                place = self.work.places.get(member.id) or await self.work.place(member)
                spec = await self.work.spec(member)
                await store.start(place, spec)
                held[member.id] = await store.received(place, spec)
            except DriverError as exc:
                log.warning("database: replica %s: what it holds is unknown: %s", member.id, exc)
        if not held:
            return None
        best = max(held, key=lambda iid: (held[iid], iid == inst.id))
        if best == inst.id or held[best] <= held.get(inst.id, -1):
            return None
        return await self.rec.hand_over(inst, best)
