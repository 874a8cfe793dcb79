"""The orchestration agent, on the shared reconcile loop: each stack with a
task (create, update, delete) is one piece of work.  At start, a stack
whose engine died half-way (resources left IN_PROGRESS) is failed cleanly:
those resources FAILED with the reason, the stack ``<ACTION>_FAILED``; a
delete is simply done again (it is idempotent), and a create or update
accepted but never started simply runs."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from stratus.common import logs, tls
from stratus.common.db import utcnow
from stratus.common.reconciler import Reconciler, Timing
from stratus.orchestration import models as m
from stratus.orchestration.agent.actions import Actions
from stratus.orchestration.agent.engine import Engine
from stratus.orchestration.agent.recorder import Recorder
from stratus.orchestration.agent.snapshots import SnapshotWork
from stratus.orchestration.agent.state import StackInfo
from stratus.orchestration.agent.update import Updater
from stratus.orchestration.drivers.base import Api, ResourceType
from stratus.orchestration.drivers.openstack import HttpApi
from stratus.orchestration.service.trusts import StackTrusts
from stratus.orchestration.template import hot
from stratus.orchestration.template import plan as planning
from stratus.orchestration.template.plan import Plan

log = logging.getLogger(__name__)

CANCEL_POLL = 0.5  # seconds between looks for a cancel of the update that runs


def definition(stack: m.Stack) -> dict[str, Any]:
    return {"template": stack.template, "environment": stack.environment,
            "files": stack.files, "parameters": stack.parameters}  # fmt: skip


def plan_of(stack: m.Stack, d: Mapping[str, Any], registry: Mapping[str, ResourceType]) -> Plan:
    pseudo = {"OS::stack_name": stack.name, "OS::stack_id": stack.id,
              "OS::project_id": stack.project_id}  # fmt: skip
    return planning.build(d["template"], d.get("environment") or {}, d.get("files") or {},
                          d.get("parameters") or {}, pseudo, registry.__contains__)  # fmt: skip


class OrchestrationAgent:
    def __init__(
        self,
        recorder: Recorder,
        registry: Mapping[str, ResourceType],
        public_url: str,
        timing: Timing = Timing(poll_interval=2.0, sync_interval=60.0),
        api_factory: Any = None,
        guest_url: str = "",
        trusts: StackTrusts | None = None,
    ):
        self.rec = recorder
        self.registry = registry
        self.public_url = public_url
        self.guest_url = guest_url
        self.trusts = trusts
        self.tokens: dict[str, str] = {}  # stack id -> the token of its trust, for this task
        self.engine = Engine(recorder, registry)
        self.updater = Updater(self.engine)
        self.actions = Actions(self.engine)
        self.snapshots = SnapshotWork(recorder)
        self.client = tls.client(timeout=60.0)
        self.api_factory = api_factory or self._http_api
        self.loop = Reconciler("orchestration-engine", self, timing)

    def _http_api(self, stack: m.Stack) -> Api:
        token = self.tokens.pop(stack.id, None)
        renew = None
        if token and stack.trust_id and self.trusts is not None:
            trusts, trust_id = self.trusts, stack.trust_id

            async def renew() -> str | None:  # the trust's token expired mid-task
                return await trusts.token(trust_id, fresh=True)

        return HttpApi(self.public_url, token or stack.credential or "", stack.project_id,
                       self.client, self.guest_url, renew)  # fmt: skip

    # -- the loop's face --------------------------------------------------------------------

    def wake(self) -> None:
        self.loop.wake()

    async def start(self) -> None:
        await self.loop.start()

    async def stop(self) -> None:
        await self.loop.stop()
        await self.client.aclose()
        if self.trusts is not None:
            await self.trusts.close()

    async def idle(self, timeout: float = 30.0) -> None:
        await self.loop.idle(timeout)

    # -- Workflows --------------------------------------------------------------------------

    async def register(self) -> None:
        return None

    async def heartbeat(self) -> None:
        return None

    async def resync(self) -> None:
        return None

    async def _drop_trust(self, stack: m.Stack) -> None:
        """The trust of a deleted stack goes; its id is cleared once it has."""
        if stack.trust_id and self.trusts is not None and await self.trusts.delete(stack.trust_id):
            await self.rec.update_stack(stack, trust_id=None)

    async def adopt(self) -> None:
        if self.trusts is not None:
            for gone in await self.rec.trusts_left():
                await self._drop_trust(gone)
        for stack in await self.rec.in_progress():
            if stack.task in (None, m.T_DELETE):
                continue
            if stack.task in (m.T_UPDATE, m.T_RESTORE, *m.CANCEL_TASKS) and stack.pending is not None:
                continue  # accepted, never started (starting takes pending in one write)
            states = await self.rec.resources(stack.id)
            stuck = [s for s in states.values() if s.status == m.IN_PROGRESS]
            if not stuck and not states and (stack.task == m.T_CREATE or (
                stack.task in m.CANCEL_TASKS and stack.action == m.CREATE
            )):  # fmt: skip
                continue  # never started: it runs now (or its cancel does)
            if stack.task in m.ACTION_TASKS or stack.task == m.T_SNAPSHOT:
                continue  # suspend, resume, check, snapshot: done again (each step is idempotent)
            reason = f"Engine went down during stack {stack.action}"
            log.warning("orchestration: stack %s (%s): %s", stack.name, stack.id, reason)
            for st in stuck:
                st.status, st.reason = m.FAILED, f"{reason} (resource {st.name})"
                await self.rec.save(stack.id, st)
            await self.rec.stack_status(stack.id, stack.action, m.FAILED, reason)
            await self.rec.update_stack(stack, task=None, credential=None, pending=None)

    async def pending(self) -> Iterable[str]:
        dropping = [m.SNAPSHOT_KEY + i for i in await self.snapshots.dropping()]
        return [*await self.rec.pending(), *dropping]

    async def _api(self, stack: m.Stack) -> Api:
        if stack.trust_id and self.trusts is not None:
            # The stack's trust, not the token of the request (it may be gone).
            token = await self.trusts.token(stack.trust_id)
            if token:
                self.tokens[stack.id] = token
        api: Api = self.api_factory(stack)
        self.tokens.pop(stack.id, None)
        return api

    async def work(self, key: str) -> None:
        if key.startswith(m.SNAPSHOT_KEY):
            await self.snapshots.drop(key[len(m.SNAPSHOT_KEY):], self._api)
            return
        stack = await self.rec.stack(key)
        if stack is None or stack.task is None:
            return
        logs.bind_request_id(stack.request_id)
        info = StackInfo(stack.id, stack.name, stack.project_id, stack.disable_rollback,
                         stack.timeout_mins)  # fmt: skip
        api = await self._api(stack)
        task = stack.task
        try:
            if task == m.T_CREATE:
                await self._create(stack, info, api)
            elif task in (m.T_UPDATE, m.T_RESTORE):
                await self._update(stack, info, api)
            elif task in m.CANCEL_TASKS:
                await self._cancel_queued(stack, info, api)
            elif task == m.T_SNAPSHOT:
                await self.snapshots.take(stack.id, api)
            elif task in m.ACTION_TASKS:
                await self.actions.run(info, api, m.ACTION_TASKS[task])
            elif task == m.T_DELETE:
                if await self.engine.delete(info, api, hot.retained(stack.template or {})):
                    await self.snapshots.forget(stack.id, api)
                    await self.rec.update_stack(stack, deleted=True, deleted_at=utcnow(),
                                                task=None, credential=None)  # fmt: skip
                    await self._drop_trust(stack)
                    return
        except Exception as exc:
            log.exception("orchestration: stack %s: %s failed", stack.id, task)
            action = {m.T_CREATE: m.CREATE, m.T_UPDATE: m.UPDATE, m.T_RESTORE: m.RESTORE,
                      m.T_SNAPSHOT: m.SNAPSHOT, **m.ACTION_TASKS}.get(task, m.DELETE)  # fmt: skip
            await self.rec.stack_status(stack.id, action, m.FAILED, f"{type(exc).__name__}: {exc}")
        # Cleared only if nobody gave the stack a task since this agent's own
        # last write: a request the API accepted meanwhile (the engine wrote
        # COMPLETE just before, so an update may already be queued behind
        # this one, with the same task name) bumped the generation and stays.
        fresh = await self.rec.stack(stack.id)
        ours = fresh is not None and (fresh.task == task or (
            task in (m.T_CREATE, m.T_UPDATE, m.T_RESTORE)
            and fresh.task in m.CANCEL_TASKS))  # fmt: skip
        if fresh is not None and ours and fresh.generation == stack.generation:
            await self.rec.update_stack(fresh, task=None, credential=None)

    async def _cancelled(self, stack_id: str) -> bool:
        """Wait for a cancel of the stack's update; whether to roll back."""
        while True:
            await asyncio.sleep(CANCEL_POLL)
            fresh = await self.rec.stack(stack_id)
            if fresh is not None and fresh.task in m.CANCEL_TASKS:
                return fresh.task == m.T_CANCEL

    async def _create(self, stack: m.Stack, info: StackInfo, api: Api) -> None:
        """The create, stopped by a cancel_without_rollback: what runs is
        cancelled (recorded FAILED), the stack CREATE_FAILED, as Heat's."""
        run = asyncio.create_task(
            self.engine.create(info, plan_of(stack, definition(stack), self.registry), api))
        watch = asyncio.create_task(self._cancelled(stack.id))
        done, _ = await asyncio.wait({run, watch}, return_when=asyncio.FIRST_COMPLETED)
        if run in done:
            watch.cancel()
            await asyncio.gather(watch, return_exceptions=True)
            run.result()
            return
        run.cancel()
        await asyncio.gather(run, return_exceptions=True)
        cancel = await self.rec.stack(stack.id)
        if cancel is not None:
            stack.generation = cancel.generation  # the cancel's own write
        await self.rec.stack_status(info.id, m.CREATE, m.FAILED, "Stack CREATE cancelled")

    async def _stop_update(self, info: StackInfo, api: Api, rollback: bool,
                           previous: Plan | None) -> None:  # fmt: skip
        """A cancelled update: UPDATE_FAILED, then (``rollback``) back to
        the previous template, as Heat's cancel_update."""
        await self.rec.stack_status(info.id, m.UPDATE, m.FAILED, "Stack UPDATE cancelled")
        if not rollback:
            return
        await self.rec.stack_status(info.id, m.ROLLBACK, m.IN_PROGRESS, "Stack UPDATE cancelled")
        again = None if previous is None else await self.updater.run(info, previous, api, m.ROLLBACK)
        if again is None:
            await self.rec.stack_status(info.id, m.ROLLBACK, m.COMPLETE,
                                        "Stack ROLLBACK completed successfully")  # fmt: skip
        else:
            await self.rec.stack_status(info.id, m.ROLLBACK, m.FAILED, again)

    async def _cancel_queued(self, stack: m.Stack, info: StackInfo, api: Api) -> None:
        """A cancel found as the task: of an update never started (its
        definition is dropped), of a create never started (CREATE_FAILED),
        or of either that ended first (nothing)."""
        if stack.action == m.CREATE and stack.status == m.IN_PROGRESS:
            await self.rec.stack_status(info.id, m.CREATE, m.FAILED, "Stack CREATE cancelled")
        elif stack.pending is not None and stack.status == m.IN_PROGRESS:
            if await self.rec.update_stack(stack, pending=None):
                await self._stop_update(info, api, stack.task == m.T_CANCEL, None)

    async def _update(self, stack: m.Stack, info: StackInfo, api: Api) -> None:
        pending = stack.pending
        previous: Plan | None = None
        if pending is not None:
            old = definition(stack)
            await self.rec.update_stack(stack, previous=old, pending=None, **pending)
        if stack.previous is not None:
            try:
                previous = plan_of(stack, stack.previous, self.registry)
            except Exception:
                previous = None
        run = asyncio.create_task(self.updater.update(
            info, plan_of(stack, definition(stack), self.registry), api, previous,
            m.RESTORE if stack.task == m.T_RESTORE else m.UPDATE))  # fmt: skip
        watch = asyncio.create_task(self._cancelled(stack.id))
        done, _ = await asyncio.wait({run, watch}, return_when=asyncio.FIRST_COMPLETED)
        if run in done:
            watch.cancel()
            await asyncio.gather(watch, return_exceptions=True)
            run.result()
        else:  # cancelled by the user: what runs stops (recorded FAILED)
            run.cancel()
            await asyncio.gather(run, return_exceptions=True)
            cancel = await self.rec.stack(stack.id)
            if cancel is not None:
                stack.generation = cancel.generation  # the cancel's own write
            await self._stop_update(info, api, watch.result(), previous)
        fresh = await self.rec.stack(stack.id)
        if fresh is not None and fresh.action == m.ROLLBACK and fresh.status == m.COMPLETE:
            if stack.previous is not None:
                ours = fresh.generation == stack.generation  # no request came in meanwhile
                if await self.rec.update_stack(fresh, **stack.previous) and ours:
                    stack.generation = fresh.generation  # this agent's own write
