"""The stack actions (Heat's POST .../actions): suspend, resume and check,
each over every resource.

Suspend goes in reverse dependency order (a server before the network it
is on), resume in dependency order, check all at once.  A server is
suspended and resumed through the compute API; a type without the notion
only changes state, as Heat's types without a handler do.  A check asks
each resource's service whether the object is still there.  A failure
leaves the resource ``<ACTION>_FAILED`` with the reason, and the stack
``<ACTION>_FAILED`` with the first failing resource's."""

from __future__ import annotations

import asyncio

from stratus.orchestration import models as m
from stratus.orchestration.agent.engine import Engine, reason_of, run_graph
from stratus.orchestration.agent.state import ResourceState, StackInfo
from stratus.orchestration.drivers.base import Api


class Actions:
    def __init__(self, engine: Engine):
        self.engine = engine
        self.store = engine.store
        self.registry = engine.registry

    async def _one(self, stack: StackInfo, st: ResourceState, api: Api, action: str) -> None:
        if not st.exists:
            return
        if action == m.RESUME and st.action not in (m.SUSPEND, m.RESUME):
            return  # never suspended: nothing to resume (Heat leaves it as it is)
        st.action, st.status, st.reason = action, m.IN_PROGRESS, "state changed"
        await self.store.save(stack.id, st)
        kind = self.registry.get(st.type)
        try:
            if kind is not None:
                if action == m.SUSPEND:
                    await kind.suspend(api, st.outcome)
                elif action == m.RESUME:
                    await kind.resume(api, st.outcome)
                else:
                    await kind.check(api, st.outcome)
        except (Exception, asyncio.CancelledError) as exc:
            st.status, st.reason = m.FAILED, reason_of(exc, st.name)
            await self.store.save(stack.id, st)
            raise
        st.status, st.reason = m.COMPLETE, "state changed"
        await self.store.save(stack.id, st)

    async def run(self, stack: StackInfo, api: Api, action: str) -> bool:
        await self.store.stack_status(stack.id, action, m.IN_PROGRESS, f"Stack {action} started")
        states = await self.store.resources(stack.id)
        if action == m.SUSPEND:  # dependents first
            deps: dict[str, set[str]] = {n: set() for n in states}
            for n, st in states.items():
                for r in st.requires:
                    if r in deps:
                        deps[r].add(n)
        elif action == m.RESUME:
            deps = {n: set(st.requires) & set(states) for n, st in states.items()}
        else:
            deps = {n: set() for n in states}

        async def act(n: str) -> None:
            await self._one(stack, states[n], api, action)

        errors = await self.engine.timed(stack, run_graph(deps, act))
        if errors:
            await self.store.stack_status(stack.id, action, m.FAILED,
                                          self.engine.failure_reason(errors, action))  # fmt: skip
            return False
        await self.store.stack_status(stack.id, action, m.COMPLETE,
                                      f"Stack {action} completed successfully")  # fmt: skip
        return True
