"""Orchestration tables.

A stack row holds its template, environment, files and parameters, its
Heat action and status, and the engine's ``task`` (create, update, delete,
rollback) while one is pending: the API records it and the engine agent
does it.  Resources and events belong to their stack.  A deleted stack is
kept (``deleted``) so that it can still be shown by id, as Heat does; it
leaves lists and name lookups."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from stratus.common.db import Base, UTCDateTime, utcnow

# Heat's actions and statuses (shown joined: CREATE_COMPLETE).
CREATE, UPDATE, DELETE, ROLLBACK, ADOPT = "CREATE", "UPDATE", "DELETE", "ROLLBACK", "ADOPT"
SUSPEND, RESUME, CHECK = "SUSPEND", "RESUME", "CHECK"
SNAPSHOT, RESTORE = "SNAPSHOT", "RESTORE"
INIT, IN_PROGRESS, COMPLETE, FAILED = "INIT", "IN_PROGRESS", "COMPLETE", "FAILED"

# The engine's tasks (``Stack.task``).
T_CREATE, T_UPDATE, T_DELETE, T_ROLLBACK = "create", "update", "delete", "rollback"
# The stack actions (POST .../actions), each over every resource.
T_SUSPEND, T_RESUME, T_CHECK = "suspend", "resume", "check"
ACTION_TASKS = {T_SUSPEND: SUSPEND, T_RESUME: RESUME, T_CHECK: CHECK}
# A cancel of the update in progress, with or without its rollback: the
# engine running the update sees it and stops.
T_CANCEL, T_CANCEL_ONLY = "cancel", "cancel-only"
T_RESTORE = "restore"  # an update to a snapshot's definition (in ``pending``)
CANCEL_TASKS = (T_CANCEL, T_CANCEL_ONLY)
# A snapshot whose volumes are being backed up (its row IN_PROGRESS).
T_SNAPSHOT = "snapshot"
DELETING = "DELETING"  # a snapshot whose backups are being deleted (then its row)
SNAPSHOT_KEY = "snapshot:"  # the engine's work key of a snapshot being deleted


def new_uuid() -> str:
    return str(uuid.uuid4())


class Stack(Base):
    __tablename__ = "orchestration_stack"
    __table_args__ = (Index("ix_orchestration_stack_project_name", "project_id", "name"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    name: Mapped[str] = mapped_column(String(255))
    project_id: Mapped[str] = mapped_column(String(64), index=True)
    user_id: Mapped[str] = mapped_column(String(64))
    username: Mapped[str | None] = mapped_column(String(255), nullable=True)
    action: Mapped[str] = mapped_column(String(16), default=CREATE)
    status: Mapped[str] = mapped_column(String(16), default=IN_PROGRESS, index=True)
    status_reason: Mapped[str] = mapped_column(Text, default="")
    template: Mapped[dict[str, Any]] = mapped_column(JSON)
    environment: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    files: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # as given
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    disable_rollback: Mapped[bool] = mapped_column(Boolean, default=True)
    timeout_mins: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # What an update was asked for: the new template, environment, files,
    # parameters (kept until the engine has applied them).
    pending: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    # The previous definition, for rollback of an update.
    previous: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    task: Mapped[str | None] = mapped_column(String(16), nullable=True, index=True)
    # The user's token of the last request, the engine's fallback when the
    # stack has no trust; cleared when the task ends.
    credential: Mapped[str | None] = mapped_column(Text, nullable=True)
    # The trust from the user to the service user the engine acts with
    # (service/trusts.py); deleted with the stack.
    trust_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    request_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    generation: Mapped[int] = mapped_column(Integer, default=0)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Resource(Base):
    __tablename__ = "orchestration_resource"
    __table_args__ = (UniqueConstraint("stack_id", "name"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    stack_id: Mapped[str] = mapped_column(
        ForeignKey("orchestration_stack.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(255))
    type: Mapped[str] = mapped_column(String(255))
    physical_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    action: Mapped[str] = mapped_column(String(16), default=INIT)
    status: Mapped[str] = mapped_column(String(16), default=COMPLETE)
    status_reason: Mapped[str] = mapped_column(Text, default="")
    properties: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # resolved
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # the type's own
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    requires: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Event(Base):
    __tablename__ = "orchestration_event"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(36), unique=True, default=new_uuid)
    stack_id: Mapped[str] = mapped_column(
        ForeignKey("orchestration_stack.id", ondelete="CASCADE"), index=True
    )
    resource_name: Mapped[str] = mapped_column(String(255))
    physical_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    resource_type: Mapped[str] = mapped_column(String(255))
    action: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text, default="")
    properties: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Snapshot(Base):
    """Heat's stack snapshot: the stack's definition and resources as they
    were (``data``, Heat's snapshot data), restored as an update to it."""

    __tablename__ = "orchestration_snapshot"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    stack_id: Mapped[str] = mapped_column(
        ForeignKey("orchestration_stack.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    status: Mapped[str] = mapped_column(String(16), default=COMPLETE)
    status_reason: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
