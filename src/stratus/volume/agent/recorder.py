"""What the agent's workflows read and record, with compare-and-swap on
each row's ``generation``: an outcome is recorded only if nobody changed
the row meanwhile (a force-delete, a reset of its status)."""

from __future__ import annotations

import logging
from typing import Any, TypeVar

from sqlalchemy import delete, select

from stratus.common.db import Base, Database
from stratus.volume import models as m
from stratus.volume.service.common import add_message, finish

log = logging.getLogger(__name__)

Row = TypeVar("Row", bound=Base)


class Recorder:
    def __init__(self, db: Database, host: str, backend: str):
        self.db = db
        self.host = host  # the agent's host name
        self.backend = f"{host}@{backend}"  # volumes live on backend#pool

    def mine(self) -> Any:
        return m.Volume.host.like(f"{self.backend}#%")

    async def load(self, model: type[Row], row_id: str) -> Row | None:
        async with self.db.session() as s:
            return await s.get(model, row_id)

    async def update(self, row: Any, **values: Any) -> bool:
        """Record values on a row it read (compare-and-swap); on success the
        caller's copy follows, so the next step swaps against it."""
        async with self.db.transaction() as s:
            done = await finish(s, type(row), row.id, row.generation, **values)
        if done:
            row.generation += 1
            for key, value in values.items():
                setattr(row, key, value)
        return done

    async def fail(
        self,
        row: Any,
        status: str,
        reason: str,
        event: str,
        *,
        resource: str = "VOLUME",
        **values: Any,
    ) -> bool:
        """Record a failure: the error status, its reason, and a user message."""
        log.warning("volume: %s %s failed: %s", resource.lower(), row.id, reason)
        fields = {"status": status, "task": None, **values}
        if resource == "BACKUP":
            fields["fail_reason"] = reason
        elif hasattr(row, "error"):
            fields["error"] = reason
        async with self.db.transaction() as s:
            done = await finish(s, type(row), row.id, row.generation, **fields)
            if done:
                add_message(s, row.project_id, resource, row.id, event, reason)
        if done:
            row.generation += 1
        return done

    async def remove(self, row: Any) -> bool:
        """Delete a row whose work is done, unless it changed meanwhile."""
        model = type(row)
        async with self.db.transaction() as s:
            result = await s.execute(
                delete(model).where(model.id == row.id, model.generation == row.generation)
            )
            if result.rowcount and model is m.Volume:  # type: ignore[attr-defined]
                await s.execute(delete(m.Attachment).where(m.Attachment.volume_id == row.id))
            return bool(result.rowcount)  # type: ignore[attr-defined]

    async def set_volume_status_if(self, volume_id: str, expected: str, status: str) -> None:
        """Put a volume back (after a backup) unless something else moved it."""
        async with self.db.transaction() as s:
            volume = await s.get(m.Volume, volume_id)
            if volume is not None and volume.status == expected:
                volume.status = status

    async def set_backup_status_if(self, backup_id: str, expected: str, status: str) -> None:
        async with self.db.transaction() as s:
            backup = await s.get(m.Backup, backup_id)
            if backup is not None and backup.status == expected:
                backup.status = status

    async def snapshots_of(self, volume_id: str) -> list[m.Snapshot]:
        async with self.db.session() as s:
            rows = await s.scalars(select(m.Snapshot).where(m.Snapshot.volume_id == volume_id))
            return list(rows.all())
