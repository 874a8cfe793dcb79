"""A host's side of servers' NICs: the ports bound here and the taps the
guests plug into, and the interface hot-plug steps.

``HostNics.plug`` makes sure a server's ports exist and are bound to this
host (every boot on this host asks: a first boot, a start, a move's arrival),
waits, as Nova does, for the network service's ``network-vif-plugged`` of
each port that was not ACTIVE (the host's network agent made its tap and
filtered it; ``[compute] vif_plugging_timeout``), and names the taps for
the driver.  The hot-plug steps are in
``interfaces.py``.  Without a network
service, or with no real data plane on this host (not root, or turned off),
guests keep QEMU's user-mode network: said once in the log.
"""

from __future__ import annotations

import logging

from stratus.compute import models as m
from stratus.compute.drivers.base import DriverError, Nic
from stratus.compute.service.external_events import FAILED, VIF_PLUGGED, ServerEvents
from stratus.compute.service.network import VifPort
from stratus.compute.service.nics import ServerNics
from stratus.network.drivers.base import tap_name

log = logging.getLogger(__name__)

ACTIVE = "ACTIVE"


class HostNics:
    def __init__(self, host: str, nics: ServerNics, data_planes: tuple[str, ...] = ("linux",)):
        self.host = host
        self.nics = nics
        self.events = ServerEvents(nics.db, lambda _host: None)  # this side only waits
        self.vif_timeout = 300.0  # [compute] vif_plugging_timeout
        self.vif_fatal = True  # [compute] vif_plugging_is_fatal
        # The data planes whose taps this host's hypervisor driver plugs
        # into (the fake compute driver also takes the fake data plane's).
        self.data_planes = data_planes
        self._said_user_mode = False

    async def plug(
        self, server: m.Server, wait: bool = True
    ) -> tuple[list[VifPort], tuple[Nic, ...] | None]:
        """The server's ports (bound here) and its NICs; None: user-mode.
        ``wait``: for the ports' network-vif-plugged (not for an incoming
        live migration, whose guest runs at the source meanwhile)."""
        client = self.nics.client
        if client is None:
            return [], None
        since = await self.events.marker()  # before binding: no event is missed
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
        if wait:
            await self._wait_plugged(server, [p.id for p in ports if p.status != ACTIVE], since)
        return ports, tuple(nic_of(p) for p in ports)

    async def _wait_plugged(self, server: m.Server, port_ids: list[str], since: int) -> None:
        if not port_ids or self.vif_timeout <= 0:
            return
        got = await self.events.wait(server.id, VIF_PLUGGED, port_ids, since, self.vif_timeout)
        failed = sorted(p for p in port_ids if got.get(p) == FAILED)
        missing = [p for p in port_ids if p not in got]
        if missing:  # the event may be lost while the port is up: look once
            assert self.nics.client is not None
            now = await self.nics.client.ports(missing)
            missing = sorted(p for p in missing if p not in now or now[p].status != ACTIVE)
        if not failed and not missing:
            return
        what = (
            f"ports {', '.join(failed)} failed to plug" if failed else
            f"no network-vif-plugged for ports {', '.join(missing)} within {self.vif_timeout:g} s"
        )  # fmt: skip
        if self.vif_fatal:
            raise DriverError(
                f"server {server.id} on host {self.host}: {what} (is its network agent running?)"
            )
        log.warning("compute: server %s: %s; starting it anyway", server.id, what)

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
