"""The agent's interface hot-plug steps (os-interface, add/remove port or
network): a running guest gets the NICs of its attached ports that it lacks
and loses those of its detaching ports, which are then released."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping

from stratus.compute import models as m
from stratus.compute.agent.nics import HostNics
from stratus.compute.agent.workflow import AgentParts, Step
from stratus.compute.drivers.base import DriverError

ATTACHING, DETACHING = "interface_attaching", "interface_detaching"


class InterfaceWorkflow:
    """Hot-plug: a running guest gets the NICs of its attached ports that it
    lacks, and loses those of its detaching ports (then released).  A guest
    that is not running has nothing to plug: its next boot takes the ports."""

    def __init__(self, parts: AgentParts, host_nics: HostNics) -> None:
        self.parts = parts
        self.host_nics = host_nics

    def steps(self) -> Mapping[str, Step]:
        return {ATTACHING: self.attach, DETACHING: self.detach}

    async def _running(self, server: m.Server) -> bool:
        status = await self.parts.driver.status(server.id)
        return status.pid is not None

    async def attach(self, server: m.Server) -> None:
        # Whether the guest runs is asked (QMP) while the network agent
        # plugs the tap, not after.
        running = asyncio.create_task(self._running(server))
        try:
            _ports, nics = await self.host_nics.plug(server)
        except BaseException:
            running.cancel()
            with contextlib.suppress(BaseException):
                await running
            raise
        if await running and nics is not None:
            spec = self.parts.guests.running_spec(server, nics)
            try:
                for nic in nics:
                    await self.parts.driver.attach_interface(spec, nic)
            except DriverError:
                if await self._running(server):
                    raise
                # it stopped meanwhile: its next boot takes the ports
        await self.parts.recorder.succeed(server)

    async def detach(self, server: m.Server) -> None:
        rows = [
            r for r in await self.host_nics.nics.rows([server.id]) if r.state == m.PORT_DETACHING
        ]
        if rows and await self._running(server):
            _ports, nics = await self.host_nics.plug(server)
            if nics is not None:
                spec = self.parts.guests.running_spec(server, nics)
                for row in rows:
                    await self.parts.driver.detach_interface(spec, row.port_id)
        for row in rows:
            await self.host_nics.nics.release_one(row)
        await self.parts.recorder.succeed(server)
