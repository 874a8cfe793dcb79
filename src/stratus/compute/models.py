"""Compute tables."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from stratus.common.db import Base, UTCDateTime, utcnow

# vm_state values (Nova's), and the API status they show as.
BUILDING, ACTIVE, STOPPED, PAUSED, SUSPENDED = (
    "building",
    "active",
    "stopped",
    "paused",
    "suspended",
)
ERROR, DELETED = "error", "deleted"
# Shelved and rescued servers.  The column holds 16 characters, so a
# shelved-offloaded server is stored as "shelved_offload"; the API shows
# Nova's "shelved_offloaded" (views.VM_STATE_NAMES).
SHELVED, SHELVED_OFFLOADED, RESCUED = "shelved", "shelved_offload", "rescued"
RESIZED = "resized"  # moved or resized, waiting for confirmResize or revertResize

# Power states (Nova's numbers).
NOSTATE, RUNNING, POWER_PAUSED, SHUTDOWN, CRASHED, POWER_SUSPENDED = 0, 1, 3, 4, 6, 7


class Flavor(Base):
    __tablename__ = "compute_flavor"

    id: Mapped[str] = mapped_column(String(255), primary_key=True)  # Nova's flavorid
    name: Mapped[str] = mapped_column(String(255), unique=True)
    memory_mb: Mapped[int] = mapped_column(Integer)
    vcpus: Mapped[int] = mapped_column(Integer)
    root_gb: Mapped[int] = mapped_column(Integer, default=0)
    ephemeral_gb: Mapped[int] = mapped_column(Integer, default=0)
    swap: Mapped[int] = mapped_column(Integer, default=0)
    rxtx_factor: Mapped[float] = mapped_column(Float, default=1.0)
    is_public: Mapped[bool] = mapped_column(Boolean, default=True)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    extra_specs: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class FlavorAccess(Base):
    __tablename__ = "compute_flavor_access"

    flavor_id: Mapped[str] = mapped_column(
        ForeignKey("compute_flavor.id", ondelete="CASCADE"), primary_key=True
    )
    project_id: Mapped[str] = mapped_column(String(64), primary_key=True)


class KeyPair(Base):
    __tablename__ = "compute_keypair"

    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    id: Mapped[int] = mapped_column(Integer, default=0)
    type: Mapped[str] = mapped_column(String(8), default="ssh")
    public_key: Mapped[str] = mapped_column(Text)
    fingerprint: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Server(Base):
    """An instance.  The API records what is wanted (vm_state, task_state);
    the compute agent of ``host`` makes it so and records the outcome."""

    __tablename__ = "compute_server"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), index=True)
    hostname: Mapped[str] = mapped_column(String(255), default="")
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    project_id: Mapped[str] = mapped_column(String(64), index=True)
    user_id: Mapped[str] = mapped_column(String(64))
    image_ref: Mapped[str] = mapped_column(String(36), default="")
    flavor_id: Mapped[str] = mapped_column(String(255))
    flavor: Mapped[dict[str, Any]] = mapped_column(JSON)  # the flavor as booted
    key_name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    key_data: Mapped[str | None] = mapped_column(Text, nullable=True)
    user_data: Mapped[str | None] = mapped_column(Text, nullable=True)  # base64, as given
    config_drive: Mapped[bool] = mapped_column(Boolean, default=True)
    metadata_: Mapped[dict[str, str]] = mapped_column("metadata", JSON, default=dict)
    availability_zone: Mapped[str | None] = mapped_column(String(255), nullable=True)
    access_ip_v4: Mapped[str | None] = mapped_column(String(15), nullable=True)
    access_ip_v6: Mapped[str | None] = mapped_column(String(39), nullable=True)
    requested_zone: Mapped[str | None] = mapped_column(String(255), nullable=True)
    host: Mapped[str | None] = mapped_column(String(255), nullable=True, index=True)
    vm_state: Mapped[str] = mapped_column(String(16), default=BUILDING, index=True)
    task_state: Mapped[str | None] = mapped_column(String(32), nullable=True)
    power_state: Mapped[int] = mapped_column(Integer, default=NOSTATE)
    progress: Mapped[int] = mapped_column(Integer, default=0)
    locked: Mapped[bool] = mapped_column(Boolean, default=False)
    locked_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    locked_by: Mapped[str | None] = mapped_column(String(16), nullable=True)
    fault: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    networks: Mapped[str] = mapped_column(String(16), default="auto")  # auto | none
    host_port: Mapped[int | None] = mapped_column(Integer, nullable=True)  # forwarded to guest :22
    group_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Internal state of long actions (Nova's system_metadata): the image a
    # snapshot goes to, the flavor before a resize, the shelved image, ...
    system_metadata: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Bumped for every requested change, so an agent acts on each exactly once.
    generation: Mapped[int] = mapped_column(Integer, default=0)
    launched_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    terminated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class ServerGroup(Base):
    __tablename__ = "compute_server_group"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    policy: Mapped[str] = mapped_column(String(32))
    rules: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    project_id: Mapped[str] = mapped_column(String(64), index=True)
    user_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class InstanceAction(Base):
    __tablename__ = "compute_instance_action"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    server_id: Mapped[str] = mapped_column(String(36), index=True)
    action: Mapped[str] = mapped_column(String(64))
    request_id: Mapped[str] = mapped_column(String(64), index=True)
    user_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    project_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    message: Mapped[str | None] = mapped_column(Text, nullable=True)
    start_time: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finish_time: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class ConsoleToken(Base):
    """A one-time token of a server's remote console: only its SHA-256 is
    kept; the websocket that presents it deletes the row (single use)."""

    __tablename__ = "compute_console_token"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    server_id: Mapped[str] = mapped_column(String(36), index=True)
    host: Mapped[str] = mapped_column(String(255))
    protocol: Mapped[str] = mapped_column(String(16))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class InstanceActionEvent(Base):
    __tablename__ = "compute_instance_action_event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    action_id: Mapped[int] = mapped_column(
        ForeignKey("compute_instance_action.id", ondelete="CASCADE"), index=True
    )
    event: Mapped[str] = mapped_column(String(255))
    result: Mapped[str | None] = mapped_column(String(16), nullable=True)
    host: Mapped[str | None] = mapped_column(String(255), nullable=True)
    details: Mapped[str | None] = mapped_column(Text, nullable=True)
    start_time: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finish_time: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class QuotaLimit(Base):
    """A project's own quota on one resource (os-quota-sets)."""

    __tablename__ = "compute_quota"

    project_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    resource: Mapped[str] = mapped_column(String(64), primary_key=True)
    hard_limit: Mapped[int] = mapped_column(Integer)


class ComputeHost(Base):
    """A compute agent and the hypervisor it drives (os-services and
    os-hypervisors both show it)."""

    __tablename__ = "compute_host"
    __table_args__ = (UniqueConstraint("uuid"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    uuid: Mapped[str] = mapped_column(String(36), default=lambda: _uuid())
    host: Mapped[str] = mapped_column(String(255), unique=True)
    hypervisor_type: Mapped[str] = mapped_column(String(32), default="QEMU")
    hypervisor_version: Mapped[int] = mapped_column(Integer, default=0)
    driver: Mapped[str] = mapped_column(String(32), default="qemu")
    accelerator: Mapped[str] = mapped_column(String(8), default="tcg")
    vcpus: Mapped[int] = mapped_column(Integer, default=0)
    memory_mb: Mapped[int] = mapped_column(Integer, default=0)
    local_gb: Mapped[int] = mapped_column(Integer, default=0)
    cpu_info: Mapped[str] = mapped_column(Text, default="{}")
    availability_zone: Mapped[str] = mapped_column(String(255), default="nova")
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    disabled_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    forced_down: Mapped[bool] = mapped_column(Boolean, default=False)
    heartbeat: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Where other agents reach this one (disk transfer, console output); None
    # for the all-in-one's in-process agent.
    agent_url: Mapped[str | None] = mapped_column(String(255), nullable=True)
    # What the host's driver can do (drivers.base.Capability values): the API
    # refuses (409) an action the server's host cannot do.
    capabilities: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


def _uuid() -> str:
    return str(uuid.uuid4())


class Migration(Base):
    """One move of a server between hosts (os-migrations): a cold migration,
    a resize, a live migration or an evacuation, with its progress."""

    __tablename__ = "compute_migration"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    uuid: Mapped[str] = mapped_column(String(36), default=lambda: _uuid(), unique=True)
    server_id: Mapped[str] = mapped_column(String(36), index=True)
    project_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    user_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # migration | resize | live-migration | evacuation
    migration_type: Mapped[str] = mapped_column(String(32))
    # Nova's statuses: pre-migrating, migrating, post-migrating, finished,
    # confirming, confirmed, reverting, reverted, running, preparing,
    # completed, cancelled, error, failed, done, accepted
    status: Mapped[str] = mapped_column(String(32), index=True)
    source_compute: Mapped[str | None] = mapped_column(String(255), nullable=True)
    dest_compute: Mapped[str | None] = mapped_column(String(255), nullable=True)
    dest_host: Mapped[str | None] = mapped_column(String(255), nullable=True)
    old_flavor_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    new_flavor_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    memory_total: Mapped[int | None] = mapped_column(Integer, nullable=True)
    memory_processed: Mapped[int | None] = mapped_column(Integer, nullable=True)
    memory_remaining: Mapped[int | None] = mapped_column(Integer, nullable=True)
    disk_total: Mapped[int | None] = mapped_column(Integer, nullable=True)
    disk_processed: Mapped[int | None] = mapped_column(Integer, nullable=True)
    disk_remaining: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


# ServerPort.state values: the port is wanted on the guest (plugged at the
# next boot, hot-plugged into a running guest), or wanted off it.
PORT_ATTACHED, PORT_DETACHING = "attached", "detaching"


class ServerPort(Base):
    """A port of the network service that a server holds (Nova's
    network info cache): which ports, in which order, and whether Nova made
    the port (deleted with the server) or the user brought it
    (``preserve_on_delete``: only unbound)."""

    __tablename__ = "compute_server_port"

    server_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    port_id: Mapped[str] = mapped_column(String(36), primary_key=True, index=True)
    network_id: Mapped[str] = mapped_column(String(36), default="")
    position: Mapped[int] = mapped_column(Integer, default=0)
    preserve_on_delete: Mapped[bool] = mapped_column(Boolean, default=False)
    state: Mapped[str] = mapped_column(String(16), default=PORT_ATTACHED)
    tag: Mapped[str | None] = mapped_column(String(60), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# Volume attachment statuses (the compute side's; Cinder keeps its own).
VOL_ATTACHING, VOL_ATTACHED, VOL_DETACHING = "attaching", "attached", "detaching"
VOL_CREATING = "creating"  # boot from volume: the volume is being made from its source
VOL_SWAPPING = "swapping"  # a volume being swapped in for another (source_id) of the server
VOL_EXTENDING = "extending"  # the volume grew (volume-extended): the guest's disk is to grow


class VolumeAttachment(Base):
    """A volume of a server (Nova's block device mapping of destination
    ``volume``): what the API shows as ``os-volume_attachments``.  The API
    records the wish (``attaching``/``detaching``, a Cinder attachment
    reserved); the agent of the server's host plugs or unplugs the disk and
    records the outcome."""

    __tablename__ = "compute_volume_attachment"
    __table_args__ = (UniqueConstraint("server_id", "volume_id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=lambda: _uuid())
    server_id: Mapped[str] = mapped_column(String(36), index=True)
    project_id: Mapped[str] = mapped_column(String(64))
    volume_id: Mapped[str] = mapped_column(String(36), index=True)
    device: Mapped[str] = mapped_column(String(64))
    tag: Mapped[str | None] = mapped_column(String(255), nullable=True)
    boot_index: Mapped[int | None] = mapped_column(Integer, nullable=True)
    delete_on_termination: Mapped[bool] = mapped_column(Boolean, default=False)
    # image | volume | snapshot | blank (where a boot volume came from)
    source_type: Mapped[str] = mapped_column(String(16), default="volume")
    source_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    volume_size: Mapped[int | None] = mapped_column(Integer, nullable=True)
    status: Mapped[str] = mapped_column(String(16), default=VOL_ATTACHING)
    attachment_id: Mapped[str | None] = mapped_column(String(36), nullable=True)  # Cinder's
    connection_info: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class ServerEvent(Base):
    """An external event about a server (os-server-external-events: the
    network service's ``network-vif-plugged`` when a port goes ACTIVE, ...),
    kept for the agent of the server's host, which waits for the ones it
    expects (a boot waits for its ports' vif-plugged).  ``id`` grows, so a
    waiter takes only events newer than when it began; old rows are purged."""

    __tablename__ = "compute_server_event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    server_id: Mapped[str] = mapped_column(String(36), index=True)
    name: Mapped[str] = mapped_column(String(40))
    tag: Mapped[str] = mapped_column(String(255), default="")
    status: Mapped[str] = mapped_column(String(16), default="completed")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Aggregate(Base):
    """A host aggregate (os-aggregates): a named group of compute hosts with
    metadata; its ``availability_zone`` key is the zone of its hosts."""

    __tablename__ = "compute_aggregate"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    uuid: Mapped[str] = mapped_column(String(36), default=lambda: _uuid(), unique=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    metadata_: Mapped[dict[str, str]] = mapped_column("metadata", JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class AggregateHost(Base):
    """A compute host's membership of an aggregate."""

    __tablename__ = "compute_aggregate_host"

    aggregate_id: Mapped[int] = mapped_column(
        ForeignKey("compute_aggregate.id", ondelete="CASCADE"), primary_key=True
    )
    host: Mapped[str] = mapped_column(String(255), primary_key=True, index=True)


class QuotaClassLimit(Base):
    """A quota class's limit on one resource (os-quota-class-sets); the
    ``default`` class gives the limits of projects without their own."""

    __tablename__ = "compute_quota_class"

    class_name: Mapped[str] = mapped_column(String(255), primary_key=True)
    resource: Mapped[str] = mapped_column(String(64), primary_key=True)
    hard_limit: Mapped[int] = mapped_column(Integer)
