"""Attaching volumes: Cinder's side of it.  Both flows Nova and the clients
use: the attachments API (3.27+: create, update with a connector, complete,
delete) and the legacy actions (os-reserve, os-initialize_connection,
os-attach, os-begin_detaching, os-detach, ...), over one status machine:

    available -> reserved/attaching -> in-use -> detaching -> available

A second attachment of a volume is refused unless the volume is
multiattach.  ``connection_info`` names a driver-neutral connection: the
file backend's is ``{"driver_volume_type": "file", "data": {"path",
"format", ...}}``; network exports will hand out ``nbd`` or ``iscsi`` the
same way."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from stratus.common.context import RequestContext
from stratus.common.db import Database, utcnow
from stratus.volume import models as m
from stratus.volume.errors import BadRequest, InvalidVolume, NotFound
from stratus.volume.service.common import visible_volume

LIVE = ("reserved", "attaching", "attached", "detaching")


def connection_info(volume: m.Volume, attachment: m.Attachment | None, mode: str) -> dict[str, Any]:
    location = dict(volume.provider_location or {})
    kind = location.pop("driver_volume_type", "file")
    data = {
        **location,
        "volume_id": volume.id,
        "access_mode": mode,
        "encrypted": False,
        "qos_specs": None,
    }
    if attachment is not None:
        data["attachment_id"] = attachment.id
    return {"driver_volume_type": kind, "data": data, "serial": volume.id}


def _mode(volume: m.Volume, asked: str | None) -> str:
    readonly = volume.admin_metadata.get("readonly") == "True"
    if asked not in (None, "rw", "ro"):
        raise BadRequest(f"Invalid attach mode {asked!r}: use rw or ro.")
    if readonly and asked == "rw":
        raise BadRequest(f"Invalid volume: Volume {volume.id} is read-only; attach it ro.")
    return "ro" if readonly else (asked or "rw")


class Attachments:
    def __init__(self, db: Database):
        self.db = db

    async def _live(self, s: AsyncSession, volume_id: str) -> list[m.Attachment]:
        return list(
            (
                await s.scalars(
                    select(m.Attachment).where(
                        m.Attachment.volume_id == volume_id, m.Attachment.attach_status.in_(LIVE)
                    )
                )
            ).all()
        )

    async def _reserve_check(self, s: AsyncSession, volume: m.Volume, instance: str | None) -> None:
        live = await self._live(s, volume.id)
        if volume.status == m.AVAILABLE or (volume.status == m.DOWNLOADING and not live):
            return
        if volume.multiattach and volume.status in (m.IN_USE, m.RESERVED, m.ATTACHING):
            if instance and any(a.instance_uuid == instance for a in live):
                raise BadRequest(
                    f"Invalid volume: Volume {volume.id} is already attached to {instance}."
                )
            return
        raise InvalidVolume(
            f"Invalid volume: Volume {volume.id} status must be available or downloading to "
            f"reserve, but the current status is {volume.status}."
        )

    # -- the attachments API (3.27+) ------------------------------------------------------

    async def create(
        self, ctx: RequestContext, volume_id: str, instance: str | None,
        connector: dict[str, Any] | None, mode: str | None,
    ) -> m.Attachment:  # fmt: skip
        async with self.db.transaction() as s:
            volume = await visible_volume(s, ctx, volume_id, for_update=True)
            await self._reserve_check(s, volume, instance)
            att = m.Attachment(
                volume_id=volume.id,
                project_id=volume.project_id,
                instance_uuid=instance,
                attach_mode=_mode(volume, mode),
            )
            s.add(att)
            if volume.status == m.AVAILABLE:
                volume.status = m.RESERVED
            if connector:
                self._connect(volume, att, connector)
            await s.flush()
            return att

    def _connect(self, volume: m.Volume, att: m.Attachment, connector: dict[str, Any]) -> None:
        att.connector = connector
        att.attached_host = connector.get("host")
        att.mountpoint = connector.get("mountpoint") or att.mountpoint
        att.connection_info = connection_info(volume, att, att.attach_mode)
        att.attach_status = "attaching"
        if volume.status in (m.RESERVED, m.AVAILABLE):
            volume.status = m.ATTACHING

    async def _attachment(
        self, s: AsyncSession, ctx: RequestContext, attachment_id: str
    ) -> tuple[m.Attachment, m.Volume]:
        att = await s.get(m.Attachment, attachment_id)
        if att is None or not ctx.owns(att.project_id):
            raise NotFound(f"Volume attachment {attachment_id} could not be found.")
        volume = await s.get(m.Volume, att.volume_id, with_for_update=True)
        if volume is None:
            raise NotFound(f"Volume {att.volume_id} could not be found.")
        return att, volume

    async def update(
        self, ctx: RequestContext, attachment_id: str, connector: dict[str, Any]
    ) -> m.Attachment:
        async with self.db.transaction() as s:
            att, volume = await self._attachment(s, ctx, attachment_id)
            if att.attach_status not in ("reserved", "attaching", "attached"):
                raise BadRequest(f"Invalid volume attachment: it is {att.attach_status}.")
            self._connect(volume, att, connector)
            return att

    async def complete(self, ctx: RequestContext, attachment_id: str) -> None:
        async with self.db.transaction() as s:
            att, volume = await self._attachment(s, ctx, attachment_id)
            if att.connection_info is None:
                raise BadRequest("Invalid volume attachment: it has no connector yet.")
            self._attached(volume, att)

    @staticmethod
    def _attached(volume: m.Volume, att: m.Attachment) -> None:
        att.attach_status = "attached"
        att.attach_time = att.attach_time or utcnow()
        volume.status = m.IN_USE
        volume.attach_status = m.ATTACHED
        volume.admin_metadata = {**volume.admin_metadata, "attached_mode": att.attach_mode}

    async def delete(self, ctx: RequestContext, attachment_id: str) -> None:
        async with self.db.transaction() as s:
            att, volume = await self._attachment(s, ctx, attachment_id)
            await self._detach(s, volume, att)

    async def _detach(self, s: AsyncSession, volume: m.Volume, att: m.Attachment) -> None:
        await s.delete(att)
        await s.flush()
        rest = await self._live(s, volume.id)
        if any(a.attach_status == "attached" for a in rest):
            volume.status, volume.attach_status = m.IN_USE, m.ATTACHED
        elif rest:
            volume.status, volume.attach_status = m.RESERVED, m.DETACHED
        else:
            if volume.status in (m.RESERVED, m.ATTACHING, m.IN_USE, m.DETACHING):
                volume.status = m.AVAILABLE
            volume.attach_status = m.DETACHED
            volume.admin_metadata = {
                k: v for k, v in volume.admin_metadata.items() if k != "attached_mode"
            }

    async def get(self, ctx: RequestContext, attachment_id: str) -> m.Attachment:
        async with self.db.session() as s:
            att = await s.get(m.Attachment, attachment_id)
            if att is None or not ctx.owns(att.project_id):
                raise NotFound(f"Volume attachment {attachment_id} could not be found.")
            return att

    async def list_attachments(
        self, ctx: RequestContext, all_projects: bool, filters: dict[str, str]
    ) -> list[m.Attachment]:
        stmt = select(m.Attachment).order_by(m.Attachment.created_at)
        if not (ctx.is_admin and all_projects):
            stmt = stmt.where(m.Attachment.project_id == (ctx.project_id or ""))
        for key in ("volume_id", "instance_uuid", "attach_status"):
            if filters.get(key):
                stmt = stmt.where(getattr(m.Attachment, key) == filters[key])
        async with self.db.session() as s:
            return list((await s.scalars(stmt)).all())

    # -- the legacy actions ---------------------------------------------------------------

    async def legacy(
        self, ctx: RequestContext, volume_id: str, action: str, body: dict[str, Any]
    ) -> Any:
        async with self.db.transaction() as s:
            volume = await visible_volume(s, ctx, volume_id, for_update=True)
            return await getattr(self, f"_{action}")(s, volume, body)

    async def _reserve(self, s: AsyncSession, volume: m.Volume, body: dict[str, Any]) -> None:
        await self._reserve_check(s, volume, None)
        volume.status = m.ATTACHING

    async def _unreserve(self, s: AsyncSession, volume: m.Volume, body: dict[str, Any]) -> None:
        if volume.status != m.ATTACHING:
            return
        live = [a for a in await self._live(s, volume.id) if a.attach_status == "attached"]
        volume.status = m.IN_USE if live else m.AVAILABLE

    async def _begin_detaching(
        self, s: AsyncSession, volume: m.Volume, body: dict[str, Any]
    ) -> None:
        if volume.status != m.IN_USE or volume.attach_status != m.ATTACHED:
            raise InvalidVolume(
                f"Invalid volume: Unable to detach volume. Volume status must be 'in-use' and "
                f"attach_status must be 'attached' to detach, not {volume.status}."
            )
        volume.status = m.DETACHING

    async def _roll_detaching(
        self, s: AsyncSession, volume: m.Volume, body: dict[str, Any]
    ) -> None:
        if volume.status == m.DETACHING:
            volume.status = m.IN_USE

    async def _initialize_connection(
        self, s: AsyncSession, volume: m.Volume, body: dict[str, Any]
    ) -> dict[str, Any]:
        if volume.provider_location is None:
            raise InvalidVolume(f"Invalid volume: Volume {volume.id} has no data yet.")
        connector = body.get("connector") or {}
        mode = _mode(volume, connector.get("mode"))
        return connection_info(volume, None, mode)

    async def _terminate_connection(
        self, s: AsyncSession, volume: m.Volume, body: dict[str, Any]
    ) -> None:
        return None

    async def _attach(self, s: AsyncSession, volume: m.Volume, body: dict[str, Any]) -> None:
        instance = body.get("instance_uuid")
        host = body.get("host_name")
        if not instance and not host:
            raise BadRequest("Invalid request to attach volume: no instance_uuid nor host_name.")
        if volume.status not in (m.ATTACHING, m.AVAILABLE, m.RESERVED) and not (
            volume.multiattach and volume.status == m.IN_USE
        ):
            raise InvalidVolume(
                f"Invalid volume: Volume {volume.id} is {volume.status}, not attaching."
            )
        if volume.status == m.AVAILABLE:
            await self._reserve_check(s, volume, instance)
        mode = _mode(volume, body.get("mode"))
        att = m.Attachment(
            volume_id=volume.id,
            project_id=volume.project_id,
            instance_uuid=instance,
            attached_host=host,
            mountpoint=body.get("mountpoint"),
            attach_mode=mode,
        )
        s.add(att)
        att.connection_info = connection_info(volume, att, mode)
        self._attached(volume, att)

    async def _detach_action(self, s: AsyncSession, volume: m.Volume, body: dict[str, Any]) -> None:
        live = await self._live(s, volume.id)
        wanted = body.get("attachment_id")
        if wanted:
            live = [a for a in live if a.id == wanted]
            if not live:
                raise NotFound(f"Volume attachment {wanted} could not be found.")
        elif len(live) > 1:
            raise BadRequest(
                "Invalid volume: Volume has more than one attachment: name the attachment_id."
            )
        if not live:
            if volume.attach_status != m.ATTACHED and volume.status != m.DETACHING:
                raise InvalidVolume(f"Invalid volume: Volume {volume.id} is not attached.")
            volume.status, volume.attach_status = m.AVAILABLE, m.DETACHED
            return
        await self._detach(s, volume, live[0])

    async def _force_detach(self, s: AsyncSession, volume: m.Volume, body: dict[str, Any]) -> None:
        live = await self._live(s, volume.id)
        wanted = body.get("attachment_id")
        for att in live:
            if wanted in (None, att.id):
                await self._detach(s, volume, att)
