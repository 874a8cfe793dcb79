"""A stack snapshot's volume backups (Heat's OS::Cinder::Volume
handle_snapshot): each volume of the stack gets a Cinder backup (``force``:
an attached volume too), its id kept in the snapshot's ``resource_data``
(``backup_id``); the snapshot is ``IN_PROGRESS`` until every backup is
``available``, then ``COMPLETE`` (``FAILED`` with the reason otherwise).  A
snapshot being deleted (``DELETING``) loses its backups, then its row; a
deleted stack's snapshots lose theirs.

Each step can be done again after a crash: a backup is named after its
snapshot and resource, and found by that name before another is made."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select

from stratus.common.db import Database
from stratus.orchestration import models as m
from stratus.orchestration.agent.recorder import Recorder
from stratus.orchestration.drivers.base import Api, delete_quietly, wait_for
from stratus.orchestration.errors import ResourceFailure
from stratus.orchestration.service.snapshots import VOLUME, backed_up

log = logging.getLogger(__name__)

BACKUP_TIMEOUT = 1800.0  # seconds a backup may take to become available


class SnapshotWork:
    def __init__(self, rec: Recorder):
        self.rec = rec

    @property
    def db(self) -> Database:
        return self.rec.db

    async def _rows(self, stack_id: str, status: str) -> list[m.Snapshot]:
        async with self.db.session() as s:
            q = select(m.Snapshot).where(m.Snapshot.stack_id == stack_id,
                                         m.Snapshot.status == status)  # fmt: skip
            return list(await s.scalars(q.order_by(m.Snapshot.created_at)))

    async def _write(self, snap_id: str, **values: Any) -> None:
        async with self.db.transaction() as s:
            row = await s.get(m.Snapshot, snap_id)
            if row is not None:
                for key, value in values.items():
                    setattr(row, key, value)

    async def dropping(self) -> list[str]:
        """The snapshots being deleted (their backups still to go)."""
        async with self.db.session() as s:
            q = select(m.Snapshot.id).where(m.Snapshot.status == m.DELETING)
            return list(await s.scalars(q))

    async def take(self, stack_id: str, api: Api) -> None:
        """Back up the volumes of the stack's snapshots in progress."""
        for snap in await self._rows(stack_id, m.IN_PROGRESS):
            try:
                await self._back_up(snap, api)
            except Exception as exc:  # a backup failed: so did the snapshot
                reason = f"{type(exc).__name__}: {exc}"
                log.warning("orchestration: snapshot %s failed: %s", snap.id, reason)
                await self._write(snap.id, status=m.FAILED, status_reason=reason)
                await self.rec.stack_status(stack_id, m.SNAPSHOT, m.FAILED, reason)
                continue
            done = "Stack SNAPSHOT completed successfully"
            await self._write(snap.id, status=m.COMPLETE, status_reason=done)
            await self.rec.stack_status(stack_id, m.SNAPSHOT, m.COMPLETE, done)

    async def _back_up(self, snap: m.Snapshot, api: Api) -> None:
        data = dict(snap.data or {})
        resources = {k: dict(v) for k, v in (data.get("resources") or {}).items()}
        data["resources"] = resources
        for name, r in resources.items():
            if r.get("type") != VOLUME or not r.get("resource_id"):
                continue
            rdata = dict(r.get("resource_data") or {})
            if not rdata.get("backup_id"):
                label = f"heat-snapshot-{snap.id}-{name}"[:255]
                found = (await api.call("volume", "GET", "/backups",
                                        params={"name": label}))["backups"]  # fmt: skip
                if found:
                    rdata["backup_id"] = found[0]["id"]
                else:
                    made = await api.call("volume", "POST", "/backups", json={"backup": {
                        "volume_id": r["resource_id"], "name": label, "force": True,
                        "description": f"Stack snapshot {snap.id}: {name}"}})  # fmt: skip
                    rdata["backup_id"] = made["backup"]["id"]
                r["resource_data"] = rdata
                await self._write(snap.id, data=data)  # recorded before it is waited on
        for name, backup in backed_up(data).items():
            try:
                await wait_for(api, "volume", f"/backups/{backup}", "backup", ("available",),
                               ("error",), BACKUP_TIMEOUT)  # fmt: skip
            except ResourceFailure as exc:
                raise ResourceFailure(f"resources.{name}: the backup {backup}: {exc}") from exc

    async def drop(self, snap_id: str, api_for: Any) -> None:
        """A snapshot being deleted: its backups go, then its row."""
        async with self.db.session() as s:
            snap = await s.get(m.Snapshot, snap_id)
            stack = None if snap is None else await s.get(m.Stack, snap.stack_id)
        if snap is None or snap.status != m.DELETING:
            return
        if stack is not None:  # (else nobody is left to ask: the row goes)
            api: Api = await api_for(stack)
            for backup in backed_up(snap.data or {}).values():
                await delete_quietly(api, "volume", f"/backups/{backup}")
        async with self.db.transaction() as s:
            row = await s.get(m.Snapshot, snap_id)
            if row is not None and row.status == m.DELETING:
                await s.delete(row)

    async def forget(self, stack_id: str, api: Api) -> None:
        """A deleted stack's snapshots: their backups go (as Heat's stack
        delete deletes its snapshots); one that cannot is logged, left."""
        async with self.db.session() as s:
            q = select(m.Snapshot).where(m.Snapshot.stack_id == stack_id)
            snaps = list(await s.scalars(q))
        for snap in snaps:
            for backup in backed_up(snap.data or {}).values():
                try:
                    await delete_quietly(api, "volume", f"/backups/{backup}")
                except Exception as exc:
                    log.warning("orchestration: backup %s of snapshot %s left: %s",
                                backup, snap.id, exc)  # fmt: skip
