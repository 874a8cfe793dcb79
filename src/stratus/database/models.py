"""Database service tables.

The API records what is wanted (an instance's ``task`` for the agent of its
host, databases and users with a ``state``); the agent does it and records
the outcome with a compare-and-swap on ``generation``.  Passwords are kept
only until the agent has set them (``pending_password``), never logged."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from stratus.common.db import Base, UTCDateTime, utcnow

# Trove's instance statuses.
BUILD, ACTIVE, ERROR, REBOOT, RESIZE, BACKUP = (
    "BUILD",
    "ACTIVE",
    "ERROR",
    "REBOOT",
    "RESIZE",
    "BACKUP",
)
SHUTDOWN, DELETING, RESTART_REQUIRED = "SHUTDOWN", "DELETING", "RESTART_REQUIRED"
DETACH = "DETACH"  # a replica being made a standalone instance
# A replica becoming its set's source, and the set's other members following
# it (promote_to_replica_source; eject_replica_source when the source is lost).
PROMOTE, EJECT = "PROMOTE", "EJECT"
BUSY = frozenset({BUILD, REBOOT, RESIZE, BACKUP, DELETING, DETACH, PROMOTE, EJECT})

# The agent's tasks on an instance (``Instance.task``).
T_BUILD, T_DELETE, T_RESTART, T_RESIZE_VOLUME, T_RESIZE_FLAVOR = (
    "build",
    "delete",
    "restart",
    "resize_volume",
    "resize_flavor",
)
T_CONFIGURE = "configure"
T_DETACH = "detach"  # a replica stops following its source
T_PROMOTE, T_EJECT = "promote", "eject"  # a replica becomes the source of its set
# ... a database's and a user's ``state``.
S_CREATING, S_READY, S_DELETING = "creating", "ready", "deleting"
# ... a backup's status.
B_NEW, B_BUILDING, B_COMPLETED, B_FAILED, B_DELETE_FAILED = (
    "NEW",
    "BUILDING",
    "COMPLETED",
    "FAILED",
    "DELETE_FAILED",
)


def new_uuid() -> str:
    return str(uuid.uuid4())


class Instance(Base):
    __tablename__ = "database_instance"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    name: Mapped[str] = mapped_column(String(255), index=True)
    project_id: Mapped[str] = mapped_column(String(64), index=True)
    user_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(32), index=True, default=BUILD)
    # Why the instance is in ERROR (shown as ``fault``).
    fault: Mapped[str | None] = mapped_column(Text, nullable=True)
    task: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    request_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    generation: Mapped[int] = mapped_column(Integer, default=0)
    datastore: Mapped[str] = mapped_column(String(32))  # "postgresql" / "mariadb"
    datastore_version: Mapped[str] = mapped_column(String(32))
    flavor_id: Mapped[str] = mapped_column(String(255))
    memory_mb: Mapped[int] = mapped_column(Integer)
    vcpus: Mapped[int] = mapped_column(Integer)
    # A flavor asked for by a resize, applied by the agent.
    new_flavor: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    volume_size: Mapped[int] = mapped_column(Integer)  # GiB
    new_volume_size: Mapped[int | None] = mapped_column(Integer, nullable=True)
    volume_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    volume_used: Mapped[float | None] = mapped_column(nullable=True)  # GiB
    network_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    port_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    address: Mapped[str | None] = mapped_column(String(64), nullable=True)
    is_public: Mapped[bool] = mapped_column(Boolean, default=False)
    allowed_cidrs: Mapped[list[str]] = mapped_column(JSON, default=list)
    floating_ip_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    public_address: Mapped[str | None] = mapped_column(String(64), nullable=True)
    availability_zone: Mapped[str | None] = mapped_column(String(255), nullable=True)
    host: Mapped[str | None] = mapped_column(String(255), nullable=True, index=True)
    port: Mapped[int] = mapped_column(Integer)  # the server's TCP port
    restore_backup_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    # The instance this one is a replica of (Trove's ``replica_of``): it
    # follows it by the datastore's replication and is read-only.
    replica_of_id: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    root_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    # Secrets the agent has yet to set (the root password), then cleared.
    pending_root_password: Mapped[str | None] = mapped_column(String(255), nullable=True)
    # The configuration group attached (its values given to the server).
    configuration_id: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    # Times the agent found the server dead and started it again.
    restarts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Schema(Base):
    """A database inside an instance (Trove's "database")."""

    __tablename__ = "database_schema"

    instance_id: Mapped[str] = mapped_column(
        ForeignKey("database_instance.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    character_set: Mapped[str | None] = mapped_column(String(64), nullable=True)
    collate: Mapped[str | None] = mapped_column(String(64), nullable=True)
    state: Mapped[str] = mapped_column(String(16), default=S_CREATING, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class User(Base):
    """A user of an instance's server, with the databases it may use."""

    __tablename__ = "database_user"

    instance_id: Mapped[str] = mapped_column(
        ForeignKey("database_instance.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    host: Mapped[str] = mapped_column(String(255), primary_key=True, default="%")
    databases: Mapped[list[str]] = mapped_column(JSON, default=list)
    # The databases granted on the server (the agent's last work).
    granted: Mapped[list[str]] = mapped_column(JSON, default=list)
    pending_password: Mapped[str | None] = mapped_column(String(255), nullable=True)
    state: Mapped[str] = mapped_column(String(16), default=S_CREATING, index=True)
    revision: Mapped[int] = mapped_column(Integer, default=0)  # bumped by every change
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Backup(Base):
    __tablename__ = "database_backup"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    project_id: Mapped[str] = mapped_column(String(64), index=True)
    instance_id: Mapped[str] = mapped_column(String(36), index=True)
    # An incremental backup's parent (its chain ends with a full backup).
    parent_id: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    datastore: Mapped[str] = mapped_column(String(32))
    datastore_version: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(32), default=B_NEW, index=True)
    fail_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    deleting: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    host: Mapped[str | None] = mapped_column(String(255), nullable=True, index=True)
    container: Mapped[str] = mapped_column(String(255))
    location: Mapped[str | None] = mapped_column(Text, nullable=True)
    size: Mapped[int] = mapped_column(BigInteger, default=0)  # bytes
    checksum: Mapped[str | None] = mapped_column(String(128), nullable=True)
    # What the datastore's tool needs of this backup to make an incremental
    # one on top of it (PostgreSQL's WAL position, mariadb-backup's LSNs).
    meta: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    request_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class ConfigurationGroup(Base):
    """Values for a datastore's parameters, attached to instances."""

    __tablename__ = "database_configuration"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    project_id: Mapped[str] = mapped_column(String(64), index=True)
    datastore: Mapped[str] = mapped_column(String(32))
    datastore_version: Mapped[str] = mapped_column(String(32))
    values: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Agent(Base):
    """A database agent's host, its heartbeat and what it runs."""

    __tablename__ = "database_agent"

    host: Mapped[str] = mapped_column(String(255), primary_key=True)
    availability_zone: Mapped[str] = mapped_column(String(255), default="nova")
    datastores: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)  # name -> version
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Quota(Base):
    """A project's limit of one resource where it differs from the
    configured default (``[dbaas] quota_*``); -1 is unlimited."""

    __tablename__ = "database_quota"

    project_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    resource: Mapped[str] = mapped_column(String(32), primary_key=True)
    hard_limit: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


# A log's status (Trove's names).
L_DISABLED, L_ENABLED, L_READY, L_PUBLISHED, L_PARTIAL, L_UNAVAILABLE = (
    "Disabled",
    "Enabled",
    "Ready",
    "Published",
    "Partial",
    "Unavailable",
)


class Log(Base):
    """One of an instance's logs (Trove's guest logs): enabled or not, and
    what the agent published of it into the object store.  An action asked
    for (``wanted``: enable, disable, publish, discard) bumps ``serial``; the
    agent sets ``done`` to it when the action is over."""

    __tablename__ = "database_log"

    instance_id: Mapped[str] = mapped_column(
        ForeignKey("database_instance.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    published: Mapped[int] = mapped_column(BigInteger, default=0)  # bytes
    pending: Mapped[int] = mapped_column(BigInteger, default=0)  # bytes not published yet
    parts: Mapped[int] = mapped_column(Integer, default=0)  # objects published
    wanted: Mapped[str | None] = mapped_column(String(64), nullable=True)
    serial: Mapped[int] = mapped_column(Integer, default=0)
    done: Mapped[int] = mapped_column(Integer, default=0)
    fault: Mapped[str | None] = mapped_column(Text, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
