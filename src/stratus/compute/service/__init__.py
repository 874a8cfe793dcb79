"""The compute service layer: one facade over its parts."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from stratus.common.config import Config
from stratus.common.db import Database
from stratus.compute import models as m
from stratus.compute.errors import Conflict
from stratus.compute.service.actions import Actions
from stratus.compute.service.flavors import Flavors
from stratus.compute.service.groups import Groups
from stratus.compute.service.hosts import Hosts
from stratus.compute.service.images import ImageClient
from stratus.compute.service.keypairs import KeyPairs
from stratus.compute.service.live import LiveMigrations
from stratus.compute.service.quotas import Quotas
from stratus.compute.service.scheduler import Scheduler
from stratus.compute.service.servers import Servers

log = logging.getLogger(__name__)

SCHEDULER_POLL = 5.0


class ComputeService:
    def __init__(self, cfg: Config, db: Database, image_url: str):
        self.cfg = cfg
        self.db = db
        self.quotas = Quotas(db, cfg.compute)
        self.flavors = Flavors(db)
        self.keypairs = KeyPairs(db, self.quotas)
        self.images = ImageClient(image_url)
        self.actions = Actions(db)
        self.groups = Groups(db, self.quotas)
        self.scheduler = Scheduler(db, cfg.compute, self.wake_host)
        self.servers = Servers(db, self.flavors, self.keypairs, self.quotas, self.images, self.wake)
        self.hosts = Hosts(db, self.scheduler)
        self.live = LiveMigrations(db, self.scheduler, self.wake)
        self.agents: dict[str, object] = {}  # host -> ComputeAgent running in this process
        self._schedule = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def wake(self, host: str | None) -> None:
        if host is None:
            self._schedule.set()
        else:
            self.wake_host(host)

    def wake_host(self, host: str) -> None:
        agent = self.agents.get(host)
        if agent is not None:
            agent.wake()  # type: ignore[attr-defined]

    async def start(self) -> None:
        self._task = asyncio.create_task(self._scheduler_loop(), name="compute-scheduler")

    async def _scheduler_loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._schedule.wait(), SCHEDULER_POLL)
            self._schedule.clear()
            try:
                await self.scheduler.schedule_pending()
            except Exception:
                log.exception("compute: scheduling failed; retrying")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for agent in self.agents.values():
            await agent.stop()  # type: ignore[attr-defined]
        await self.images.close()

    async def console_output(self, server: m.Server, length: int | None) -> str:
        agent = self.agents.get(server.host or "")
        if agent is None:
            raise Conflict(
                f"The console of instance {server.id} is not reachable from this API process."
            )
        return await agent.console_output(server, length)  # type: ignore[attr-defined, no-any-return]
