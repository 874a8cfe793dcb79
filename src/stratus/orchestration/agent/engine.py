"""The engine: a plan's resources created, updated and deleted in
dependency order, independent ones at once.

A failure stops what has not started; on create and update, what runs is
cancelled too (as Heat does: a wait condition would otherwise wait out its
timeout for servers that will never signal), each recorded FAILED with what
it had made; the stack ends FAILED with the failing resource's reason, or is
rolled back when rollback is enabled.  Delete goes in reverse order and retries what is still in use."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Collection, Coroutine, Mapping
from typing import Any

from stratus.common.errors import StratusError
from stratus.orchestration import models as m
from stratus.orchestration.agent.state import ResourceState, StackInfo, Store
from stratus.orchestration.drivers.base import Api, ApiError, Context, Outcome, ResourceType
from stratus.orchestration.drivers.config import CONFIG_TYPES
from stratus.orchestration.errors import ResourceFailure
from stratus.orchestration.template import functions as fns
from stratus.orchestration.template.plan import Plan

log = logging.getLogger(__name__)

DELETE_RETRIES = 8  # a resource still in use (409) is tried again this many times
TITLES = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound",
          409: "Conflict", 413: "OverLimit", 503: "ServiceUnavailable"}  # fmt: skip


def reason_of(exc: BaseException, name: str) -> str:
    """Heat's reason text: ``<Kind>: resources.<name>: <message>``."""
    if isinstance(exc, asyncio.CancelledError):
        return f"Cancelled: resources.{name}: another resource failed or the stack timed out"
    if isinstance(exc, ApiError):
        kind = TITLES.get(exc.status, f"HTTP{exc.status}")
    elif isinstance(exc, StratusError):
        kind = type(exc).__name__
    elif isinstance(exc, ResourceFailure):
        kind = "ResourceFailure"
    else:
        kind = type(exc).__name__
    return f"{kind}: resources.{name}: {exc}"


async def run_graph(
    deps: Mapping[str, set[str]],
    act: Callable[[str], Coroutine[Any, Any, None]],
    cancel: bool = False,
) -> list[tuple[str, BaseException]]:
    """``act`` on every node once its dependencies are done, independent
    nodes at once.  After the first failure nothing new starts, and with
    ``cancel`` what runs is cancelled; the errors of what ran are returned."""
    left = {n: set(d) & set(deps) for n, d in deps.items()}
    running: dict[asyncio.Task[None], str] = {}
    errors: list[tuple[str, BaseException]] = []
    try:
        while left or running:
            if not errors:
                for n in sorted(n for n, d in left.items() if not d):
                    del left[n]
                    running[asyncio.create_task(act(n))] = n
            if not running:
                break
            done, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                n = running.pop(task)
                exc = task.exception()
                if exc is not None:
                    errors.append((n, exc))
                    continue
                for d in left.values():
                    d.discard(n)
            if errors and cancel:
                break  # what still runs is cancelled below
    finally:  # cancelled (a stack timeout): nothing goes on behind the caller's back
        for task in running:
            task.cancel()
        if running:
            await asyncio.gather(*running, return_exceptions=True)
    return errors


class Engine:
    def __init__(self, store: Store, registry: Mapping[str, ResourceType]):
        self.store = store
        self.registry = registry

    def _scope(self, plan: Plan, states: dict[str, ResourceState]) -> fns.Scope:
        def ref(name: str) -> Any:
            st = states.get(name)
            return st.reference if st else None

        def attr(name: str, attribute: str) -> Any:
            st = states.get(name)
            return st.attribute(attribute) if st else None

        return plan.scope(ref, attr)

    def properties(self, plan: Plan, name: str, states: dict[str, ResourceState]) -> dict[str, Any]:
        rdef = plan.resources[name]
        kind = self.registry[rdef.type]
        scope = self._scope(plan, states)
        held: dict[tuple[str, str], Any] = {}
        raw = rdef.properties
        for outer, inner in kind.lazy:  # left for the type to evaluate
            if isinstance(raw.get(outer), dict) and inner in raw[outer]:
                held[(outer, inner)] = raw[outer][inner]
                raw = {**raw, outer: {k: v for k, v in raw[outer].items() if k != inner}}
        resolved = fns.resolve(raw, scope)
        for (outer, inner), value in held.items():
            if isinstance(resolved.get(outer), dict):
                resolved[outer] = {**resolved[outer], inner: value}
        return kind.validate(resolved, f"resources.{name}")

    def context(self, stack: StackInfo, plan: Plan, name: str,
                states: dict[str, ResourceState]) -> Context:  # fmt: skip
        scope = self._scope(plan, states)

        def config(ref: str) -> str | None:
            for st in states.values():
                if st.type in CONFIG_TYPES and st.physical_id == ref:
                    return str(st.attributes.get("config") or "")
            return None

        return Context(stack.name, stack.id, name, lambda v: fns.resolve(v, scope), config=config)

    async def create_one(
        self, stack: StackInfo, plan: Plan, name: str, api: Api,
        states: dict[str, ResourceState], action: str,
    ) -> None:  # fmt: skip
        rdef = plan.resources[name]
        st = ResourceState(name, rdef.type, action, m.IN_PROGRESS, "state changed",
                           requires=sorted(plan.deps[name]), metadata=rdef.metadata)  # fmt: skip
        states[name] = st
        try:
            st.properties = self.properties(plan, name, states)
        except Exception as exc:
            st.status, st.reason = m.FAILED, reason_of(exc, name)
            await self.store.save(stack.id, st)
            raise
        await self.store.save(stack.id, st)  # IN_PROGRESS, with what it is made of

        async def made(out: Outcome) -> None:  # recorded before the type waits on it
            st.physical_id, st.data = out.physical_id, out.data
            await self.store.save(stack.id, st, event=False)

        ctx = self.context(stack, plan, name, states)
        ctx.made = made
        try:
            out = await self.registry[rdef.type].create(api, st.properties, ctx)
        except (Exception, asyncio.CancelledError) as exc:  # cancelled: the stack timed out
            st.status, st.reason = m.FAILED, reason_of(exc, name)
            await self.store.save(stack.id, st)
            raise
        st.physical_id, st.attributes, st.data = out.physical_id, out.attributes, out.data
        st.status, st.reason = m.COMPLETE, "state changed"
        await self.store.save(stack.id, st)

    async def delete_one(
        self, stack: StackInfo, st: ResourceState, api: Api, action: str = m.DELETE,
        retain: Collection[str] = (),
    ) -> None:  # fmt: skip
        if not st.exists or st.name in retain:  # Retain: the stack lets go of it
            await self.store.remove(stack.id, st.name)
            return
        st.action, st.status, st.reason = action, m.IN_PROGRESS, "state changed"
        await self.store.save(stack.id, st)
        kind = self.registry.get(st.type)
        delay = 0.2
        for attempt in range(DELETE_RETRIES + 1):
            try:
                if kind is not None and st.physical_id is None and st.properties:
                    found = await kind.locate(api, st.properties, Context(stack.name, stack.id,
                                                                          st.name))  # fmt: skip
                    if found is not None:
                        st.physical_id, st.data = found.physical_id, found.data
                if kind is not None:
                    await kind.delete(api, st.outcome)
                break
            except ApiError as exc:
                if exc.status == 409 and attempt < DELETE_RETRIES:
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 5.0)
                    continue
                st.status, st.reason = m.FAILED, reason_of(exc, st.name)
                await self.store.save(stack.id, st)
                raise
            except (Exception, asyncio.CancelledError) as exc:  # cancelled: a failure elsewhere
                st.status, st.reason = m.FAILED, reason_of(exc, st.name)
                await self.store.save(stack.id, st)
                raise
        st.status, st.reason = m.COMPLETE, "state changed"
        await self.store.save(stack.id, st)
        await self.store.remove(stack.id, st.name)

    async def delete_all(
        self, stack: StackInfo, states: dict[str, ResourceState], api: Api, action: str = m.DELETE,
        retain: Collection[str] = (),
    ) -> list[tuple[str, BaseException]]:
        """Every resource in ``states``, those needing others first; those
        in ``retain`` are only forgotten."""
        needed_by: dict[str, set[str]] = {n: set() for n in states}
        for n, st in states.items():
            for r in st.requires:
                if r in needed_by:
                    needed_by[r].add(n)

        async def act(n: str) -> None:
            await self.delete_one(stack, states[n], api, action, retain)

        return await run_graph(needed_by, act)

    async def create(self, stack: StackInfo, plan: Plan, api: Api) -> None:
        await self.store.stack_status(stack.id, m.CREATE, m.IN_PROGRESS, "Stack CREATE started")
        states = await self.store.resources(stack.id)

        async def act(n: str) -> None:
            if n in states and states[n].action == m.CREATE and states[n].status == m.COMPLETE:
                return
            await self.create_one(stack, plan, n, api, states, m.CREATE)

        errors = await self.timed(stack, run_graph(plan.deps, act, cancel=True))
        if not errors:
            await self.store.stack_status(stack.id, m.CREATE, m.COMPLETE,
                                          "Stack CREATE completed successfully")  # fmt: skip
            return
        reason = self.failure_reason(errors)
        await self.store.stack_status(stack.id, m.CREATE, m.FAILED, reason)
        if not stack.disable_rollback:
            await self.store.stack_status(stack.id, m.ROLLBACK, m.IN_PROGRESS, reason)
            failed = await self.delete_all(stack, states, api, m.ROLLBACK)
            if failed:
                await self.store.stack_status(stack.id, m.ROLLBACK, m.FAILED,
                                              self.failure_reason(failed, m.DELETE))  # fmt: skip
            else:
                await self.store.stack_status(stack.id, m.ROLLBACK, m.COMPLETE,
                                              "Stack ROLLBACK completed successfully")  # fmt: skip

    async def delete(self, stack: StackInfo, api: Api, retain: Collection[str] = ()) -> bool:
        await self.store.stack_status(stack.id, m.DELETE, m.IN_PROGRESS, "Stack DELETE started")
        states = await self.store.resources(stack.id)
        errors = await self.delete_all(stack, states, api, retain=retain)
        if errors:
            await self.store.stack_status(stack.id, m.DELETE, m.FAILED,
                                          self.failure_reason(errors, m.DELETE))  # fmt: skip
            return False
        await self.store.stack_status(stack.id, m.DELETE, m.COMPLETE,
                                      "Stack DELETE completed successfully")  # fmt: skip
        return True

    async def timed(
        self, stack: StackInfo, work: Awaitable[list[tuple[str, BaseException]]]
    ) -> list[tuple[str, BaseException]]:
        if not stack.timeout_mins:
            return await work
        try:
            return await asyncio.wait_for(work, stack.timeout_mins * 60)
        except TimeoutError:
            return [("stack", ResourceFailure(f"Timed out after {stack.timeout_mins} minutes"))]

    @staticmethod
    def failure_reason(errors: list[tuple[str, BaseException]], action: str = m.CREATE) -> str:
        name, exc = errors[0]
        for n, e in errors:
            log.info("resource %s failed: %s", n, e)
        return f"Resource {action} failed: {reason_of(exc, name)}"
