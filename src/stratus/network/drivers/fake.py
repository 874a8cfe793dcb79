"""An in-memory data plane for unit tests: no interfaces, no processes.

What it holds plays the host, so it outlives an agent (a test starts a new
agent on the same fake to play a restart).  Tests can inject trouble:

* ``fail_next("ensure_port", "no room")`` makes the next call of a method
  raise ``DataPlaneError("no room")``;
* ``crash_after(n)`` makes the call after the next ``n`` calls raise
  ``SystemExit``-like ``Crash``, as an agent killed half-way through;
* ``hold("remove_port")`` makes calls of a method wait, once recorded in
  ``calls``, until the event it returns is set (a slow operation);
* ``calls`` records every call as ``(method, id)``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from stratus.network.drivers.base import (
    DataPlaneError,
    DhcpSpec,
    NetworkSpec,
    PortSpec,
    Present,
    RouterSpec,
    SecurityGroupSpec,
)


class Crash(BaseException):
    """The agent died here (not an error it may catch)."""


@dataclass
class FakeHost:
    networks: dict[str, tuple[NetworkSpec, tuple[str, ...]]] = field(default_factory=dict)
    ports: dict[str, PortSpec] = field(default_factory=dict)
    groups: dict[str, SecurityGroupSpec] = field(default_factory=dict)
    dhcp: dict[str, DhcpSpec] = field(default_factory=dict)
    routers: dict[str, RouterSpec] = field(default_factory=dict)
    degraded: set[str] = field(default_factory=set)


class FakeDataPlane:
    name = "fake"

    def __init__(self, host: FakeHost | None = None):
        self.host = host or FakeHost()
        self.calls: list[tuple[str, str]] = []
        self.started = False
        self._fail: dict[str, list[str]] = {}
        self._crash_in: int | None = None
        self._holds: dict[str, asyncio.Event] = {}

    # -- trouble ----------------------------------------------------------------

    def fail_next(self, method: str, message: str = "injected failure") -> None:
        self._fail.setdefault(method, []).append(message)

    def crash_after(self, calls: int) -> None:
        self._crash_in = calls

    def hold(self, method: str) -> asyncio.Event:
        return self._holds.setdefault(method, asyncio.Event())

    async def _gate(self, method: str) -> None:
        held = self._holds.get(method)
        if held is not None:
            await held.wait()

    def _call(self, method: str, key: str) -> None:
        if self._crash_in is not None:
            if self._crash_in == 0:
                self._crash_in = None
                raise Crash(f"crashed before {method}({key})")
            self._crash_in -= 1
        self.calls.append((method, key))
        pending = self._fail.get(method)
        if pending:
            raise DataPlaneError(pending.pop(0))

    def changes(self) -> list[tuple[str, str]]:
        """The calls that changed something (not present, start, close)."""
        return [c for c in self.calls if c[0] not in ("present", "start", "close")]

    # -- the Protocol ------------------------------------------------------------

    async def start(self) -> None:
        self._call("start", "")
        self.started = True

    async def close(self) -> None:
        self._call("close", "")

    async def present(self) -> Present:
        self._call("present", "")
        h = self.host
        return Present(
            networks=frozenset(h.networks),
            ports=frozenset(h.ports),
            dhcp=frozenset(h.dhcp),
            routers=frozenset(h.routers),
            security_groups=frozenset(h.groups),
            degraded=frozenset(h.degraded),
        )

    async def ensure_network(self, spec: NetworkSpec, peers: tuple[str, ...]) -> None:
        self._call("ensure_network", spec.id)
        await self._gate("ensure_network")
        self.host.networks[spec.id] = (spec, peers)
        self.host.degraded.discard(f"network:{spec.id}")

    async def remove_network(self, network_id: str) -> None:
        self._call("remove_network", network_id)
        await self._gate("remove_network")
        if any(p.network_id == network_id for p in self.host.ports.values()):
            raise DataPlaneError(f"network {network_id} still has ports")
        self.host.networks.pop(network_id, None)

    async def ensure_security_group(self, spec: SecurityGroupSpec) -> None:
        self._call("ensure_security_group", spec.id)
        await self._gate("ensure_security_group")
        self.host.groups[spec.id] = spec

    async def remove_security_group(self, group_id: str) -> None:
        self._call("remove_security_group", group_id)
        await self._gate("remove_security_group")
        self.host.groups.pop(group_id, None)

    async def ensure_port(self, spec: PortSpec) -> bool:
        self._call("ensure_port", spec.id)
        await self._gate("ensure_port")
        if spec.network_id not in self.host.networks:
            raise DataPlaneError(f"port {spec.id}: network {spec.network_id} has no bridge here")
        self.host.ports[spec.id] = spec
        self.host.degraded.discard(f"port:{spec.id}")
        return True

    async def remove_port(self, port_id: str) -> None:
        self._call("remove_port", port_id)
        await self._gate("remove_port")
        self.host.ports.pop(port_id, None)

    async def ensure_dhcp(self, spec: DhcpSpec) -> None:
        self._call("ensure_dhcp", spec.network.id)
        await self._gate("ensure_dhcp")
        self.host.dhcp[spec.network.id] = spec
        self.host.degraded.discard(f"dhcp:{spec.network.id}")

    async def remove_dhcp(self, network_id: str) -> None:
        self._call("remove_dhcp", network_id)
        await self._gate("remove_dhcp")
        self.host.dhcp.pop(network_id, None)

    async def ensure_router(self, spec: RouterSpec) -> None:
        self._call("ensure_router", spec.id)
        await self._gate("ensure_router")
        self.host.routers[spec.id] = spec

    async def remove_router(self, router_id: str) -> None:
        self._call("remove_router", router_id)
        await self._gate("remove_router")
        self.host.routers.pop(router_id, None)
