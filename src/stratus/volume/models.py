"""Block storage tables.

The API records what is wanted (a status and a ``task`` for the agent of the
resource's host); the agent does it and records the outcome with a
compare-and-swap on ``generation``."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from stratus.common.db import Base, UTCDateTime, utcnow

# Cinder's volume statuses.
CREATING, AVAILABLE, RESERVED, ATTACHING, IN_USE = (
    "creating",
    "available",
    "reserved",
    "attaching",
    "in-use",
)
DETACHING, DELETING, ERROR, ERROR_DELETING, EXTENDING = (
    "detaching",
    "deleting",
    "error",
    "error_deleting",
    "extending",
)
BACKING_UP, RESTORING, DOWNLOADING, UPLOADING, RETYPING = (
    "backing-up",
    "restoring-backup",
    "downloading",
    "uploading",
    "retyping",
)
MAINTENANCE, AWAITING_TRANSFER, ERROR_RESTORING, ERROR_EXTENDING = (
    "maintenance",
    "awaiting-transfer",
    "error_restoring",
    "error_extending",
)
VOLUME_STATUSES = frozenset(
    {
        CREATING, AVAILABLE, RESERVED, ATTACHING, IN_USE, DETACHING, DELETING, ERROR,
        ERROR_DELETING, EXTENDING, BACKING_UP, RESTORING, DOWNLOADING, UPLOADING, RETYPING,
        MAINTENANCE, AWAITING_TRANSFER, ERROR_RESTORING, ERROR_EXTENDING, "error_managing",
        "managing",
    }
)  # fmt: skip
ATTACHED, DETACHED = "attached", "detached"

# The agent's tasks on a volume (``Volume.task``).
T_CREATE, T_DELETE, T_EXTEND, T_UPLOAD, T_REVERT = "create", "delete", "extend", "upload", "revert"
# ... on a snapshot and a backup.
T_RESTORE = "restore"


def new_uuid() -> str:
    return str(uuid.uuid4())


class Volume(Base):
    __tablename__ = "volume_volume"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    name: Mapped[str | None] = mapped_column(String(255), nullable=True, index=True)
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    project_id: Mapped[str] = mapped_column(String(64), index=True)
    user_id: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)  # GiB
    status: Mapped[str] = mapped_column(String(32), index=True, default=CREATING)
    attach_status: Mapped[str] = mapped_column(String(16), default=DETACHED)
    migration_status: Mapped[str | None] = mapped_column(String(32), nullable=True)
    availability_zone: Mapped[str] = mapped_column(String(255), default="nova")
    host: Mapped[str | None] = mapped_column(String(255), nullable=True, index=True)
    volume_type_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    bootable: Mapped[bool] = mapped_column(Boolean, default=False)
    multiattach: Mapped[bool] = mapped_column(Boolean, default=False)
    metadata_: Mapped[dict[str, str]] = mapped_column("metadata", JSON, default=dict)
    # readonly, attached_mode, ... (Cinder's admin metadata)
    admin_metadata: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    image_metadata: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    snapshot_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    source_volid: Mapped[str | None] = mapped_column(String(36), nullable=True)
    # Where the backend keeps it, recorded by the agent (Cinder's
    # provider_location): the connection consumers get, e.g. a file's path.
    provider_location: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    # The agent's work: what to do (task) and with what (task_args); the
    # status before it started, to go back to when it ends or is interrupted.
    task: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    task_args: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    previous_status: Mapped[str | None] = mapped_column(String(32), nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    consumes_quota: Mapped[bool] = mapped_column(Boolean, default=True)
    generation: Mapped[int] = mapped_column(Integer, default=0)
    launched_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Snapshot(Base):
    __tablename__ = "volume_snapshot"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    volume_id: Mapped[str] = mapped_column(String(36), index=True)
    name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    project_id: Mapped[str] = mapped_column(String(64), index=True)
    user_id: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(32), default=CREATING, index=True)
    progress: Mapped[str] = mapped_column(String(8), default="0%")
    metadata_: Mapped[dict[str, str]] = mapped_column("metadata", JSON, default=dict)
    volume_type_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    task: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    consumes_quota: Mapped[bool] = mapped_column(Boolean, default=True)
    generation: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class VolumeType(Base):
    __tablename__ = "volume_type"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    is_public: Mapped[bool] = mapped_column(Boolean, default=True)
    extra_specs: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    qos_specs_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class TypeAccess(Base):
    __tablename__ = "volume_type_access"

    volume_type_id: Mapped[str] = mapped_column(
        ForeignKey("volume_type.id", ondelete="CASCADE"), primary_key=True
    )
    project_id: Mapped[str] = mapped_column(String(64), primary_key=True)


class QosSpecs(Base):
    __tablename__ = "volume_qos_specs"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    consumer: Mapped[str] = mapped_column(String(16), default="back-end")
    specs: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Attachment(Base):
    """One attachment of a volume to an instance (Cinder's
    volume_attachment), from reservation to detach."""

    __tablename__ = "volume_attachment"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    volume_id: Mapped[str] = mapped_column(String(36), index=True)
    project_id: Mapped[str] = mapped_column(String(64))
    instance_uuid: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    attached_host: Mapped[str | None] = mapped_column(String(255), nullable=True)
    mountpoint: Mapped[str | None] = mapped_column(String(255), nullable=True)
    attach_mode: Mapped[str] = mapped_column(String(4), default="rw")
    # reserved | attaching | attached | detaching | detached | error_attaching
    attach_status: Mapped[str] = mapped_column(String(32), default="reserved")
    connector: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    connection_info: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    attach_time: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    detach_time: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Backup(Base):
    __tablename__ = "volume_backup"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    volume_id: Mapped[str] = mapped_column(String(36), index=True)
    snapshot_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    project_id: Mapped[str] = mapped_column(String(64), index=True)
    user_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(32), default=CREATING, index=True)
    fail_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    availability_zone: Mapped[str] = mapped_column(String(255), default="nova")
    container: Mapped[str | None] = mapped_column(String(255), nullable=True)
    # The agent that does its work (the volume's host when made).
    host: Mapped[str | None] = mapped_column(String(255), nullable=True, index=True)
    size: Mapped[int] = mapped_column(Integer, default=0)
    object_count: Mapped[int] = mapped_column(Integer, default=0)
    is_incremental: Mapped[bool] = mapped_column(Boolean, default=False)
    parent_id: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    # Where its objects are in the container (the metadata object's prefix).
    service_metadata: Mapped[str | None] = mapped_column(String(255), nullable=True)
    metadata_: Mapped[dict[str, str]] = mapped_column("metadata", JSON, default=dict)
    task: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    task_args: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    generation: Mapped[int] = mapped_column(Integer, default=0)
    data_timestamp: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Transfer(Base):
    __tablename__ = "volume_transfer"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    volume_id: Mapped[str] = mapped_column(String(36), index=True)
    name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    project_id: Mapped[str] = mapped_column(String(64), index=True)
    salt: Mapped[str] = mapped_column(String(64))
    crypt_hash: Mapped[str] = mapped_column(String(255))
    no_snapshots: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class QuotaLimit(Base):
    __tablename__ = "volume_quota"

    project_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    resource: Mapped[str] = mapped_column(String(255), primary_key=True)
    hard_limit: Mapped[int] = mapped_column(Integer)


class VolumeHost(Base):
    """A volume agent's backend (cinder-volume ``host@backend``); the
    agent also runs the backups of its volumes (cinder-backup ``host``)."""

    __tablename__ = "volume_host"

    host: Mapped[str] = mapped_column(String(255), primary_key=True)  # host@backend
    backend: Mapped[str] = mapped_column(String(255))
    driver: Mapped[str] = mapped_column(String(32))
    availability_zone: Mapped[str] = mapped_column(String(255), default="nova")
    capacity_gb: Mapped[int] = mapped_column(Integer, default=0)
    free_gb: Mapped[int] = mapped_column(Integer, default=0)
    capabilities: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    disabled_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    backup_disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    frozen: Mapped[bool] = mapped_column(Boolean, default=False)
    heartbeat: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Message(Base):
    """A user message (Cinder's /messages): why an operation failed."""

    __tablename__ = "volume_message"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    project_id: Mapped[str] = mapped_column(String(64), index=True)
    request_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    resource_type: Mapped[str] = mapped_column(String(32))
    resource_uuid: Mapped[str | None] = mapped_column(String(36), nullable=True)
    event_id: Mapped[str] = mapped_column(String(64))
    message_level: Mapped[str] = mapped_column(String(16), default="ERROR")
    user_message: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
