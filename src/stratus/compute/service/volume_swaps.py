"""Swapping a server's volume for another (``PUT
/servers/{id}/os-volume_attachments/{volume_id}`` with a new ``volumeId``,
Nova's ``swap_volume``): the server must run (ACTIVE or PAUSED, as Nova),
the new volume be available and no smaller.  The old volume is marked
``detaching`` in Cinder and the new one reserved; a row for the new volume
(status ``swapping``, ``source_id`` the old volume) tells the server's
agent to copy and switch (``agent/volume_swaps.py``).  A failure in
between gives both volumes back as they were."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from stratus.common.context import RequestContext
from stratus.common.db import Database
from stratus.compute import models as m
from stratus.compute.errors import BadRequest, Conflict
from stratus.compute.service.actions import start_action
from stratus.compute.service.volume_client import VolumeClient


class ServerVolumesLike(Protocol):
    """What a swap needs of ``service/volumes.ServerVolumes``."""

    db: Database
    wake: Callable[[str | None], None]

    def reachable_client(self) -> VolumeClient: ...

    async def check_server(
        self, s: AsyncSession, ctx: RequestContext, server_id: str, verb: str
    ) -> m.Server: ...

    async def attachment_row(
        self, s: AsyncSession, server_id: str, volume_id: str
    ) -> m.VolumeAttachment: ...

    async def of_server(self, s: AsyncSession, server_id: str) -> list[m.VolumeAttachment]: ...


SWAPPABLE = frozenset({m.ACTIVE, m.PAUSED})


async def swap_volumes(
    sv: ServerVolumesLike, ctx: RequestContext, server_id: str, old_id: str, new_id: str
) -> None:
    client = sv.reachable_client()
    server = await _check_server(sv, ctx, server_id, old_id)
    new = await client.get(ctx, new_id)  # 404 for a volume the caller cannot see
    current = await client.get(ctx, old_id)
    if new.status != "available":
        raise BadRequest(
            f"Invalid volume: volume {new_id} status must be 'available', not '{new.status}'"
        )
    if new.size < current.size:
        raise BadRequest("Invalid volume: New volume must be the same size or larger.")
    row = await _record_swap(sv, ctx, server, old_id, new_id, new.size)
    try:
        await client.begin_detaching(ctx, old_id)
        try:
            attachment_id = await client.reserve(ctx, new_id, server_id)
        except Exception:
            await client.roll_detaching(old_id)
            raise
    except Exception:
        async with sv.db.transaction() as s:
            stored = await s.get(m.VolumeAttachment, row.id)
            if stored is not None:
                await s.delete(stored)
        raise
    async with sv.db.transaction() as s:
        stored = await s.get(m.VolumeAttachment, row.id)
        if stored is not None:
            stored.attachment_id = attachment_id
    sv.wake(server.host)


async def _check_server(
    sv: ServerVolumesLike, ctx: RequestContext, server_id: str, old_id: str
) -> m.Server:
    """The server, if it runs and has ``old_id`` attached as a data volume."""
    async with sv.db.session() as s:
        server = await sv.check_server(s, ctx, server_id, "swap_volume")
        if server.vm_state not in SWAPPABLE:
            raise Conflict(
                f"Cannot 'swap_volume' instance {server_id} while it is in vm_state "
                f"{server.vm_state}"
            )
        old = await sv.attachment_row(s, server_id, old_id)
        if old.status != m.VOL_ATTACHED:
            raise BadRequest(
                f"Invalid volume: volume {old_id} is {old.status} on instance {server_id}"
            )
        if old.boot_index == 0:
            raise BadRequest("Cannot swap the root device volume of a server.")
    return server


async def _record_swap(
    sv: ServerVolumesLike,
    ctx: RequestContext,
    server: m.Server,
    old_id: str,
    new_id: str,
    new_size: int,
) -> m.VolumeAttachment:
    """The new volume's ``swapping`` row, unless the old one is already
    leaving or another swap is under way."""
    server_id = server.id
    async with sv.db.transaction() as s:
        old = await sv.attachment_row(s, server_id, old_id)
        rows = await sv.of_server(s, server_id)
        if old.status != m.VOL_ATTACHED or any(r.status == m.VOL_SWAPPING for r in rows):
            raise Conflict(f"Volume {old_id} is already being detached or swapped.")
        # The row first: an API killed before Cinder was asked leaves work
        # the agent finishes (it finds or makes the reservation).
        row = m.VolumeAttachment(
            server_id=server_id,
            project_id=server.project_id,
            volume_id=new_id,
            device=old.device,
            tag=old.tag,
            boot_index=old.boot_index,
            delete_on_termination=old.delete_on_termination,
            source_type="volume",
            source_id=old_id,
            volume_size=new_size,
            status=m.VOL_SWAPPING,
        )
        s.add(row)
        start_action(s, server_id, "swap_volume", ctx.request_id, ctx.user_id, ctx.project_id)
    return row
