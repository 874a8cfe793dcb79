"""Stack snapshots (Heat's ``.../snapshots``): a snapshot records the
stack's template, environment, files, parameters and resources (Heat's
snapshot data); a restore is an update of the stack back to that
definition, as an engine task (``RESTORE_IN_PROGRESS`` -> ``_COMPLETE``).
A stack with volumes is snapshotted by the engine (each volume backed up,
agent/snapshots.py), and a restore makes each volume again from its backup
(Heat's OS::Cinder::Volume handle_snapshot / handle_restore)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from stratus.common.context import RequestContext
from stratus.common.db import Database, utcnow
from stratus.orchestration import models as m
from stratus.orchestration.errors import (
    ActionInProgress,
    NotFound,
    NotSupported,
    StackNotFound,
)
from stratus.orchestration.service.definition import definition
from stratus.orchestration.service.stacks import Stacks

VOLUME = "OS::Cinder::Volume"
# what a volume made from a backup does not take from its old definition
# (the backup gives its size and contents), as Heat's handle_restore
NOT_RESTORED = ("size", "image", "imageRef", "source_volid", "snapshot_id", "backup_id")


def backed_up(data: dict[str, Any]) -> dict[str, str]:
    """The snapshot's volume backups: resource name -> backup id."""
    out: dict[str, str] = {}
    for name, r in (data.get("resources") or {}).items():
        backup = (r.get("resource_data") or {}).get("backup_id")
        if r.get("type") == VOLUME and backup:
            out[name] = str(backup)
    return out


def restored(template: dict[str, Any], backups: dict[str, str]) -> dict[str, Any]:
    """The snapshot's template, each backed-up volume made from its backup."""
    resources = dict(template.get("resources") or {})
    for name, backup in backups.items():
        if not isinstance(resources.get(name), dict):
            continue
        props = {k: v for k, v in (resources[name].get("properties") or {}).items()
                 if k not in NOT_RESTORED}  # fmt: skip
        resources[name] = {**resources[name], "properties": {**props, "backup_id": backup}}
    return {**template, "resources": resources}


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

    async def create(self, ctx: RequestContext, stack: m.Stack, name: str | None) -> m.Snapshot:
        """Taken while no task runs on the stack (its generation is swapped
        in the same transaction): without volumes at once (the stack shows
        ``SNAPSHOT_COMPLETE``, with its events); with volumes the snapshot
        and the stack are ``IN_PROGRESS`` while the engine backs them up."""
        if stack.deleted:
            raise StackNotFound(f"The Stack ({stack.name}) could not be found.")
        now = utcnow()
        async with self.db.transaction() as s:
            rows = list(await s.scalars(select(m.Resource).where(m.Resource.stack_id == stack.id)))
            backups = any(r.type == VOLUME and r.physical_id for r in rows)
            status = m.IN_PROGRESS if backups else m.COMPLETE
            done = "" if backups else "Stack SNAPSHOT completed successfully"
            task: dict[str, Any] = {"task": m.T_SNAPSHOT, "credential": ctx.token,
                                    "request_id": ctx.request_id} if backups else {}  # fmt: skip
            swapped = (await s.execute(
                update(m.Stack)
                .where(m.Stack.id == stack.id, m.Stack.generation == stack.generation,
                       m.Stack.task.is_(None), m.Stack.status != m.IN_PROGRESS)
                .values(generation=stack.generation + 1, action=m.SNAPSHOT, status=status,
                        status_reason=done or "Stack SNAPSHOT started", updated_at=now, **task)
            )).rowcount == 1  # type: ignore[attr-defined]  # fmt: skip
            if not swapped:
                raise ActionInProgress(f"Stack {stack.name} already has an action "
                                       f"({stack.action}) in progress.")  # fmt: skip
            snap = m.Snapshot(id=m.new_uuid(), stack_id=stack.id, name=name, status=status,
                              status_reason=done, data=_data(stack, rows),
                              created_at=now)  # fmt: skip
            s.add(snap)
            for status, reason in ((m.IN_PROGRESS, "Stack SNAPSHOT started"),
                                   (m.COMPLETE, done))[: 1 if backups else 2]:  # fmt: skip
                s.add(m.Event(stack_id=stack.id, resource_name=stack.name, physical_id=stack.id,
                              resource_type="OS::Heat::Stack", action=m.SNAPSHOT, status=status,
                              reason=reason, created_at=now))  # fmt: skip
        if backups:
            self.stacks.wake()
        return snap

    async def index(self, stack: m.Stack) -> list[m.Snapshot]:
        async with self.db.session() as s:
            q = select(m.Snapshot).where(m.Snapshot.stack_id == stack.id,
                                         m.Snapshot.status != m.DELETING)  # fmt: skip
            return list(await s.scalars(q.order_by(m.Snapshot.created_at, m.Snapshot.id)))

    async def get(self, stack: m.Stack, snapshot_id: str) -> m.Snapshot:
        async with self.db.session() as s:
            snap = await s.get(m.Snapshot, snapshot_id)
        if snap is None or snap.stack_id != stack.id or snap.status == m.DELETING:
            raise NotFound(f"The Snapshot ({snapshot_id}) could not be found.")
        return snap

    async def delete(self, stack: m.Stack, snapshot_id: str) -> None:
        """Gone at once from the API; its volume backups (if any) are
        deleted by the engine, which then drops the row."""
        snap = await self.get(stack, snapshot_id)
        if snap.status == m.IN_PROGRESS:
            raise NotSupported("Deleting in-progress snapshot is not supported.")
        backups = backed_up(snap.data or {})
        async with self.db.transaction() as s:
            row = await s.get(m.Snapshot, snap.id)
            if row is not None and backups:
                row.status = m.DELETING
            elif row is not None:
                await s.delete(row)
        if backups:
            self.stacks.wake()

    async def restore(self, ctx: RequestContext, stack: m.Stack, snapshot_id: str) -> None:
        snap = await self.get(stack, snapshot_id)
        if snap.status != m.COMPLETE:
            raise NotSupported(f"Restoring from a snapshot that is {snap.status} is not "
                               "supported.")  # fmt: skip
        d = snap.data or {}
        template = restored(d.get("template") or {}, backed_up(d))
        await self.stacks.update(
            ctx, stack, definition(template, d.get("environment") or {},
                                   d.get("files") or {}, d.get("parameters") or {}),
            disable_rollback=None, timeout_mins=None, tags=None,
            task=m.T_RESTORE, action=m.RESTORE)  # fmt: skip
