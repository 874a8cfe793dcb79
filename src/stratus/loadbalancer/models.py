"""Load-balancing tables (Octavia's object model).

A load balancer owns a tree: listeners, pools (with their members and health
monitor), and each listener's L7 policies and their rules.  Every object has
Octavia's two statuses: ``provisioning_status`` (what the API asked for and
whether the data plane has it) and ``operating_status`` (what the data
plane sees).  A change to any object of the tree marks that object PENDING_*
and the load balancer PENDING_UPDATE and bumps its ``generation``; the lb
agent of the load balancer's host renders the whole tree into HAProxy's
configuration, applies it, and records the outcome with a compare-and-swap
on ``generation``."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from stratus.common.db import Base, UTCDateTime, utcnow

# provisioning_status
ACTIVE, DELETED, ERROR = "ACTIVE", "DELETED", "ERROR"
PENDING_CREATE, PENDING_UPDATE, PENDING_DELETE = (
    "PENDING_CREATE",
    "PENDING_UPDATE",
    "PENDING_DELETE",
)
PENDING = (PENDING_CREATE, PENDING_UPDATE, PENDING_DELETE)
# operating_status
ONLINE, OFFLINE, DEGRADED, NO_MONITOR, DRAINING = (
    "ONLINE",
    "OFFLINE",
    "DEGRADED",
    "NO_MONITOR",
    "DRAINING",
)

# The agent's tasks on a load balancer (``LoadBalancer.task``).
T_APPLY, T_DELETE, T_FAILOVER = "apply", "delete", "failover"


def new_uuid() -> str:
    return str(uuid.uuid4())


class _Common:
    """Columns every object of the tree has."""

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    project_id: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(255), default="")
    description: Mapped[str] = mapped_column(String(255), default="")
    admin_state_up: Mapped[bool] = mapped_column(Boolean, default=True)
    provisioning_status: Mapped[str] = mapped_column(String(16), default=PENDING_CREATE)
    operating_status: Mapped[str] = mapped_column(String(16), default=OFFLINE)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class LoadBalancer(_Common, Base):
    __tablename__ = "lb_loadbalancer"

    vip_address: Mapped[str] = mapped_column(String(64), default="")
    vip_port_id: Mapped[str] = mapped_column(String(36), default="")
    vip_subnet_id: Mapped[str] = mapped_column(String(36), default="")
    vip_network_id: Mapped[str] = mapped_column(String(36), default="")
    # The VIP port was made by this service (and goes with it) or given.
    vip_port_owned: Mapped[bool] = mapped_column(Boolean, default=True)
    # The security group of the VIP port that opens the listeners' ports.
    vip_sg_id: Mapped[str] = mapped_column(String(36), default="")
    provider: Mapped[str] = mapped_column(String(64), default="haproxy")
    flavor_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    availability_zone: Mapped[str | None] = mapped_column(String(255), nullable=True)
    # The host whose lb agent runs its HAProxy.
    host: Mapped[str] = mapped_column(String(255), default="", index=True)
    task: Mapped[str | None] = mapped_column(String(16), nullable=True, index=True)
    request_id: Mapped[str] = mapped_column(String(64), default="")
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    generation: Mapped[int] = mapped_column(Integer, default=0)


class Listener(_Common, Base):
    __tablename__ = "lb_listener"
    __table_args__ = (UniqueConstraint("loadbalancer_id", "protocol", "protocol_port"),)

    loadbalancer_id: Mapped[str] = mapped_column(String(36), index=True)
    protocol: Mapped[str] = mapped_column(String(16))
    protocol_port: Mapped[int] = mapped_column(Integer)
    connection_limit: Mapped[int] = mapped_column(Integer, default=-1)
    default_pool_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    timeout_client_data: Mapped[int] = mapped_column(Integer, default=50000)
    timeout_member_connect: Mapped[int] = mapped_column(Integer, default=5000)
    timeout_member_data: Mapped[int] = mapped_column(Integer, default=50000)
    timeout_tcp_inspect: Mapped[int] = mapped_column(Integer, default=0)
    insert_headers: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    allowed_cidrs: Mapped[list[str]] = mapped_column(JSON, default=list)


class Pool(_Common, Base):
    __tablename__ = "lb_pool"

    loadbalancer_id: Mapped[str] = mapped_column(String(36), index=True)
    protocol: Mapped[str] = mapped_column(String(16))
    lb_algorithm: Mapped[str] = mapped_column(String(32))
    session_persistence: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class Member(_Common, Base):
    __tablename__ = "lb_member"
    __table_args__ = (UniqueConstraint("pool_id", "address", "protocol_port"),)

    pool_id: Mapped[str] = mapped_column(String(36), index=True)
    address: Mapped[str] = mapped_column(String(64))
    protocol_port: Mapped[int] = mapped_column(Integer)
    weight: Mapped[int] = mapped_column(Integer, default=1)
    backup: Mapped[bool] = mapped_column(Boolean, default=False)
    subnet_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    monitor_address: Mapped[str | None] = mapped_column(String(64), nullable=True)
    monitor_port: Mapped[int | None] = mapped_column(Integer, nullable=True)


class HealthMonitor(_Common, Base):
    __tablename__ = "lb_healthmonitor"

    pool_id: Mapped[str] = mapped_column(String(36), unique=True)
    type: Mapped[str] = mapped_column(String(16))
    delay: Mapped[int] = mapped_column(Integer)
    timeout: Mapped[int] = mapped_column(Integer)
    max_retries: Mapped[int] = mapped_column(Integer)
    max_retries_down: Mapped[int] = mapped_column(Integer, default=3)
    http_method: Mapped[str | None] = mapped_column(String(16), nullable=True)
    url_path: Mapped[str | None] = mapped_column(String(2048), nullable=True)
    expected_codes: Mapped[str | None] = mapped_column(String(64), nullable=True)
    http_version: Mapped[float | None] = mapped_column(nullable=True)
    domain_name: Mapped[str | None] = mapped_column(String(255), nullable=True)


class L7Policy(_Common, Base):
    __tablename__ = "lb_l7policy"

    listener_id: Mapped[str] = mapped_column(String(36), index=True)
    action: Mapped[str] = mapped_column(String(32))
    position: Mapped[int] = mapped_column(Integer, default=1)
    redirect_pool_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    redirect_url: Mapped[str | None] = mapped_column(String(2048), nullable=True)
    redirect_prefix: Mapped[str | None] = mapped_column(String(2048), nullable=True)
    redirect_http_code: Mapped[int | None] = mapped_column(Integer, nullable=True)


class L7Rule(_Common, Base):
    __tablename__ = "lb_l7rule"

    l7policy_id: Mapped[str] = mapped_column(String(36), index=True)
    type: Mapped[str] = mapped_column(String(32))
    compare_type: Mapped[str] = mapped_column(String(32))
    key: Mapped[str | None] = mapped_column(String(255), nullable=True)
    value: Mapped[str] = mapped_column(String(255))
    invert: Mapped[bool] = mapped_column(Boolean, default=False)


class Quota(Base):
    """A project's limits (None: the configured default; -1: unlimited)."""

    __tablename__ = "lb_quota"

    project_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    loadbalancer: Mapped[int | None] = mapped_column(Integer, nullable=True)
    listener: Mapped[int | None] = mapped_column(Integer, nullable=True)
    pool: Mapped[int | None] = mapped_column(Integer, nullable=True)
    member: Mapped[int | None] = mapped_column(Integer, nullable=True)
    healthmonitor: Mapped[int | None] = mapped_column(Integer, nullable=True)
    l7policy: Mapped[int | None] = mapped_column(Integer, nullable=True)
    l7rule: Mapped[int | None] = mapped_column(Integer, nullable=True)


class FlavorProfile(Base):
    """Octavia's flavor profile (admins only): a provider and its settings."""

    __tablename__ = "lb_flavor_profile"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    name: Mapped[str] = mapped_column(String(255))
    provider_name: Mapped[str] = mapped_column(String(64))
    flavor_data: Mapped[str] = mapped_column(Text, default="{}")  # a JSON object, as given


class Flavor(Base):
    """Octavia's flavor: what users pick (``flavor_id``), over a profile."""

    __tablename__ = "lb_flavor"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    description: Mapped[str] = mapped_column(String(255), default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    flavor_profile_id: Mapped[str] = mapped_column(String(36), index=True)


class Agent(Base):
    """An lb agent's registration (its host) and its last heartbeat."""

    __tablename__ = "lb_agent"

    host: Mapped[str] = mapped_column(String(255), primary_key=True)
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ListenerStats(Base):
    """A listener's counters: totals kept across HAProxy's reloads and
    restarts (which start its counters at 0), and the raw values read last."""

    __tablename__ = "lb_listener_stats"

    listener_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    loadbalancer_id: Mapped[str] = mapped_column(String(36), index=True)
    active_connections: Mapped[int] = mapped_column(Integer, default=0)
    total_connections: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes_in: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes_out: Mapped[int] = mapped_column(BigInteger, default=0)
    request_errors: Mapped[int] = mapped_column(Integer, default=0)
    # The running process's counters at the last reading (total_connections,
    # bytes_in, bytes_out, request_errors).
    last_raw: Mapped[list[int]] = mapped_column(JSON, default=list)
