"""What the block storage service's parts share: loading what the caller
may see, the agent's compare-and-swap, user messages, and the detail a
volume is shown with."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from stratus.common.context import RequestContext
from stratus.common.db import utcnow
from stratus.volume import models as m
from stratus.volume.errors import BadRequest, NotFound

Wake = Callable[[str | None], None]  # the host (``host@backend#pool``) to wake

MESSAGE_TTL = timedelta(days=30)  # Cinder's message_ttl


@dataclass
class VolumeDetail:
    """A volume with what its view shows besides its own row."""

    volume: m.Volume
    attachments: list[m.Attachment] = field(default_factory=list)
    type_name: str | None = None


async def visible_volume(
    s: AsyncSession, ctx: RequestContext, volume_id: str, *, for_update: bool = False
) -> m.Volume:
    """The volume if the caller may see it; 404 otherwise, as Cinder."""
    volume = await s.get(m.Volume, volume_id, with_for_update=for_update or None)
    if volume is None or not ctx.owns(volume.project_id):
        raise NotFound(f"Volume {volume_id} could not be found.")
    return volume


async def visible_snapshot(s: AsyncSession, ctx: RequestContext, snapshot_id: str) -> m.Snapshot:
    snapshot = await s.get(m.Snapshot, snapshot_id)
    if snapshot is None or not ctx.owns(snapshot.project_id):
        raise NotFound(f"Snapshot {snapshot_id} could not be found.")
    return snapshot


async def visible_backup(s: AsyncSession, ctx: RequestContext, backup_id: str) -> m.Backup:
    backup = await s.get(m.Backup, backup_id)
    if backup is None or not ctx.owns(backup.project_id):
        raise NotFound(f"Backup {backup_id} could not be found.")
    return backup


def require_status(volume: m.Volume, allowed: Sequence[str], what: str) -> None:
    if volume.status not in allowed:
        raise BadRequest(
            f"Invalid volume: Volume {volume.id} status must be {' or '.join(allowed)} "
            f"to {what}, but current status is: {volume.status}."
        )


def start_task(row: Any, task: str | None, status: str, args: dict[str, Any] | None = None) -> None:
    """Record work for the agent on a volume, snapshot or backup row."""
    if hasattr(row, "previous_status") and task is not None:
        row.previous_status = row.status
    row.status = status
    row.task = task
    if args is not None and hasattr(row, "task_args"):
        row.task_args = args
    row.generation = (row.generation or 0) + 1


async def finish(s: AsyncSession, model: Any, row_id: str, generation: int, **values: Any) -> bool:
    """The agent's compare-and-swap: record an outcome only if nobody changed
    the row meanwhile (a force-delete, a reset)."""
    result = await s.execute(
        update(model)
        .where(model.id == row_id, model.generation == generation)
        .values(generation=generation + 1, updated_at=utcnow(), **values)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def add_message(
    s: AsyncSession,
    project_id: str,
    resource_type: str,
    resource_id: str | None,
    event_id: str,
    text: str,
    request_id: str | None = None,
) -> None:
    now = utcnow()
    s.add(
        m.Message(
            project_id=project_id,
            request_id=request_id,
            resource_type=resource_type,
            resource_uuid=resource_id,
            event_id=event_id,
            user_message=text,
            created_at=now,
            expires_at=now + MESSAGE_TTL,
        )
    )


async def details(s: AsyncSession, volumes: Sequence[m.Volume]) -> list[VolumeDetail]:
    ids = [v.id for v in volumes]
    attachments: dict[str, list[m.Attachment]] = {}
    if ids:
        rows = await s.scalars(
            select(m.Attachment)
            .where(m.Attachment.volume_id.in_(ids), m.Attachment.attach_status != "detached")
            .order_by(m.Attachment.created_at)
        )
        for a in rows:
            attachments.setdefault(a.volume_id, []).append(a)
    names = dict((await s.execute(select(m.VolumeType.id, m.VolumeType.name))).tuples().all())
    return [
        VolumeDetail(v, attachments.get(v.id, []), names.get(v.volume_type_id or ""))
        for v in volumes
    ]
