"""The orchestration service layer: one facade over its parts."""

from __future__ import annotations

from typing import Any, Protocol

from stratus.common.config import Config
from stratus.common.db import Database
from stratus.orchestration.drivers.registry import build_registry
from stratus.orchestration.service.reads import Reads
from stratus.orchestration.service.signals import Signals
from stratus.orchestration.service.snapshots import Snapshots
from stratus.orchestration.service.stacks import Stacks
from stratus.orchestration.service.trusts import StackTrusts


class Wakeable(Protocol):
    def wake(self) -> None: ...


class OrchestrationService:
    def __init__(self, cfg: Config, db: Database):
        self.cfg = cfg
        self.db = db
        self.registry = build_registry()
        self.stacks = Stacks(db, self.registry, self.wake, cfg.orchestration.max_stacks_per_project)
        self.reads = Reads(db, self.registry)
        self.snapshots = Snapshots(db, self.stacks)
        self.signals = Signals(db, self.wake)
        # Stacks outlive their user's token through trusts (service/trusts.py).
        if "identity" in cfg.services.enabled or cfg.auth.identity_url:
            self.stacks.trusts = StackTrusts(cfg)
        # The engine agent of this process (the primary's), woken at once
        # when a task is recorded; it polls as well.
        self.agent: Wakeable | None = None

    def wake(self) -> None:
        if self.agent is not None:
            self.agent.wake()

    async def stop(self) -> None:
        stop: Any = getattr(self.agent, "stop", None)
        if stop is not None:
            await stop()
        self.agent = None
        if self.stacks.trusts is not None:
            await self.stacks.trusts.close()
