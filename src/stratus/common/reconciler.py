"""The loop every agent shares (compute, network, volume, load balancer,
database): woken by an event, polling as a safety net, resyncing with the
host on an interval, and working on each resource that needs it in a task of
its own, never two at once for the same resource.

An agent gives the loop its ``Workflows``: how it registers and adopts what
runs at start, which resources have work, the work itself, the periodic
comparison with the host, and its heartbeat.  The loop owns the timing, the
concurrency, the error logging and the metrics (each pass of the loop and
each resource's work: ``stratus_agent_*`` in /metrics), so each agent keeps
only its workflows.

Each resource's work runs in an asyncio task of its own: ``work`` calls
``logs.bind_request_id`` with the id of the request that asked for the work
(the API records it with the task, e.g. beside the task state), and every log
line of that work, the loop's own included, carries it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from stratus.common import metrics

log = logging.getLogger(__name__)


class Workflows(Protocol):
    async def register(self) -> None:
        """Record this host as up (its row, capabilities, address)."""

    async def adopt(self) -> None:
        """At start: compare what runs on the host with the database, adopt
        what belongs to a resource, remove what belongs to nothing, and say
        so in the log."""

    async def pending(self) -> Iterable[str]:
        """The ids of the resources of this host that have work to do."""

    async def work(self, key: str) -> None:
        """Do one resource's work and record the outcome, a failure included
        (an error status with its reason), so that the resource is no longer
        pending.  Idempotent: an agent that died half-way does it again from
        the start.  An exception that escapes is logged and the resource is
        tried again later, backing off up to a minute.  Call
        ``logs.bind_request_id`` with the request id recorded with the task
        first, so that the work's log lines carry it."""

    async def resync(self) -> None:
        """Compare the host with the database and correct drift."""

    async def heartbeat(self) -> None:
        """Tell the database this agent is alive."""


@dataclass(frozen=True)
class Timing:
    poll_interval: float = 2.0  # how often pending() is asked without a wake-up
    sync_interval: float = 10.0  # how often resync() runs
    heartbeat_interval: float = 10.0
    max_parallel: int = 8  # resources worked on at once


class Reconciler:
    def __init__(self, name: str, workflows: Workflows, timing: Timing = Timing()):
        self.name = name
        self.workflows = workflows
        self.timing = timing
        self.busy: dict[str, asyncio.Task[None]] = {}
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._slots = asyncio.Semaphore(timing.max_parallel)
        self._backoff: dict[str, tuple[float, float]] = {}  # key -> (retry at, delay)

    def wake(self) -> None:
        self._wakeup.set()

    async def start(self) -> None:
        await self.workflows.register()
        await self.workflows.adopt()
        self._task = asyncio.create_task(self._run(), name=self.name)
        self.wake()

    async def stop(self) -> None:
        tasks = [t for t in [self._task, *self.busy.values()] if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._task = None

    async def idle(self, timeout: float = 30.0) -> None:
        """Wait until nothing is pending or busy (for tests and shutdown)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.busy and not list(await self.workflows.pending()):
                return
            await asyncio.sleep(0.02)
        raise TimeoutError(f"{self.name}: still busy after {timeout} s")

    async def _run(self) -> None:
        last_sync = last_beat = time.monotonic()
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), self.timing.poll_interval)
            self._wakeup.clear()
            now = time.monotonic()
            try:
                if now - last_beat >= self.timing.heartbeat_interval:
                    await self.workflows.heartbeat()
                    last_beat = now
                await self._dispatch()
                if now - last_sync >= self.timing.sync_interval:
                    await self.workflows.resync()
                    last_sync = now
            except Exception:
                metrics.AGENT_LOOP_ERRORS.labels(self.name).inc()
                log.exception("%s: loop failed; retrying", self.name)
            finally:
                metrics.AGENT_LOOP.labels(self.name).observe(time.monotonic() - now)

    async def _dispatch(self) -> None:
        now = time.monotonic()
        for key in await self.workflows.pending():
            retry_at = self._backoff.get(key, (0.0, 0.0))[0]
            if key not in self.busy and now >= retry_at:
                self.busy[key] = asyncio.create_task(self._work(key), name=f"{self.name}-{key}")

    async def _work(self, key: str) -> None:
        started = time.monotonic()
        try:
            async with self._slots:
                started = time.monotonic()
                await self.workflows.work(key)
            self._backoff.pop(key, None)
        except asyncio.CancelledError:
            raise
        except Exception:
            metrics.AGENT_WORK_ERRORS.labels(self.name).inc()
            delay = min(2 * self._backoff.get(key, (0.0, 0.5))[1], 60.0)
            self._backoff[key] = (time.monotonic() + delay, delay)
            log.exception("%s: work on %s failed; retrying in %.0f s", self.name, key, delay)
        finally:
            metrics.AGENT_WORK.labels(self.name).observe(time.monotonic() - started)
            self.busy.pop(key, None)
            self.wake()  # a request may have come while this one ran
