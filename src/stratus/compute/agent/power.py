"""Spawning a server and its power actions: spawn, rebuild, stop, start,
reboot (soft and hard), pause, unpause, suspend, resume, and delete."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping

from stratus.common.db import utcnow
from stratus.compute import models as m
from stratus.compute.agent.guests import power_state
from stratus.compute.agent.workflow import AgentParts, Step
from stratus.compute.drivers.base import Power

log = logging.getLogger(__name__)


class PowerWorkflow:
    def __init__(
        self, parts: AgentParts, forget_move: Callable[[m.Server], Awaitable[None]]
    ) -> None:
        self.parts = parts
        self.driver = parts.driver
        self.recorder = parts.recorder
        self.guests = parts.guests
        self.forget_move = forget_move  # a deleted server's copy set aside by a move

    def steps(self) -> Mapping[str, Step]:
        return {
            "spawning": self.spawn,
            "rebuilding": self.rebuild,
            "powering-off": self.stop,
            "powering-on": self.start,
            "reboot_started": self.reboot_soft,
            "reboot_started_hard": self.reboot_hard,
            "pausing": self.pause,
            "unpausing": self.unpause,
            "suspending": self.suspend,
            "resuming": self.resume,
            "deleting": self.delete,
        }

    async def spawn(self, server: m.Server) -> None:
        await self.recorder.reserve_port(server)
        await self.guests.prepare(server)
        spec = await self.guests.spec(server)
        async with self.parts.boots:
            status = await self.driver.spawn(spec)
        if not await self.recorder.succeed(
            server,
            vm_state=m.ACTIVE,
            power_state=power_state(status),
            launched_at=utcnow(),
            progress=100,
        ):
            log.info(
                "compute: server %s changed while it was built; the next step follows", server.id
            )

    async def rebuild(self, server: m.Server) -> None:
        await self.driver.destroy(server.id, self.guests.directory(server))
        await self.spawn(server)

    async def stop(self, server: m.Server) -> None:
        await self.driver.stop(server.id, self.parts.shutdown_timeout)
        await self.recorder.succeed(server, vm_state=m.STOPPED, power_state=m.SHUTDOWN)

    async def start(self, server: m.Server) -> None:
        spec = await self.guests.spec(server)
        async with self.parts.boots:
            status = await self.driver.start(spec)
        await self.recorder.succeed(server, vm_state=m.ACTIVE, power_state=power_state(status))

    async def reboot_soft(self, server: m.Server) -> None:
        spec = await self.guests.spec(server)
        async with self.parts.boots:
            status = await self.driver.reboot(spec, False, self.parts.shutdown_timeout)
        await self.recorder.succeed(server, vm_state=m.ACTIVE, power_state=power_state(status))

    async def reboot_hard(self, server: m.Server) -> None:
        spec = await self.guests.spec(server)
        current = await self.driver.status(server.id)
        async with self.parts.boots:
            if current.power in (Power.RUNNING, Power.PAUSED):
                status = await self.driver.reboot(spec, True, self.parts.shutdown_timeout)
            else:
                status = await self.driver.start(spec)
        await self.recorder.succeed(server, vm_state=m.ACTIVE, power_state=power_state(status))

    async def pause(self, server: m.Server) -> None:
        await self.driver.pause(server.id)
        await self.recorder.succeed(server, vm_state=m.PAUSED, power_state=m.POWER_PAUSED)

    async def unpause(self, server: m.Server) -> None:
        await self.driver.unpause(server.id)
        await self.recorder.succeed(server, vm_state=m.ACTIVE, power_state=m.RUNNING)

    async def suspend(self, server: m.Server) -> None:
        await self.driver.suspend(server.id)
        await self.recorder.succeed(server, vm_state=m.SUSPENDED, power_state=m.POWER_SUSPENDED)

    async def resume(self, server: m.Server) -> None:
        status = await self.driver.resume(await self.guests.spec(server))
        await self.recorder.succeed(server, vm_state=m.ACTIVE, power_state=power_state(status))

    async def delete(self, server: m.Server) -> None:
        await self.driver.destroy(server.id, self.guests.directory(server))
        await self.guests.release_ports(server)
        if (server.system_metadata or {}).get("move"):
            await self.forget_move(server)
        now = utcnow()
        await self.recorder.succeed(
            server, vm_state=m.DELETED, power_state=m.NOSTATE, deleted_at=now, terminated_at=now
        )
