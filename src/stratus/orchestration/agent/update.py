"""A stack update: the new plan against the resources that exist.  New
resources are created, changed ones updated in place where their type
allows it and replaced where it does not, removed ones deleted (after the
rest, in reverse order); unchanged ones are left alone, same ids.  A
failure cancels what still runs (each recorded FAILED) and the stack ends
UPDATE_FAILED with the failing resource's reason, or is rolled back."""

from __future__ import annotations

import asyncio

from stratus.orchestration import models as m
from stratus.orchestration.agent.engine import Engine, reason_of, run_graph
from stratus.orchestration.agent.state import ResourceState, StackInfo
from stratus.orchestration.drivers.base import Api, Outcome
from stratus.orchestration.template.plan import Plan


class Updater:
    def __init__(self, engine: Engine):
        self.engine = engine
        self.store = engine.store
        self.registry = engine.registry

    async def _change(
        self, stack: StackInfo, plan: Plan, name: str, api: Api,
        states: dict[str, ResourceState], action: str,
    ) -> None:  # fmt: skip
        rdef = plan.resources[name]
        old = states.get(name)
        fresh = old is None or not old.exists or (old.action == m.CREATE and old.status != m.COMPLETE)
        if old is not None and fresh and old.exists:
            await self.engine.delete_one(stack, old, api, action)
        if fresh:
            await self.engine.create_one(stack, plan, name, api, states, m.CREATE)
            return
        assert old is not None
        new_props = self.engine.properties(plan, name, states)
        kind = self.registry[rdef.type]
        same_type = old.type == rdef.type
        healthy = old.status == m.COMPLETE
        old.requires, old.metadata = sorted(plan.deps[name]), rdef.metadata
        if same_type and healthy and new_props == old.properties and not kind.lazy:
            await self.store.save(stack.id, old, event=False)
            return
        if same_type and healthy and kind.updatable(old.properties, new_props):
            old.action, old.status, old.reason = action, m.IN_PROGRESS, "state changed"
            await self.store.save(stack.id, old)

            async def made(out: Outcome) -> None:  # what exists so far, recorded
                old.physical_id, old.attributes, old.data = out.physical_id, out.attributes, out.data
                await self.store.save(stack.id, old, event=False)

            ctx = self.engine.context(stack, plan, name, states)
            ctx.made = made
            try:
                out = await kind.update(api, old.outcome, old.properties, new_props, ctx)
            except (Exception, asyncio.CancelledError) as exc:  # cancelled: a failure elsewhere
                old.status, old.reason = m.FAILED, reason_of(exc, name)
                await self.store.save(stack.id, old)
                raise
            old.properties = new_props
            old.physical_id, old.attributes, old.data = out.physical_id, out.attributes, out.data
            old.status, old.reason = m.COMPLETE, "state changed"
            await self.store.save(stack.id, old)
            return
        # Replace: the old one goes, a new one is made under the same name.
        await self.engine.delete_one(stack, old, api, action)
        await self.engine.create_one(stack, plan, name, api, states, m.CREATE)

    async def run(self, stack: StackInfo, plan: Plan, api: Api, action: str = m.UPDATE) -> str | None:
        """Bring the stack's resources to ``plan``; the failure's reason, or
        None when it succeeded."""
        states = await self.store.resources(stack.id)
        removed = {n: st for n, st in states.items() if n not in plan.resources}

        async def act(n: str) -> None:
            await self._change(stack, plan, n, api, states, action)

        # A failure cancels what is still being made or changed (as Heat's
        # update: a wait condition would otherwise wait out its timeout).
        errors = await self.engine.timed(stack, run_graph(plan.deps, act, cancel=True))
        if not errors:
            errors = await self.engine.delete_all(stack, removed, api, action)
        if errors:
            return self.engine.failure_reason(errors, action)
        return None

    async def update(self, stack: StackInfo, plan: Plan, api: Api, previous: Plan | None,
                     action: str = m.UPDATE) -> None:  # fmt: skip
        """``action``: UPDATE, or RESTORE (to a snapshot's definition)."""
        await self.store.stack_status(stack.id, action, m.IN_PROGRESS, f"Stack {action} started")
        failure = await self.run(stack, plan, api)
        if failure is None:
            await self.store.stack_status(stack.id, action, m.COMPLETE,
                                          f"Stack {action} completed successfully")  # fmt: skip
            return
        await self.store.stack_status(stack.id, action, m.FAILED, failure)
        if stack.disable_rollback or previous is None:
            return
        await self.store.stack_status(stack.id, m.ROLLBACK, m.IN_PROGRESS, failure)
        again = await self.run(stack, previous, api, m.ROLLBACK)
        if again is None:
            await self.store.stack_status(stack.id, m.ROLLBACK, m.COMPLETE,
                                          "Stack ROLLBACK completed successfully")  # fmt: skip
        else:
            await self.store.stack_status(stack.id, m.ROLLBACK, m.FAILED, again)
