"""What the network agent needs from the network service: a small Protocol
of plain async calls over plain values.  The service layer's facade
(``NetworkService``) has these methods, so the all-in-one passes it as is;
``stratus network-agent`` builds one over the shared database.  The agent
reads nothing else."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from stratus.network.drivers.base import HostState


@dataclass(frozen=True)
class AgentInfo:
    """What an agent says of itself when it registers (``GET /v2.0/agents``)."""

    host: str
    tunnel_ip: str | None  # the VXLAN endpoint other hosts send to; None: no tunnels
    configurations: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)


class StateSource(Protocol):
    async def host_state(self, host: str) -> HostState:
        """Everything host ``host`` must hold (see ``drivers/base.py``)."""

    async def set_port_status(self, port_id: str, status: str) -> bool:
        """Record a port's status (ACTIVE or DOWN) as its host sees it;
        False when the port is gone."""

    async def register_agent(
        self, host: str, tunnel_ip: str | None, configurations: dict[str, Any] | None = None
    ) -> str:
        """Record host ``host``'s agent as up, with its tunnel address."""

    async def agent_heartbeat(self, host: str) -> bool:
        """This host's agent is alive; False when its registration is gone."""

    def subscribe(self, host: str | None, wake: Callable[[], None]) -> Callable[[], None]:
        """Call ``wake`` whenever something host ``host`` holds changes;
        returns the function that stops it."""
