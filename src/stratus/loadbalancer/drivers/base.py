"""What the lb agent asks of a data plane, and what it hands it: plain
dataclasses of one load balancer's whole tree, never database rows."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class MemberSpec:
    id: str
    address: str
    protocol_port: int
    weight: int = 1
    backup: bool = False
    admin_state_up: bool = True
    monitor_address: str | None = None
    monitor_port: int | None = None


@dataclass(frozen=True)
class MonitorSpec:
    id: str
    type: str  # HTTP, HTTPS, TCP, PING
    delay: int
    timeout: int
    max_retries: int
    max_retries_down: int
    http_method: str = "GET"
    url_path: str = "/"
    expected_codes: str = "200"
    admin_state_up: bool = True


@dataclass(frozen=True)
class PoolSpec:
    id: str
    protocol: str  # HTTP, HTTPS, TCP, PROXY
    lb_algorithm: str  # ROUND_ROBIN, LEAST_CONNECTIONS, SOURCE_IP
    session_persistence: dict[str, str] | None = None
    members: tuple[MemberSpec, ...] = ()
    monitor: MonitorSpec | None = None
    admin_state_up: bool = True
    member_connect_timeout: int = 5000  # ms (from the listener using it)
    member_data_timeout: int = 50000


@dataclass(frozen=True)
class RuleSpec:
    id: str
    type: str  # PATH, HOST_NAME, HEADER, COOKIE, FILE_TYPE
    compare_type: str  # REGEX, STARTS_WITH, ENDS_WITH, CONTAINS, EQUAL_TO
    value: str
    key: str | None = None
    invert: bool = False


@dataclass(frozen=True)
class PolicySpec:
    id: str
    action: str  # REDIRECT_TO_POOL, REDIRECT_TO_URL, REDIRECT_PREFIX, REJECT
    position: int
    rules: tuple[RuleSpec, ...] = ()
    redirect_pool_id: str | None = None
    redirect_url: str | None = None
    redirect_prefix: str | None = None
    redirect_http_code: int | None = None


@dataclass(frozen=True)
class ListenerSpec:
    id: str
    protocol: str  # HTTP, HTTPS (passed through as TCP), TCP
    protocol_port: int
    connection_limit: int = -1
    default_pool_id: str | None = None
    timeout_client_data: int = 50000
    timeout_tcp_inspect: int = 0
    insert_headers: dict[str, str] = field(default_factory=dict)
    allowed_cidrs: tuple[str, ...] = ()
    policies: tuple[PolicySpec, ...] = ()
    admin_state_up: bool = True


@dataclass(frozen=True)
class LoadBalancerSpec:
    """One load balancer as its HAProxy must run it."""

    id: str
    vip_address: str
    vip_port_id: str
    listeners: tuple[ListenerSpec, ...] = ()
    pools: tuple[PoolSpec, ...] = ()
    admin_state_up: bool = True


@dataclass(frozen=True)
class ServerHealth:
    """One member as HAProxy sees it (``show stat``)."""

    pool_id: str
    member_id: str
    status: str  # UP, DOWN, MAINT, NOLB, no check: "no check"
    checked: bool


@dataclass(frozen=True)
class ListenerStats:
    listener_id: str
    active_connections: int = 0
    total_connections: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    request_errors: int = 0


@dataclass(frozen=True)
class Health:
    """What the data plane says of one load balancer."""

    running: bool
    servers: tuple[ServerHealth, ...] = ()
    listeners: tuple[ListenerStats, ...] = ()


class DataPlaneError(Exception):
    """The data plane could not do what was asked (the reason is the message)."""


class Driver(Protocol):
    async def prepare(self, lb_id: str) -> str:
        """Make the load balancer's network namespace (where the network
        agent plugs its VIP port) and return its name.  Idempotent."""

    async def stop(self, lb_id: str) -> None:
        """Kill its processes (a failover starts them anew); the namespace stays."""

    async def apply(self, spec: LoadBalancerSpec) -> None:
        """Make the load balancer run as ``spec`` says: its namespace, its
        VIP address in it (plugged by the network agent: wait a while for
        it), its configuration, its process started or reloaded without
        dropping established connections.  Idempotent."""

    async def remove(self, lb_id: str) -> None:
        """Stop its process and remove its namespace and files.  Idempotent."""

    async def running(self) -> set[str]:
        """The ids of the load balancers this driver has anything of on
        the host (process, namespace or files), running or not."""

    async def health(self, lb_id: str) -> Health:
        """Whether its process runs, its members' health, its listeners' counters."""
