"""What the database agent reads and records, with compare-and-swap on an
instance's ``generation``: an outcome is recorded only if nobody changed the
row meanwhile (a delete asked for during a build)."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import delete, or_, select, update

from stratus.common.db import Database, utcnow
from stratus.database import models as m
from stratus.database.drivers.base import DriverError

log = logging.getLogger(__name__)


class _Changed(Exception):
    """A row moved on under a change of two rows: neither is made."""


class Recorder:
    def __init__(self, db: Database, host: str):
        self.db = db
        self.host = host

    async def instance(self, instance_id: str) -> m.Instance | None:
        async with self.db.session() as s:
            return await s.get(m.Instance, instance_id)

    async def instances(self) -> list[m.Instance]:
        async with self.db.session() as s:
            q = select(m.Instance).where(m.Instance.host == self.host)
            return list(await s.scalars(q))

    async def update(self, inst: m.Instance, **values: Any) -> bool:
        """Record values on an instance it read (compare-and-swap); on
        success the caller's copy follows."""
        async with self.db.transaction() as s:
            done = (
                await s.execute(
                    update(m.Instance)
                    .where(m.Instance.id == inst.id, m.Instance.generation == inst.generation)
                    .values(generation=inst.generation + 1, updated_at=utcnow(), **values)
                )
            ).rowcount == 1  # type: ignore[attr-defined]
        if done:
            inst.generation += 1
            for key, value in values.items():
                setattr(inst, key, value)
        return done

    async def fail(self, inst: m.Instance, reason: str) -> bool:
        log.warning("database: instance %s failed: %s", inst.id, reason)
        return await self.update(inst, status=m.ERROR, task=None, fault=reason[:2000])

    async def remove(self, instance_id: str) -> None:
        async with self.db.transaction() as s:
            await s.execute(delete(m.Schema).where(m.Schema.instance_id == instance_id))
            await s.execute(delete(m.User).where(m.User.instance_id == instance_id))
            await s.execute(delete(m.Log).where(m.Log.instance_id == instance_id))
            await s.execute(delete(m.Instance).where(m.Instance.id == instance_id))

    async def pending(self) -> list[str]:
        async with self.db.session() as s:
            tasks = await s.scalars(
                select(m.Instance.id).where(
                    m.Instance.host == self.host,
                    or_(
                        m.Instance.task.is_not(None), m.Instance.pending_root_password.is_not(None)
                    ),
                )
            )
            keys = [f"i:{i}" for i in tasks]
            ready = select(m.Instance.id).where(
                m.Instance.host == self.host,
                m.Instance.status.in_((m.ACTIVE, m.BACKUP)),
                m.Instance.task.is_(None),
            )
            for model in (m.Schema, m.User):
                rows = await s.scalars(
                    select(model.instance_id)
                    .where(model.state != m.S_READY, model.instance_id.in_(ready))
                    .distinct()
                )
                keys += [f"i:{i}" for i in rows]
            backups = await s.scalars(
                select(m.Backup.id).where(
                    m.Backup.host == self.host,
                    or_(m.Backup.status.in_((m.B_NEW, m.B_BUILDING)), m.Backup.deleting),
                )
            )
            keys += [f"b:{b}" for b in backups]
            logs = await s.scalars(
                select(m.Log.instance_id)
                .where(m.Log.done < m.Log.serial, m.Log.instance_id.in_(ready))
                .distinct()
            )
            keys += [f"l:{i}" for i in logs]
        return list(dict.fromkeys(keys))

    async def schemas(self, instance_id: str) -> list[m.Schema]:
        async with self.db.session() as s:
            return list(
                await s.scalars(select(m.Schema).where(m.Schema.instance_id == instance_id))
            )

    async def users(self, instance_id: str) -> list[m.User]:
        async with self.db.session() as s:
            return list(await s.scalars(select(m.User).where(m.User.instance_id == instance_id)))

    async def schema_done(self, row: m.Schema) -> None:
        async with self.db.transaction() as s:
            if row.state == m.S_DELETING:
                await s.execute(
                    delete(m.Schema).where(
                        m.Schema.instance_id == row.instance_id,
                        m.Schema.name == row.name,
                        m.Schema.state == m.S_DELETING,
                    )
                )
            else:
                await s.execute(
                    update(m.Schema)
                    .where(
                        m.Schema.instance_id == row.instance_id,
                        m.Schema.name == row.name,
                        m.Schema.state == m.S_CREATING,
                    )
                    .values(state=m.S_READY)
                )

    async def user_done(self, row: m.User) -> None:
        """The user as applied; a change made meanwhile (another password)
        keeps it pending."""
        key = (
            m.User.instance_id == row.instance_id,
            m.User.name == row.name,
            m.User.host == row.host,
        )
        async with self.db.transaction() as s:
            if row.state == m.S_DELETING:
                await s.execute(delete(m.User).where(*key, m.User.state == m.S_DELETING))
                return
            await s.execute(
                update(m.User)
                .where(
                    *key,
                    m.User.state == m.S_CREATING,
                    m.User.revision == row.revision,
                )
                .values(state=m.S_READY, pending_password=None, granted=row.databases)
            )

    async def adopt_accounts(
        self, instance_id: str, databases: list[str], users: list[tuple[str, str, list[str]]]
    ) -> None:
        """Rows for what a restored server holds (those it has already stay)."""
        async with self.db.transaction() as s:
            for name in databases:
                if await s.get(m.Schema, (instance_id, name)) is None:
                    s.add(m.Schema(instance_id=instance_id, name=name, state=m.S_READY))
            for name, host, dbs in users:
                if await s.get(m.User, (instance_id, name, host)) is None:
                    s.add(m.User(instance_id=instance_id, name=name, host=host, databases=dbs,
                                 granted=dbs, state=m.S_READY))  # fmt: skip

    async def settings(self, inst: m.Instance) -> dict[str, str]:
        """The values of the instance's configuration group, as strings."""
        if inst.configuration_id is None:
            return {}
        async with self.db.session() as s:
            group = await s.get(m.ConfigurationGroup, inst.configuration_id)
        return {k: str(v) for k, v in (group.values if group else {}).items()}

    async def replicas(self, source_id: str) -> list[m.Instance]:
        """The replicas following an instance (those being deleted not)."""
        async with self.db.session() as s:
            q = select(m.Instance).where(
                m.Instance.replica_of_id == source_id,
                or_(m.Instance.task.is_(None), m.Instance.task != m.T_DELETE),
            )
            return list(await s.scalars(q.order_by(m.Instance.id)))

    async def logs_wanted(self, instance_id: str) -> list[m.Log]:
        """The instance's logs with an action not done yet."""
        async with self.db.session() as s:
            q = select(m.Log).where(m.Log.instance_id == instance_id, m.Log.done < m.Log.serial)
            return list(await s.scalars(q.order_by(m.Log.name)))

    async def enabled_logs(self, instance_id: str) -> tuple[str, ...]:
        async with self.db.session() as s:
            q = select(m.Log.name).where(m.Log.instance_id == instance_id, m.Log.enabled)
            return tuple(await s.scalars(q.order_by(m.Log.name)))

    async def log_done(self, row: m.Log, **values: Any) -> None:
        """A log's action done (the serial it was asked with)."""
        async with self.db.transaction() as s:
            await s.execute(
                update(m.Log)
                .where(m.Log.instance_id == row.instance_id, m.Log.name == row.name)
                .values(done=row.serial, updated_at=utcnow(), **values)
            )

    async def promoted(self, inst: m.Instance, old_source: str, keep_old: bool) -> bool:
        """The replica is its set's source (ACTIVE; its task stays until the
        others follow it): the old source's other replicas follow it, and
        the old source too unless it left the set (``keep_old``: ejected)."""
        async with self.db.transaction() as s:
            done = (
                await s.execute(
                    update(m.Instance)
                    .where(m.Instance.id == inst.id, m.Instance.generation == inst.generation)
                    .values(replica_of_id=None, status=m.ACTIVE, fault=None,
                            generation=inst.generation + 1, updated_at=utcnow())  # fmt: skip
                )
            ).rowcount == 1  # type: ignore[attr-defined]
            if not done:
                return False
            await s.execute(
                update(m.Instance)
                .where(m.Instance.replica_of_id == old_source, m.Instance.id != inst.id)
                .values(replica_of_id=inst.id, generation=m.Instance.generation + 1)
            )
            if not keep_old:
                await s.execute(
                    update(m.Instance)
                    .where(m.Instance.id == old_source)
                    .values(replica_of_id=inst.id, generation=m.Instance.generation + 1)
                )
        inst.generation += 1
        inst.replica_of_id, inst.status, inst.fault = None, m.ACTIVE, None
        return True

    async def hand_over(self, inst: m.Instance, to_id: str) -> m.Instance | None:
        """An eject's task moved, in one transaction, from ``inst`` to
        another replica of the set being ejected (one holding more of the
        lost source's changes); that replica's row, or None when either
        changed meanwhile."""
        try:
            async with self.db.transaction() as s:
                mine = await s.execute(
                    update(m.Instance)
                    .where(m.Instance.id == inst.id, m.Instance.generation == inst.generation,
                           m.Instance.task == m.T_EJECT)  # fmt: skip
                    .values(task=None, generation=inst.generation + 1, updated_at=utcnow())
                )
                theirs = await s.execute(
                    update(m.Instance)
                    .where(m.Instance.id == to_id, m.Instance.status == m.EJECT,
                           m.Instance.task.is_(None))  # fmt: skip
                    .values(task=m.T_EJECT, request_id=inst.request_id,
                            generation=m.Instance.generation + 1, updated_at=utcnow())  # fmt: skip
                )
                if mine.rowcount != 1 or theirs.rowcount != 1:  # type: ignore[attr-defined]
                    raise _Changed
        except _Changed:
            return None
        return await self.instance(to_id)

    async def set_settled(self, source_id: str, failed_id: str) -> None:
        """A promotion that failed before it changed the set: the source and
        its other replicas, still PROMOTE or EJECT, are ACTIVE again."""
        async with self.db.transaction() as s:
            await s.execute(
                update(m.Instance)
                .where(
                    or_(m.Instance.id == source_id, m.Instance.replica_of_id == source_id),
                    m.Instance.id != failed_id,
                    m.Instance.status.in_((m.PROMOTE, m.EJECT)),
                )
                .values(status=m.ACTIVE, generation=m.Instance.generation + 1)
            )

    async def backup(self, backup_id: str) -> m.Backup | None:
        async with self.db.session() as s:
            return await s.get(m.Backup, backup_id)

    async def backup_chain(self, backup_id: str) -> list[m.Backup]:
        """A backup and its parents, the full backup first; ``DriverError``
        when one is missing, unfinished or being deleted."""
        chain: list[m.Backup] = []
        async with self.db.session() as s:
            ident: str | None = backup_id
            while ident is not None:
                backup = await s.get(m.Backup, ident)
                if backup is None or backup.location is None or backup.deleting:
                    raise DriverError(f"backup {ident} is gone")
                if any(b.id == backup.id for b in chain) or len(chain) > 1000:
                    raise DriverError(f"backup {backup_id} has a looping chain of parents")
                chain.append(backup)
                ident = backup.parent_id
        return chain[::-1]

    async def update_backup(self, backup_id: str, **values: Any) -> None:
        async with self.db.transaction() as s:
            await s.execute(
                update(m.Backup)
                .where(m.Backup.id == backup_id)
                .values(updated_at=utcnow(), **values)
            )

    async def remove_backup(self, backup_id: str) -> None:
        async with self.db.transaction() as s:
            await s.execute(delete(m.Backup).where(m.Backup.id == backup_id))

    async def backup_over(self, instance_id: str) -> None:
        """The instance is no longer backing up (its status back to ACTIVE)."""
        async with self.db.transaction() as s:
            await s.execute(
                update(m.Instance)
                .where(m.Instance.id == instance_id, m.Instance.status == m.BACKUP)
                .values(status=m.ACTIVE, generation=m.Instance.generation + 1)
            )

    async def heartbeat(self, zone: str, datastores: dict[str, str]) -> None:
        async with self.db.transaction() as s:
            agent = await s.get(m.Agent, self.host)
            if agent is None:
                s.add(m.Agent(host=self.host, availability_zone=zone, datastores=datastores))
            else:
                agent.availability_zone, agent.datastores = zone, datastores
                agent.heartbeat_at = utcnow()
