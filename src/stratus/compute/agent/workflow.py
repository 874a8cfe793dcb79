"""What the compute agent's workflows are and what they are given.

A workflow is an object with ``steps()``: the task states it handles and the
step for each.  The agent registers every workflow's steps by task state and,
for each server of its host with a task, runs the step of that task.  A step
records its outcome through the recorder (``succeed``: the new state and the
Success event in one transaction) or raises; the agent records a failure.

Workflows are built from ``AgentParts`` and never import the agent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from stratus.compute import models as m
from stratus.compute.agent.guests import GuestBuilder
from stratus.compute.agent.recorder import Recorder
from stratus.compute.drivers.base import Driver

Step = Callable[[m.Server], Awaitable[None]]

MAX_BOOTS_AT_ONCE = 2  # booting is CPU-bound on these machines


class Workflow(Protocol):
    def steps(self) -> Mapping[str, Step]:
        """Task state -> the step that does it."""


class Peers(Protocol):
    """Other hosts' agents, over the agent channel (``channel_client.ChannelClient``)."""

    async def push_disk(self, url: str, server_id: str, disk: Path) -> None: ...

    async def drop_moved(self, url: str, server_id: str) -> None: ...

    async def wake(self, url: str) -> None: ...


@dataclass
class AgentParts:
    """One host's agent as its workflows see it."""

    host: str
    driver: Driver
    recorder: Recorder
    guests: GuestBuilder
    shutdown_timeout: float
    wake: Callable[[], None]  # run this agent's loop again soon
    peers: Peers | None = None
    boots: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(MAX_BOOTS_AT_ONCE))

    @property
    def instances(self) -> Path:
        return self.guests.instances
