"""Stack snapshots (Heat's ``.../snapshots``): a snapshot records the
stack's template, environment, files, parameters and resources (Heat's
snapshot data); a restore is an update of the stack back to that
definition, as an engine task (``RESTORE_IN_PROGRESS`` -> ``_COMPLETE``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from stratus.common.context import RequestContext
from stratus.common.db import Database, utcnow
from stratus.orchestration import models as m
from stratus.orchestration.errors import ActionInProgress, NotFound, StackNotFound
from stratus.orchestration.service.definition import definition
from stratus.orchestration.service.stacks import Stacks


def _data(stack: m.Stack, rows: list[m.Resource]) -> dict[str, Any]:
    return {
        "id": stack.id, "name": stack.name, "project_id": stack.project_id,
        "action": stack.action, "status": stack.status, "template": stack.template,
        "environment": stack.environment or {}, "files": stack.files or {},
        "parameters": stack.parameters or {}, "disable_rollback": stack.disable_rollback,
        "timeout_mins": stack.timeout_mins, "tags": list(stack.tags or []),
        "resources": {r.name: {
            "name": r.name, "type": r.type, "action": r.action, "status": r.status,
            "resource_id": r.physical_id, "metadata": r.metadata_ or {},
            "resource_data": {}, "properties": r.properties or {}} for r in rows},
    }  # fmt: skip


class Snapshots:
    def __init__(self, db: Database, stacks: Stacks):
        self.db = db
        self.stacks = stacks

    async def create(self, stack: m.Stack, name: str | None) -> m.Snapshot:
        """Taken at once, while no task runs on the stack (its generation
        is swapped in the same transaction): the stack shows
        ``SNAPSHOT_COMPLETE``, with its events."""
        if stack.deleted:
            raise StackNotFound(f"The Stack ({stack.name}) could not be found.")
        now = utcnow()
        async with self.db.transaction() as s:
            swapped = (await s.execute(
                update(m.Stack)
                .where(m.Stack.id == stack.id, m.Stack.generation == stack.generation,
                       m.Stack.task.is_(None), m.Stack.status != m.IN_PROGRESS)
                .values(generation=stack.generation + 1, action=m.SNAPSHOT, status=m.COMPLETE,
                        status_reason="Stack SNAPSHOT completed successfully", updated_at=now)
            )).rowcount == 1  # type: ignore[attr-defined]  # fmt: skip
            if not swapped:
                raise ActionInProgress(f"Stack {stack.name} already has an action "
                                       f"({stack.action}) in progress.")  # fmt: skip
            rows = list(await s.scalars(select(m.Resource).where(m.Resource.stack_id == stack.id)))
            snap = m.Snapshot(id=m.new_uuid(), stack_id=stack.id, name=name, status=m.COMPLETE,
                              status_reason="Stack SNAPSHOT completed successfully",
                              data=_data(stack, rows), created_at=now)  # fmt: skip
            s.add(snap)
            for status, reason in ((m.IN_PROGRESS, "Stack SNAPSHOT started"),
                                   (m.COMPLETE, "Stack SNAPSHOT completed successfully")):  # fmt: skip
                s.add(m.Event(stack_id=stack.id, resource_name=stack.name, physical_id=stack.id,
                              resource_type="OS::Heat::Stack", action=m.SNAPSHOT, status=status,
                              reason=reason, created_at=now))  # fmt: skip
        return snap

    async def index(self, stack: m.Stack) -> list[m.Snapshot]:
        async with self.db.session() as s:
            q = select(m.Snapshot).where(m.Snapshot.stack_id == stack.id)
            return list(await s.scalars(q.order_by(m.Snapshot.created_at, m.Snapshot.id)))

    async def get(self, stack: m.Stack, snapshot_id: str) -> m.Snapshot:
        async with self.db.session() as s:
            snap = await s.get(m.Snapshot, snapshot_id)
        if snap is None or snap.stack_id != stack.id:
            raise NotFound(f"The Snapshot ({snapshot_id}) could not be found.")
        return snap

    async def delete(self, stack: m.Stack, snapshot_id: str) -> None:
        snap = await self.get(stack, snapshot_id)
        async with self.db.transaction() as s:
            row = await s.get(m.Snapshot, snap.id)
            if row is not None:
                await s.delete(row)

    async def restore(self, ctx: RequestContext, stack: m.Stack, snapshot_id: str) -> None:
        snap = await self.get(stack, snapshot_id)
        d = snap.data or {}
        await self.stacks.update(
            ctx, stack, definition(d.get("template") or {}, d.get("environment") or {},
                                   d.get("files") or {}, d.get("parameters") or {}),
            disable_rollback=None, timeout_mins=None, tags=None,
            task=m.T_RESTORE, action=m.RESTORE)  # fmt: skip
