"""The agents' shared loop: start order, wake-ups, one task per resource,
back-off after a failure, resync and stop."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any

from stratus.common.reconciler import Reconciler, Timing


class Recorder:
    def __init__(self) -> None:
        self.calls: list[str] = []
        self.todo: set[str] = set()
        self.fail: set[str] = set()
        self.running: set[str] = set()
        self.overlap = False
        self.gate = asyncio.Event()
        self.gate.set()

    async def register(self) -> None:
        self.calls.append("register")

    async def adopt(self) -> None:
        self.calls.append("adopt")

    async def pending(self) -> Iterable[str]:
        return sorted(self.todo)

    async def work(self, key: str) -> None:
        if key in self.running:
            self.overlap = True
        self.running.add(key)
        try:
            await self.gate.wait()
            self.calls.append(f"work:{key}")
            if key in self.fail:
                raise RuntimeError("boom")
            self.todo.discard(key)
        finally:
            self.running.discard(key)

    async def resync(self) -> None:
        self.calls.append("resync")

    async def heartbeat(self) -> None:
        self.calls.append("heartbeat")


async def test_start_registers_then_adopts_then_works_on_wake() -> None:
    rec = Recorder()
    loop = Reconciler("test", rec, Timing(poll_interval=60, sync_interval=60))
    await loop.start()
    try:
        assert rec.calls[:2] == ["register", "adopt"]
        rec.todo = {"a", "b"}
        loop.wake()
        await loop.idle(5)
        assert {"work:a", "work:b"} <= set(rec.calls)
    finally:
        await loop.stop()


async def test_one_task_per_resource_even_when_woken_again() -> None:
    rec = Recorder()
    rec.gate.clear()
    rec.todo = {"a"}
    loop = Reconciler("test", rec, Timing(poll_interval=0.01, sync_interval=60))
    await loop.start()
    try:
        for _ in range(5):
            loop.wake()
            await asyncio.sleep(0.02)
        assert list(loop.busy) == ["a"]
        rec.gate.set()
        await loop.idle(5)
        assert rec.calls.count("work:a") == 1
        assert not rec.overlap
    finally:
        await loop.stop()


async def test_a_failing_resource_backs_off_and_others_go_on() -> None:
    rec = Recorder()
    rec.todo = {"bad", "good"}
    rec.fail = {"bad"}
    loop = Reconciler("test", rec, Timing(poll_interval=0.01, sync_interval=60))
    await loop.start()
    try:
        await asyncio.sleep(0.3)
        assert "work:good" in rec.calls
        # Retried, but backing off: a handful of tries, not hundreds.
        assert 1 <= rec.calls.count("work:bad") <= 3
    finally:
        await loop.stop()


async def test_resync_and_heartbeat_run_on_their_interval() -> None:
    rec = Recorder()
    loop = Reconciler(
        "test", rec, Timing(poll_interval=0.01, sync_interval=0.05, heartbeat_interval=0.05)
    )
    await loop.start()
    try:
        await asyncio.sleep(0.3)
        assert rec.calls.count("resync") >= 2
        assert rec.calls.count("heartbeat") >= 2
    finally:
        await loop.stop()
    count = len(rec.calls)
    await asyncio.sleep(0.1)
    assert len(rec.calls) == count  # stopped means stopped


def _sample(name: str, agent: str) -> float:
    from prometheus_client import REGISTRY

    return REGISTRY.get_sample_value(name, {"agent": agent}) or 0.0


async def test_work_and_loop_are_measured_and_failures_counted() -> None:
    rec = Recorder()
    rec.todo = {"bad", "good"}
    rec.fail = {"bad"}
    loop = Reconciler("metered", rec, Timing(poll_interval=0.01, sync_interval=60))
    await loop.start()
    try:
        await asyncio.sleep(0.3)
    finally:
        await loop.stop()
    tries = rec.calls.count("work:bad") + rec.calls.count("work:good")
    assert _sample("stratus_agent_work_duration_seconds_count", "metered") == tries
    assert _sample("stratus_agent_work_errors_total", "metered") == rec.calls.count("work:bad")
    assert _sample("stratus_agent_loop_duration_seconds_count", "metered") >= 2


async def test_the_request_id_bound_by_work_is_in_its_log_lines(caplog: Any) -> None:
    from stratus.common import logs

    class Bound(Recorder):
        async def work(self, key: str) -> None:
            logs.bind_request_id(f"req-for-{key}")
            logging.getLogger("agent-test").warning("working on %s", key)
            raise RuntimeError("boom")

    rec = Bound()
    rec.todo = {"x"}
    loop = Reconciler("bound", rec, Timing(poll_interval=0.01, sync_interval=60))
    caplog.handler.addFilter(logs.RequestIdFilter())
    with caplog.at_level(logging.INFO):
        await loop.start()
        try:
            await asyncio.sleep(0.1)
        finally:
            await loop.stop()
    ids = {r.getMessage().split()[0]: r.request_id for r in caplog.records if "x" in r.getMessage()}
    assert ids["working"] == "req-for-x"
    assert ids["bound:"] == "req-for-x"  # the loop's own "work on x failed" line
    assert logs.current_request_id() is None  # nothing leaked out of the work's task
