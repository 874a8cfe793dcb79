"""The network service layer: one facade over its parts, and the few calls
the data plane (each host's network agent) makes."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from stratus.common.config import Config
from stratus.common.db import Database
from stratus.network import models as m
from stratus.network.drivers.base import HostState
from stratus.network.errors import InvalidInput
from stratus.network.service import bootstrap, hoststate
from stratus.network.service.agents import Agents
from stratus.network.service.core import Core
from stratus.network.service.floatingips import FloatingIPs
from stratus.network.service.networks import Networks
from stratus.network.service.ports import Ports
from stratus.network.service.quotas import Quotas
from stratus.network.service.routers import Routers
from stratus.network.service.secgroups import SecurityGroups
from stratus.network.service.subnetpools import SubnetPools
from stratus.network.service.subnets import Subnets
from stratus.network.service.tags import Tags
from stratus.network.service.topology import Topologies

log = logging.getLogger(__name__)

PORT_STATUSES = (m.ACTIVE, m.DOWN, m.BUILD)


class NetworkService:
    def __init__(self, cfg: Config, db: Database):
        self.cfg = cfg
        self.db = db
        self.core = Core(cfg, db)
        self.quotas = Quotas(self.core)
        self.groups = SecurityGroups(self.core, self.quotas)
        self.networks = Networks(self.core, self.quotas, self.groups)
        self.pools = SubnetPools(self.core, self.quotas)
        self.subnets = Subnets(self.core, self.quotas, self.pools)
        self.ports = Ports(self.core, self.quotas, self.groups)
        self.routers = Routers(self.core, self.quotas, self.subnets, self.ports)
        self.floatingips = FloatingIPs(self.core, self.quotas, self.ports)
        self.agents = Agents(self.core)
        self.topologies = Topologies(
            self.core, self.groups, self.networks, self.subnets, self.routers, self.pools
        )
        self.tags = Tags(
            self.core,
            {
                "networks": self.networks.load,
                "subnets": self.subnets.load,
                "ports": self.ports.load,
                "routers": self.routers.load,
                "floatingips": self.floatingips.load,
                "security_groups": self.groups.load,
                "subnetpools": self.pools.load,
            },
        )

    @property
    def host(self) -> str:
        """The network host: it serves every network's DHCP and runs every router."""
        return self.core.host

    async def start(self, *, bootstrap_cloud: bool = True) -> None:
        if bootstrap_cloud:
            await bootstrap.ensure(self.core, self.networks)

    async def stop(self) -> None:
        return None

    # -- the data plane's calls ------------------------------------------------------

    async def host_state(self, host: str) -> HostState:
        """Everything host ``host`` must hold, read in one transaction:

        - ``ports``: the guests' ports bound to it (``binding:host_id`` ==
          host, device owner ``compute:*``), with their fixed IPs, MAC,
          allowed address pairs and security group ids;
        - ``security_groups``: the groups those ports use and the groups
          their rules name as remote, each with its rules and the addresses
          of all its member ports (fixed IPs and allowed address pairs),
          wherever those ports are;
        - ``dhcp``: the networks whose DHCP it serves (``network.dhcp_host``),
          each with its DHCP port (``network:dhcp``) and a host entry for
          every other port's address on a subnet with DHCP;
        - ``routers``: the routers it runs (``router.host``), with their
          interface ports, gateway port and its next hops, static routes and
          associated floating IPs;
        - ``networks``: every network any of the above is on, with its VXLAN
          ``segmentation_id``, MTU and subnets;
        - ``peers``: for each of those networks, the tunnel addresses of the
          other hosts holding something on it (from their agents'
          registrations).

        The agent compares this with what its driver finds and acts."""
        async with self.db.session() as s:
            return await hoststate.build(s, host)

    async def set_port_status(self, port_id: str, status: str) -> bool:
        """The data plane's report on a port it holds: ``ACTIVE`` once its
        device is plugged and filtered, ``DOWN`` when it is not.  Bumps the
        port's revision when the status changes; False when the port is gone."""
        if status not in PORT_STATUSES:
            raise InvalidInput(f"'{status}' is not a port status")
        return await self.ports.set_status(port_id, status)

    async def register_agent(
        self, host: str, tunnel_ip: str | None, configurations: dict[str, Any] | None = None
    ) -> str:
        """At an agent's start: record host ``host`` and its VXLAN tunnel
        address (shown in ``GET /v2.0/agents``); returns the agent's id."""
        agent = await self.agents.register(host, tunnel_ip, configurations=configurations)
        return agent.id

    async def agent_heartbeat(self, host: str) -> bool:
        """The agent of ``host`` is alive (every few seconds); False when its
        registration is gone (deleted by an admin): register again."""
        return await self.agents.heartbeat(host)

    def subscribe(self, host: str | None, wake: Callable[[], None]) -> Callable[[], None]:
        """Have ``wake`` called after every change that host ``host`` holds
        (every change when ``host`` is None): the all-in-one's in-process
        wake-up.  Returns a function that unsubscribes.  Agents in other
        processes are not woken: they poll."""
        return self.core.notifier.subscribe(host, wake)
