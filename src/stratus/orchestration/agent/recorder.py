"""What the engine reads and records: resources and events of a stack, the
stack's status, and its task (cleared with compare-and-swap on
``generation``, so a newer request is never lost)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select, update

from stratus.common.db import Database, utcnow
from stratus.orchestration import models as m
from stratus.orchestration.agent.state import ResourceState


def state_of(r: m.Resource) -> ResourceState:
    return ResourceState(
        r.name, r.type, r.action, r.status, r.status_reason, r.physical_id,
        dict(r.properties or {}), dict(r.attributes or {}), dict(r.data or {}),
        list(r.requires or []), dict(r.metadata_ or {}),
    )  # fmt: skip


class Recorder:
    def __init__(self, db: Database):
        self.db = db

    async def stack(self, stack_id: str) -> m.Stack | None:
        async with self.db.session() as s:
            return await s.get(m.Stack, stack_id)

    async def pending(self) -> list[str]:
        async with self.db.session() as s:
            q = select(m.Stack.id).where(m.Stack.task.is_not(None)).order_by(m.Stack.created_at)
            return list(await s.scalars(q))

    async def in_progress(self) -> list[m.Stack]:
        async with self.db.session() as s:
            q = select(m.Stack).where(m.Stack.status == m.IN_PROGRESS, m.Stack.deleted.is_(False))
            return list(await s.scalars(q))

    async def trusts_left(self) -> list[m.Stack]:
        """Deleted stacks whose trust was not deleted yet (the engine went
        down in between)."""
        async with self.db.session() as s:
            q = select(m.Stack).where(m.Stack.deleted.is_(True), m.Stack.trust_id.is_not(None))
            return list(await s.scalars(q))

    async def update_stack(self, stack: m.Stack, **values: Any) -> bool:
        async with self.db.transaction() as s:
            done = (
                await s.execute(
                    update(m.Stack)
                    .where(m.Stack.id == stack.id, m.Stack.generation == stack.generation)
                    .values(generation=stack.generation + 1, **values)
                )
            ).rowcount == 1  # type: ignore[attr-defined]
        if done:
            stack.generation += 1
            for key, value in values.items():
                setattr(stack, key, value)
        return done

    # -- Store ------------------------------------------------------------------------------

    async def resources(self, stack_id: str) -> dict[str, ResourceState]:
        async with self.db.session() as s:
            rows = await s.scalars(select(m.Resource).where(m.Resource.stack_id == stack_id))
            return {r.name: state_of(r) for r in rows}

    async def save(self, stack_id: str, state: ResourceState, event: bool = True) -> None:
        now = utcnow()
        async with self.db.transaction() as s:
            row = await s.scalar(select(m.Resource).where(
                m.Resource.stack_id == stack_id, m.Resource.name == state.name))  # fmt: skip
            if row is None:
                row = m.Resource(stack_id=stack_id, name=state.name, created_at=now)
                s.add(row)
            row.type, row.physical_id = state.type, state.physical_id
            row.action, row.status, row.status_reason = state.action, state.status, state.reason
            row.properties, row.attributes, row.data = state.properties, state.attributes, state.data
            row.requires, row.metadata_ = state.requires, state.metadata
            row.updated_at = now
            if event:
                s.add(m.Event(stack_id=stack_id, resource_name=state.name,
                              physical_id=state.physical_id, resource_type=state.type,
                              action=state.action, status=state.status, reason=state.reason,
                              properties=state.properties or None, created_at=now))  # fmt: skip

    async def remove(self, stack_id: str, name: str) -> None:
        async with self.db.transaction() as s:
            await s.execute(delete(m.Resource).where(
                m.Resource.stack_id == stack_id, m.Resource.name == name))  # fmt: skip

    async def stack_status(self, stack_id: str, action: str, status: str, reason: str) -> None:
        now = utcnow()
        async with self.db.transaction() as s:
            stack = await s.get(m.Stack, stack_id)
            if stack is None:
                return
            stack.action, stack.status, stack.status_reason = action, status, reason
            if action != m.CREATE or status != m.IN_PROGRESS:
                stack.updated_at = now if action != m.CREATE else stack.updated_at
            s.add(m.Event(stack_id=stack_id, resource_name=stack.name, physical_id=stack.id,
                          resource_type="OS::Heat::Stack", action=action, status=status,
                          reason=reason, created_at=now))  # fmt: skip
