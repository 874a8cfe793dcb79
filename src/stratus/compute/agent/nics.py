"""A host's side of servers' NICs: the ports bound here and the taps the
guests plug into, and the interface hot-plug steps.

``HostNics.plug`` makes sure a server's ports exist and are bound to this
host (every boot on this host asks: a first boot, a start, a move's arrival),
waits until the host's network agent reports them ACTIVE (their taps made
and filtered), and names the taps for the driver.  The hot-plug steps are in
``interfaces.py``.  Without a network
service, or with no real data plane on this host (not root, or turned off),
guests keep QEMU's user-mode network: said once in the log.
"""

from __future__ import annotations

import logging

from stratus.compute import models as m
from stratus.compute.drivers.base import DriverError, Nic
from stratus.compute.service.network import VifPort
from stratus.compute.service.nics import ServerNics
from stratus.network.drivers.base import tap_name

log = logging.getLogger(__name__)

ACTIVE_TIMEOUT = 60.0  # for the network agent to make a port's tap


class HostNics:
    def __init__(self, host: str, nics: ServerNics, data_planes: tuple[str, ...] = ("linux",)):
        self.host = host
        self.nics = nics
        # The data planes whose taps this host's hypervisor driver plugs
        # into (the fake compute driver also takes the fake data plane's).
        self.data_planes = data_planes
        self._said_user_mode = False

    async def plug(self, server: m.Server) -> tuple[list[VifPort], tuple[Nic, ...] | None]:
        """The server's ports (bound here) and its NICs; None: user-mode."""
        client = self.nics.client
        if client is None:
            return [], None
        ports = await self.nics.ensure(server, self.host)
        if await client.data_plane(self.host) not in self.data_planes:
            if not self._said_user_mode:
                log.warning(
                    "compute: host %s has no network data plane (the network agent is not "
                    "running here with the linux driver): guests get QEMU's user-mode network",
                    self.host,
                )
                self._said_user_mode = True
            return ports, None
        if ports and not await client.wait_active([p.id for p in ports], ACTIVE_TIMEOUT):
            raise DriverError(
                f"the ports of server {server.id} did not become ACTIVE on host {self.host} "
                f"within {ACTIVE_TIMEOUT:g} s (is its network agent running?)"
            )
        return ports, tuple(nic_of(p) for p in ports)

    async def release(self, server: m.Server) -> None:
        if self.nics.client is None:
            return
        done = await self.nics.release(server)
        if done:
            log.info("compute: server %s: released ports %s", server.id, ", ".join(done))

    async def sweep(self) -> None:
        removed = await self.nics.sweep(self.host)
        for port_id in removed:
            log.warning("compute: removed port %s: its server is gone", port_id)


def nic_of(port: VifPort) -> Nic:
    return Nic(port.id, port.mac_address, tap_name(port.id), port.mtu)
