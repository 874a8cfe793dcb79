"""Stacks: create, update, delete, the lookups and the list.  Each write
records the engine's task in the same transaction as the stack's new state
and wakes the engine."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from stratus.common.context import RequestContext
from stratus.common.db import Database, serialize, utcnow
from stratus.orchestration import models as m
from stratus.orchestration.drivers.base import UUID, ResourceType
from stratus.orchestration.errors import (
    ActionInProgress,
    BadRequest,
    NotFound,
    NotSupported,
    StackExists,
    StackNotFound,
    StackValidationFailed,
)
from stratus.orchestration.service.definition import Definition, plan
from stratus.orchestration.service.trusts import StackTrusts
from stratus.orchestration.template.plan import Plan

NAME = re.compile(r"^[a-zA-Z][a-zA-Z0-9_.-]{0,254}$")
SORT_KEYS = {"stack_name": m.Stack.name, "stack_status": m.Stack.status,
             "creation_time": m.Stack.created_at, "updated_time": m.Stack.updated_at}  # fmt: skip


TASK_TRIES = 5  # swaps of a stack's task lost to the engine's own writes, tried again
ALONE = frozenset({"COMPLETE", "FAILED", "IN_PROGRESS"})  # statuses without an action


def pseudo(name: str, stack_id: str, project_id: str) -> dict[str, str]:
    return {"OS::stack_name": name, "OS::stack_id": stack_id, "OS::project_id": project_id}


@dataclass
class ListQuery:
    names: list[str]
    statuses: list[str]
    ids: list[str]
    tags: list[str]
    all_projects: bool = False
    show_deleted: bool = False
    sort_key: str = "creation_time"
    sort_dir: str = "desc"
    limit: int | None = None
    marker: str | None = None


class Stacks:
    def __init__(
        self,
        db: Database,
        registry: Mapping[str, ResourceType],
        wake: Callable[[], None],
        quota: int = -1,
    ):
        self.db = db
        self.registry = registry
        self.wake = wake
        self.quota = quota
        self.trusts: StackTrusts | None = None  # set where identity is reachable

    def check(self, d: Definition, name: str, stack_id: str, project_id: str,
              strict: bool = True) -> Plan:  # fmt: skip
        return plan(d, self.registry, pseudo(name, stack_id, project_id), strict=strict)

    async def _name_taken(self, s: AsyncSession, project_id: str, name: str) -> bool:
        q = select(m.Stack.id).where(m.Stack.project_id == project_id, m.Stack.name == name,
                                     m.Stack.deleted.is_(False))  # fmt: skip
        return (await s.scalar(q)) is not None

    async def create(
        self,
        ctx: RequestContext,
        name: str,
        d: Definition,
        *,
        disable_rollback: bool = True,
        timeout_mins: int | None = None,
        tags: list[str] | None = None,
    ) -> m.Stack:
        if not NAME.match(name):
            raise StackValidationFailed(f'Invalid stack name {name} must contain only '
                                        'alphanumeric or "_-." characters, must start with '
                                        "alpha and must be 255 characters or less.")  # fmt: skip
        project_id = ctx.project_id or ""
        stack = m.Stack(id=m.new_uuid(), name=name, project_id=project_id,
                        user_id=ctx.user_id, username=getattr(ctx, "user_name", None))  # fmt: skip
        self.check(d, name, stack.id, project_id)
        if self.trusts is not None and ctx.token and ctx.user_id:
            stack.trust_id = await self.trusts.create(ctx.token, ctx.user_id, project_id,
                                                      ctx.roles)  # fmt: skip
        try:
            await self._insert(ctx, stack, d, name, disable_rollback, timeout_mins, tags)
        except BaseException:
            if self.trusts is not None and stack.trust_id:
                await self.trusts.delete(stack.trust_id)
            raise
        self.wake()
        return stack

    async def _insert(self, ctx: RequestContext, stack: m.Stack, d: Definition, name: str,
                      disable_rollback: bool, timeout_mins: int | None,
                      tags: list[str] | None) -> None:  # fmt: skip
        project_id = stack.project_id
        async with self.db.transaction() as s:
            await serialize(s, "orchestration-stack", project_id)
            if await self._name_taken(s, project_id, name):
                raise StackExists(f"The Stack ({name}) already exists.")
            if self.quota >= 0:
                q = select(func.count()).select_from(m.Stack).where(
                    m.Stack.project_id == ctx.project_id, m.Stack.deleted.is_(False))  # fmt: skip
                if (await s.scalar(q) or 0) >= self.quota:
                    raise BadRequest(f"You have reached the maximum stacks per tenant, "
                                     f"{self.quota}. Please delete some stacks.")  # fmt: skip
            stack.template, stack.environment = d.template, d.environment
            stack.files, stack.parameters = d.files, d.parameters
            stack.tags, stack.disable_rollback = list(tags or []), disable_rollback
            stack.timeout_mins, stack.action, stack.status = timeout_mins, m.CREATE, m.IN_PROGRESS
            stack.status_reason, stack.task = "Stack CREATE started", m.T_CREATE
            stack.credential, stack.request_id = ctx.token, ctx.request_id
            stack.created_at = utcnow()
            s.add(stack)

    async def find(self, ctx: RequestContext, name_or_id: str, project_id: str) -> m.Stack:
        """A live stack of the URL's project by name, or any (deleted too) by
        id, if visible."""
        async with self.db.session() as s:
            stack = None
            if UUID.match(name_or_id):
                stack = await s.get(m.Stack, name_or_id)
            if stack is None:
                q = select(m.Stack).where(m.Stack.name == name_or_id, m.Stack.deleted.is_(False),
                                          m.Stack.project_id == project_id)  # fmt: skip
                stack = (await s.scalars(q)).first()
        if stack is None or not ctx.owns(stack.project_id):
            raise StackNotFound(f"The Stack ({name_or_id}) could not be found.")
        return stack

    async def get(self, ctx: RequestContext, name: str, stack_id: str) -> m.Stack:
        async with self.db.session() as s:
            stack = await s.get(m.Stack, stack_id)
        if stack is None or not ctx.owns(stack.project_id) or stack.name != name:
            raise StackNotFound(f"The Stack ({name}) could not be found.")
        return stack

    async def index(self, ctx: RequestContext, q: ListQuery) -> list[m.Stack]:
        query = select(m.Stack)
        if not q.all_projects:
            query = query.where(m.Stack.project_id == ctx.project_id)
        if not q.show_deleted:
            query = query.where(m.Stack.deleted.is_(False))
        if q.names:
            query = query.where(m.Stack.name.in_(q.names))
        if q.ids:
            query = query.where(m.Stack.id.in_(q.ids))
        if q.statuses:
            parts = [(None, x) if x in ALONE or "_" not in x else tuple(x.split("_", 1))
                     for x in q.statuses]  # fmt: skip
            conds = [(m.Stack.status == st) if a is None else
                     ((m.Stack.action == a) & (m.Stack.status == st)) for a, st in parts]  # fmt: skip
            query = query.where(or_(*conds))
        column = SORT_KEYS.get(q.sort_key)
        if column is None:
            raise BadRequest(f"Sort key {q.sort_key} is not supported.")
        desc = q.sort_dir == "desc"
        order: list[Any] = [column.desc() if desc else column.asc(),
                            m.Stack.id.desc() if desc else m.Stack.id.asc()]  # fmt: skip
        if q.marker:
            async with self.db.session() as s:
                mark = await s.get(m.Stack, q.marker)
            if mark is None:
                raise BadRequest(f"The marker {q.marker} could not be found.")
            value = getattr(mark, column.key)
            after = (column < value) if desc else (column > value)
            tie = (column == value) & ((m.Stack.id < mark.id) if desc else (m.Stack.id > mark.id))
            query = query.where(after | tie)
        query = query.order_by(*order)
        if q.limit is not None:
            query = query.limit(q.limit)
        async with self.db.session() as s:
            rows = list(await s.scalars(query))
        if q.tags:
            rows = [r for r in rows if set(q.tags) <= set(r.tags or [])]
        return rows

    async def _task(
        self, stack: m.Stack, ready: Callable[[m.Stack], bool], **values: Any
    ) -> None:
        """Give the stack its task (compare-and-swap on ``generation``).  The
        engine finishing the last task writes the row too (its task cleared
        just after its COMPLETE status): a swap lost to that is tried again
        on the row as it is now, while ``ready`` (which raises when the stack
        is busy) still holds; False from it means nothing is left to do."""
        for _ in range(TASK_TRIES):
            if not ready(stack):
                return
            async with self.db.transaction() as s:
                done = (await s.execute(
                    update(m.Stack)
                    .where(m.Stack.id == stack.id, m.Stack.generation == stack.generation)
                    .values(generation=stack.generation + 1, **values)
                )).rowcount == 1  # type: ignore[attr-defined]  # fmt: skip
            if done:
                self.wake()
                return
            async with self.db.session() as s:
                fresh = await s.get(m.Stack, stack.id)
            if fresh is None:
                raise StackNotFound(f"The Stack ({stack.name}) could not be found.")
            stack = fresh
        raise ActionInProgress(f"Stack {stack.name} is busy; try again.")

    async def update(
        self, ctx: RequestContext, stack: m.Stack, d: Definition, *,
        disable_rollback: bool | None, timeout_mins: int | None, tags: list[str] | None,
        task: str = m.T_UPDATE, action: str = m.UPDATE,
    ) -> None:  # fmt: skip
        def ready(row: m.Stack) -> bool:
            # A task whose stack already shows COMPLETE is only being cleared.
            if row.deleted or row.status == m.IN_PROGRESS or (
                row.task is not None and row.status != m.COMPLETE
            ):
                raise ActionInProgress(f"Stack {row.name} already has an action "
                                       f"({row.action}) in progress.")  # fmt: skip
            return True

        ready(stack)
        self.check(d, stack.name, stack.id, stack.project_id)
        values: dict[str, Any] = {
            "pending": d.as_dict(), "task": task, "action": action,
            "status": m.IN_PROGRESS, "status_reason": f"Stack {action} started",
            "credential": ctx.token, "request_id": ctx.request_id, "updated_at": utcnow(),
        }  # fmt: skip
        if disable_rollback is not None:
            values["disable_rollback"] = disable_rollback
        if timeout_mins is not None:
            values["timeout_mins"] = timeout_mins
        if tags is not None:
            values["tags"] = tags
        await self._task(stack, ready, **values)

    async def delete(self, ctx: RequestContext, stack: m.Stack) -> None:
        def ready(row: m.Stack) -> bool:
            if row.deleted:
                raise StackNotFound(f"The Stack ({row.name}) could not be found.")
            return row.task != m.T_DELETE

        await self._task(stack, ready, task=m.T_DELETE, action=m.DELETE, status=m.IN_PROGRESS,
                         status_reason="Stack DELETE started", credential=ctx.token,
                         request_id=ctx.request_id)  # fmt: skip

    async def act(self, ctx: RequestContext, stack: m.Stack, task: str) -> None:
        """Suspend, resume or check (``m.ACTION_TASKS``): a task for the
        engine.  Suspending a suspended stack (resuming a resumed one) does
        nothing, as Heat."""
        action = m.ACTION_TASKS[task]

        def ready(row: m.Stack) -> bool:
            if row.deleted:
                raise StackNotFound(f"The Stack ({row.name}) could not be found.")
            if row.status == m.IN_PROGRESS or (row.task is not None and row.status != m.COMPLETE):
                raise ActionInProgress(f"Stack {row.name} already has an action "
                                       f"({row.action}) in progress.")  # fmt: skip
            return not (action != m.CHECK and row.action == action and row.status == m.COMPLETE)

        await self._task(stack, ready, task=task, action=action, status=m.IN_PROGRESS,
                         status_reason=f"Stack {action} started", credential=ctx.token,
                         request_id=ctx.request_id)  # fmt: skip

    async def mark_unhealthy(self, stack: m.Stack, name: str, unhealthy: bool, reason: str) -> None:
        """Heat's mark unhealthy: the resource CHECK_FAILED with the reason
        (the next update replaces it); marked healthy again, CHECK_COMPLETE.
        Refused while the engine works on the stack (its generation is
        bumped in the same transaction, so no task starts meanwhile)."""
        async with self.db.transaction() as s:
            row = await s.scalar(select(m.Resource).where(
                m.Resource.stack_id == stack.id, m.Resource.name == name))  # fmt: skip
            if row is None:  # Heat takes the physical id too
                row = await s.scalar(select(m.Resource).where(
                    m.Resource.stack_id == stack.id, m.Resource.physical_id == name))  # fmt: skip
            if row is None:
                raise NotFound(f"The Resource ({name}) could not be found in Stack "
                               f"{stack.name}.")  # fmt: skip
            busy = stack.status == m.IN_PROGRESS or row.status == m.IN_PROGRESS
            swapped = (await s.execute(
                update(m.Stack)
                .where(m.Stack.id == stack.id, m.Stack.generation == stack.generation,
                       m.Stack.task.is_(None))
                .values(generation=stack.generation + 1)
            )).rowcount == 1  # type: ignore[attr-defined]  # fmt: skip
            if busy or not swapped:
                raise ActionInProgress(f"Stack {stack.name} already has an action "
                                       f"({stack.action}) in progress.")  # fmt: skip
            if not unhealthy and not (row.action == m.CHECK and row.status == m.FAILED):
                return
            row.action, row.status = m.CHECK, m.FAILED if unhealthy else m.COMPLETE
            row.status_reason = reason if unhealthy else "state changed"
            row.updated_at = utcnow()
            s.add(m.Event(stack_id=stack.id, resource_name=row.name, physical_id=row.physical_id,
                          resource_type=row.type, action=row.action, status=row.status,
                          reason=row.status_reason, created_at=row.updated_at))  # fmt: skip

    async def cancel(self, ctx: RequestContext, stack: m.Stack, rollback: bool) -> None:
        """Cancel the update in progress, or (without ``rollback``) the
        create in progress, as Heat allows; the engine stops it and, with
        ``rollback``, rolls the stack back."""
        running = (m.T_UPDATE, m.T_CREATE) if not rollback else (m.T_UPDATE,)

        def ready(row: m.Stack) -> bool:
            if row.deleted:
                raise StackNotFound(f"The Stack ({row.name}) could not be found.")
            action = {m.T_UPDATE: m.UPDATE, m.T_CREATE: m.CREATE}
            if row.status != m.IN_PROGRESS or row.task not in (*running, *m.CANCEL_TASKS) or (
                row.action not in (action[t] for t in running)
            ):
                raise NotSupported(f"Cancelling update when stack is {row.action}_{row.status} "
                                   "is not allowed.")  # fmt: skip
            return row.task in running

        await self._task(stack, ready, task=m.T_CANCEL if rollback else m.T_CANCEL_ONLY,
                         credential=ctx.token)  # fmt: skip
