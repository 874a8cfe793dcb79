"""A server's volumes (``os-volume_attachments``): attach, list, show,
update, detach.

Attaching records the wish and reserves the volume in Cinder, then wakes
the agent of the server's host, which connects the volume (the host's
connector in, ``connection_info`` out), hot-plugs the disk, and completes
the attachment: Cinder's volume goes reserved -> attaching -> in-use.
Detaching marks the volume ``detaching`` and wakes the agent, which
unplugs the disk (the guest flushes and lets it go) and deletes the
attachment: the volume is available again.

The compute row is written before Cinder is asked, so a crash between the
two leaves a row the agent finishes (it finds or makes the reservation)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from stratus.common.context import RequestContext
from stratus.common.db import Database, utcnow
from stratus.compute import models as m
from stratus.compute.drivers.base import Capability
from stratus.compute.errors import BadRequest, Conflict, NotFound
from stratus.compute.service.actions import start_action
from stratus.compute.service.boot_volumes import BootVolume, plan_boot
from stratus.compute.service.image_records import ImageRecords, ImageServiceError
from stratus.compute.service.servers import Servers, visible_server
from stratus.compute.service.volume_client import VolumeClient
from stratus.compute.service.volume_snapshots import snapshot_volume_backed
from stratus.compute.service.volume_swaps import swap_volumes

# Nova lets a volume be attached to and detached from servers in these states.
ATTACHABLE = frozenset({m.ACTIVE, m.STOPPED, m.PAUSED, m.SUSPENDED})
MAX_DEVICES = 25  # vdb .. vdz


def detachable(row: m.VolumeAttachment) -> bool:
    """Attached, or plugged in and being completed in Cinder (the agent
    records the disk just before it completes the attachment)."""
    return row.status == m.VOL_ATTACHED or (
        row.status == m.VOL_ATTACHING and row.connection_info is not None
    )


def next_device(used: set[str], wanted: str | None = None) -> str:
    """The device name a new volume gets: ``wanted`` when free, else the
    first free /dev/vdX after the root disk."""
    if wanted:
        if wanted in used:
            raise BadRequest(f"The supplied device path ({wanted}) is in use.")
        if not wanted.startswith("/dev/") or len(wanted) > 32:
            raise BadRequest(f"The supplied device path ({wanted}) is invalid.")
        return wanted
    for letter in "bcdefghijklmnopqrstuvwxyz":
        device = f"/dev/vd{letter}"
        if device not in used:
            return device
    raise BadRequest(f"The server has no free device name: at most {MAX_DEVICES} volumes.")


class ServerVolumes:
    def __init__(self, db: Database, wake: Callable[[str | None], None]):
        self.db = db
        self.wake = wake
        self.client: VolumeClient | None = None  # set when a volume service is reachable

    def reachable_client(self) -> VolumeClient:
        if self.client is None:
            raise BadRequest("Block storage is not available in this cloud.")
        return self.client

    async def plan_boot(
        self, ctx: RequestContext, server: m.Server, volumes: list[BootVolume]
    ) -> None:
        """The volumes of a server booted with block_device_mapping_v2."""
        await plan_boot(self.db, self.client, self.wake, ctx, server, volumes)

    # -- reads -------------------------------------------------------------------------

    async def list_attachments(
        self, ctx: RequestContext, server_id: str
    ) -> list[m.VolumeAttachment]:
        async with self.db.session() as s:
            await visible_server(s, ctx, server_id)
            rows = await self.of_server(s, server_id)
        return [r for r in rows if r.status != m.VOL_SWAPPING]  # shown once swapped in

    @staticmethod
    async def of_server(s: AsyncSession, server_id: str) -> list[m.VolumeAttachment]:
        rows = await s.scalars(
            select(m.VolumeAttachment)
            .where(m.VolumeAttachment.server_id == server_id)
            .order_by(m.VolumeAttachment.created_at, m.VolumeAttachment.device)
        )
        return list(rows.all())

    async def of_servers(self, server_ids: list[str]) -> dict[str, list[m.VolumeAttachment]]:
        """The volumes of these servers, by server (for the servers' views)."""
        found: dict[str, list[m.VolumeAttachment]] = {}
        if not server_ids:
            return found
        async with self.db.session() as s:
            rows = await s.scalars(
                select(m.VolumeAttachment)
                .where(m.VolumeAttachment.server_id.in_(server_ids))
                .order_by(m.VolumeAttachment.created_at, m.VolumeAttachment.device)
            )
            for row in rows.all():
                found.setdefault(row.server_id, []).append(row)
        return found

    async def get(self, ctx: RequestContext, server_id: str, volume_id: str) -> m.VolumeAttachment:
        async with self.db.session() as s:
            await visible_server(s, ctx, server_id)
            return await self.attachment_row(s, server_id, volume_id)

    @staticmethod
    async def attachment_row(s: AsyncSession, server_id: str, volume_id: str) -> m.VolumeAttachment:
        row = await s.scalar(
            select(m.VolumeAttachment).where(
                m.VolumeAttachment.server_id == server_id, m.VolumeAttachment.volume_id == volume_id
            )
        )
        if row is None:
            raise NotFound(
                f"Volume attachment could not be found with filter: volume_id = {volume_id} and "
                f"instance_uuid = {server_id}."
            )
        return row

    # -- attach ------------------------------------------------------------------------

    @staticmethod
    async def check_server(
        s: AsyncSession, ctx: RequestContext, server_id: str, verb: str
    ) -> m.Server:
        server = await visible_server(s, ctx, server_id)
        Servers.check_lock(ctx, server)
        if server.task_state is not None:
            raise Conflict(
                f"Cannot '{verb}' instance {server_id} while it is in task_state "
                f"{server.task_state}"
            )
        if server.vm_state not in ATTACHABLE or server.host is None:
            raise Conflict(
                f"Cannot '{verb}' instance {server_id} while it is in vm_state {server.vm_state}"
            )
        await Servers.check_capability(s, server, Capability.VOLUME_ATTACH, verb)
        return server

    async def attach(
        self, ctx: RequestContext, server_id: str, volume_id: str, *,
        device: str | None = None, tag: str | None = None, delete_on_termination: bool = False,
    ) -> m.VolumeAttachment:  # fmt: skip
        client = self.reachable_client()
        async with self.db.session() as s:
            await self.check_server(s, ctx, server_id, "attach_volume")
        volume = await client.get(ctx, volume_id)  # 404 for a volume the caller cannot see
        if volume.status != "available" and not volume.multiattach:
            raise BadRequest(
                f"Invalid volume: volume {volume_id} status must be 'available', "
                f"not '{volume.status}'"
            )
        async with self.db.transaction() as s:
            server = await self.check_server(s, ctx, server_id, "attach_volume")
            rows = await self.of_server(s, server_id)
            if any(r.volume_id == volume_id for r in rows):
                raise BadRequest(
                    f"Invalid volume: volume {volume_id} is already attached to instance "
                    f"{server_id}"
                )
            row = m.VolumeAttachment(
                server_id=server_id,
                project_id=server.project_id,
                volume_id=volume_id,
                device=next_device({r.device for r in rows} | {"/dev/vda"}, device),
                tag=tag,
                delete_on_termination=delete_on_termination,
                source_type="volume",
                volume_size=volume.size,
                status=m.VOL_ATTACHING,
            )
            s.add(row)
            start_action(s, server_id, "attach_volume", ctx.request_id, ctx.user_id, ctx.project_id)
        try:
            attachment_id = await client.reserve(ctx, volume_id, server_id)
        except Exception:
            async with self.db.transaction() as s:
                await s.delete(await s.merge(row))
            raise
        async with self.db.transaction() as s:
            stored = await s.get(m.VolumeAttachment, row.id)
            if stored is not None:
                stored.attachment_id = attachment_id
                row = stored
        self.wake(server.host)
        return row

    # -- servers without a host ---------------------------------------------------------

    async def release_unplaced(self, server_id: str) -> None:
        """A deleted server that never reached a host (or left it, shelved):
        no agent releases its volumes, so this does."""
        async with self.db.session() as s:
            server = await s.get(m.Server, server_id)
            if server is None or server.host is not None or server.deleted_at is None:
                return
            rows = await self.of_server(s, server_id)
        if not rows or self.client is None:
            return
        for row in rows:
            attachment_id = row.attachment_id or await self.client.find_attachment(
                row.volume_id, server_id
            )
            if attachment_id:
                await self.client.release(attachment_id)
            if row.delete_on_termination:
                await self.client.delete_volume(row.volume_id)
            async with self.db.transaction() as s:
                stored = await s.get(m.VolumeAttachment, row.id)
                if stored is not None:
                    await s.delete(stored)

    async def recover(self) -> None:
        """At start: a server whose volumes were being made when the API
        died goes to ERROR (its delete releases what was made)."""
        async with self.db.transaction() as s:
            stuck = await s.scalars(
                select(m.Server).where(
                    m.Server.task_state == "block_device_mapping", m.Server.deleted_at.is_(None)
                )
            )
            for server in stuck.all():
                server.vm_state, server.task_state = m.ERROR, None
                message = "Interrupted while its volumes were prepared; delete it."
                server.fault = {
                    "code": 500,
                    "message": message,
                    "details": message,
                    "created": utcnow().strftime("%Y-%m-%dT%H:%M:%SZ"),
                }

    async def refuse_volume_backed(self, server_id: str, verb: str) -> None:
        """409 for what a server booted from a volume cannot do yet (its
        root disk is not a file of its host: live migration,
        shelve, backup, rescue; cold migration and resize can)."""
        if await self.volume_backed(server_id):
            raise Conflict(
                f"Cannot '{verb}' instance {server_id}: it boots from a volume, which this "
                "action does not support yet."
            )

    async def refuse_volumes_busy(self, server_id: str, verb: str) -> None:
        """409 while one of the server's volumes is being attached, detached,
        grown or swapped: a live migration moves attached volumes only."""
        async with self.db.session() as s:
            rows = await self.of_server(s, server_id)
        busy = [r.volume_id for r in rows if r.status != m.VOL_ATTACHED]
        if busy:
            raise Conflict(
                f"Cannot '{verb}' instance {server_id}: its volume {busy[0]} is being "
                "attached, detached or changed; try again when it is in-use."
            )

    # -- createImage of a volume-backed server ------------------------------------------

    async def volume_backed(self, server_id: str) -> bool:
        async with self.db.session() as s:
            rows = await self.of_server(s, server_id)
        return any(r.boot_index == 0 for r in rows)

    async def create_image(
        self, ctx: RequestContext, server_id: str, name: str, metadata: dict[str, str],
        records: ImageRecords,
    ) -> str:  # fmt: skip
        """Snapshot each volume of a volume-backed server into an image
        that records them (``service/volume_snapshots.py``)."""
        client = self.reachable_client()
        async with self.db.session() as s:
            server = await visible_server(s, ctx, server_id)
            Servers.check_lock(ctx, server)
            if server.task_state is not None:
                raise Conflict(
                    f"Cannot 'createImage' instance {server_id} while it is in task_state "
                    f"{server.task_state}"
                )
            if server.vm_state not in ATTACHABLE:
                raise Conflict(
                    f"Cannot 'createImage' instance {server_id} while it is in vm_state "
                    f"{server.vm_state}"
                )
            rows = [r for r in await self.of_server(s, server_id) if r.status == m.VOL_ATTACHED]
        async with self.db.transaction() as s:
            start_action(s, server_id, "createImage", ctx.request_id, ctx.user_id, ctx.project_id)
        try:
            return await snapshot_volume_backed(ctx, server, rows, client, records, name, metadata)
        except ImageServiceError as exc:
            raise BadRequest(f"The image could not be created: {exc}") from exc

    # -- update, detach ----------------------------------------------------------------

    async def update(
        self, ctx: RequestContext, server_id: str, volume_id: str, changes: dict[str, Any]
    ) -> m.VolumeAttachment:
        async with self.db.transaction() as s:
            server = await visible_server(s, ctx, server_id)
            Servers.check_lock(ctx, server)
            row = await self.attachment_row(s, server_id, volume_id)
            if "delete_on_termination" in changes:
                row.delete_on_termination = bool(changes["delete_on_termination"])
            row.updated_at = utcnow()
            return row

    async def swap(self, ctx: RequestContext, server_id: str, old_id: str, new_id: str) -> None:
        """Swap the attached volume ``old_id`` for ``new_id`` (Nova's swap):
        the new volume is reserved and recorded beside the old one
        (``swapping``); the server's agent copies the data over while the
        guest runs and moves the guest's disk onto the new volume."""
        await swap_volumes(self, ctx, server_id, old_id, new_id)

    async def detach(self, ctx: RequestContext, server_id: str, volume_id: str) -> None:
        client = self.reachable_client()
        async with self.db.session() as s:
            server = await self.check_server(s, ctx, server_id, "detach_volume")
            row = await self.attachment_row(s, server_id, volume_id)
            if row.boot_index == 0:
                raise BadRequest("Cannot detach a root device volume")
            if not detachable(row):
                raise BadRequest(
                    f"Invalid volume: volume {volume_id} is {row.status} on instance "
                    f"{server_id}, not attached"
                )
        # Cinder refuses unless the volume is in-use: an attach whose agent
        # has completed it in Cinder but not yet marked its row is detached
        # (the agent's mark gives way to the detach), as in Nova, where the
        # attachment is completed in Cinder last.
        await client.begin_detaching(ctx, volume_id)
        async with self.db.transaction() as s:
            row = await self.attachment_row(s, server_id, volume_id)
            if not detachable(row):  # another detach won the race
                await client.roll_detaching(volume_id)
                raise Conflict(f"Volume {volume_id} is already being detached.")
            row.status = m.VOL_DETACHING
            start_action(s, server_id, "detach_volume", ctx.request_id, ctx.user_id, ctx.project_id)
        self.wake(server.host)
