"""At restart the agent fails only what the dead engine left half-done."""

from __future__ import annotations

from typing import Any

import pytest

from stratus.orchestration import models as m
from stratus.orchestration.agent.agent import OrchestrationAgent
from stratus.orchestration.agent.state import ResourceState

pytestmark = pytest.mark.asyncio


class Rec:
    """The recorder's face that adopt() uses, over one stack in memory."""

    def __init__(self, stack: m.Stack, states: dict[str, ResourceState]) -> None:
        self.stack, self.states = stack, states
        self.statuses: list[tuple[str, str]] = []

    async def in_progress(self) -> list[m.Stack]:
        return [self.stack]

    async def resources(self, stack_id: str) -> dict[str, ResourceState]:
        return self.states

    async def save(self, stack_id: str, st: ResourceState) -> None:
        self.states[st.name] = st

    async def stack_status(self, stack_id: str, action: str, status: str, reason: str) -> None:
        self.statuses.append((action, status))

    async def update_stack(self, stack: m.Stack, **values: Any) -> None:
        for k, v in values.items():
            setattr(stack, k, v)


async def adopt(stack: m.Stack, states: dict[str, ResourceState]) -> Rec:
    rec = Rec(stack, states)
    agent = OrchestrationAgent(rec, {}, "http://127.0.0.1:9")  # type: ignore[arg-type]
    try:
        await agent.adopt()
    finally:
        await agent.client.aclose()
    return rec


def made() -> dict[str, ResourceState]:
    return {"r": ResourceState("r", "OS::Heat::None", "CREATE", "COMPLETE", physical_id="x")}


async def test_an_accepted_update_not_yet_started_is_left_to_run() -> None:
    pending = {"template": {"heat_template_version": "2018-08-31"}}
    stack = m.Stack(id="sid", name="s", action=m.UPDATE, status=m.IN_PROGRESS,
                    task=m.T_UPDATE, pending=pending)  # fmt: skip
    rec = await adopt(stack, made())
    assert rec.statuses == []
    assert stack.task == m.T_UPDATE and stack.pending == pending


async def test_an_update_the_engine_died_in_is_failed() -> None:
    stack = m.Stack(id="sid", name="s", action=m.UPDATE, status=m.IN_PROGRESS,
                    task=m.T_UPDATE, pending=None)  # fmt: skip
    states = made()
    states["r"].action, states["r"].status = "UPDATE", m.IN_PROGRESS
    rec = await adopt(stack, states)
    assert rec.statuses == [(m.UPDATE, m.FAILED)]
    assert stack.task is None and states["r"].status == m.FAILED


class Rows:
    """The recorder's face that work() uses: one stack row with its
    generation, read as a fresh object each time, written by compare-and-swap."""

    def __init__(self, row: m.Stack) -> None:
        self.row = row

    async def stack(self, key: str) -> m.Stack:
        r = self.row
        return m.Stack(id=r.id, name=r.name, project_id=r.project_id, task=r.task,
                       action=r.action, status=r.status, generation=r.generation,
                       template=r.template, credential=r.credential)  # fmt: skip

    async def update_stack(self, stack: m.Stack, **values: Any) -> bool:
        if stack.generation != self.row.generation:
            return False
        self.row.generation = stack.generation = stack.generation + 1
        for k, v in values.items():
            setattr(self.row, k, v)
            setattr(stack, k, v)
        return True


async def test_a_task_given_while_the_last_one_is_being_cleared_stays() -> None:
    """The engine writes COMPLETE before the agent clears its task; a request
    the API takes in between (same task name, a newer generation) is not
    cleared with it: it is left for the agent's next turn."""
    row = m.Stack(id="sid", name="s", project_id="p", task=m.T_CREATE, action=m.CREATE,
                  status=m.IN_PROGRESS, generation=1, credential="tok",
                  template={"heat_template_version": "2018-08-31"})  # fmt: skip
    rows = Rows(row)

    class Engine:
        async def create(self, *args: Any) -> None:
            row.status = m.COMPLETE  # the engine's last write (no generation)
            row.generation += 1  # the API gives the stack a task again
            row.credential = "newer"

    agent = OrchestrationAgent(rows, {}, "http://127.0.0.1:9",  # type: ignore[arg-type]
                               api_factory=lambda stack: None)  # fmt: skip
    agent.engine = Engine()  # type: ignore[assignment]
    try:
        await agent.work("sid")
        assert row.task == m.T_CREATE and row.credential == "newer"
        # With nobody writing in between, the finished task is cleared.
        agent.engine.create = lambda *args: _done(row)  # type: ignore[method-assign]
        await agent.work("sid")
        assert row.task is None and row.credential is None
    finally:
        await agent.client.aclose()


async def _done(row: m.Stack) -> None:
    row.status = m.COMPLETE


async def test_the_trust_of_a_stack_deleted_just_before_a_crash_goes_at_restart() -> None:
    class Trusts:
        def __init__(self, answers: list[bool]) -> None:
            self.answers, self.deleted = answers, []

        async def delete(self, trust_id: str) -> bool:
            self.deleted.append(trust_id)
            return self.answers.pop(0)

        async def close(self) -> None:
            return None

    gone = m.Stack(id="sid", name="s", action=m.DELETE, status=m.COMPLETE, deleted=True,
                   trust_id="t1")  # fmt: skip
    rec = Rec(gone, {})
    rec.in_progress = lambda: _none()  # type: ignore[method-assign]
    rec.trusts_left = lambda: _one(gone)  # type: ignore[attr-defined]
    trusts = Trusts([False, True])  # identity unreachable at the first restart
    for _ in range(2):
        agent = OrchestrationAgent(rec, {}, "http://127.0.0.1:9", trusts=trusts)  # type: ignore[arg-type]
        await agent.adopt()
        await agent.client.aclose()
    assert trusts.deleted == ["t1", "t1"] and gone.trust_id is None


async def _none() -> list[m.Stack]:
    return []


async def _one(stack: m.Stack) -> list[m.Stack]:
    return [stack] if stack.trust_id else []
