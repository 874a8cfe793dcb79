"""Attaching volumes: Cinder's side of it.  Both flows Nova and the clients
use: the attachments API (3.27+: create, update with a connector, complete,
delete) and the legacy actions (os-reserve, os-initialize_connection,
os-attach, os-begin_detaching, os-detach, ...), over one status machine:

    available -> reserved/attaching -> in-use -> detaching -> available

A second attachment of a volume is refused unless the volume is
multiattach, or is for the same instance (a server moving to another host
gets a new attachment there, as Cinder allows Nova).  ``connection_info``
names a driver-neutral connection: the file backend's is
``{"driver_volume_type": "file", "data": {"path", "format", ...}}``, for a
connector on a host that reaches the volume agent's files (the agent's
``local_hosts``, recorded in its ``volume_host`` row).  A connector of any
other host gets an NBD export made for the attachment: the update leaves
``connection_info`` empty, wakes the volume's agent, which adds it to the
volume's export (an NBD export and a TLS-PSK key of its own) and records
``{"driver_volume_type": "nbd", "data": {host, port, export,
psk_identity, psk_key, ...}}`` (or, with ``target_protocol = "iscsi"``,
a tgt target's Cinder ``iscsi`` properties: ``target_portal``,
``target_iqn``, ``target_lun``, CHAP ``auth_username``/``auth_password``),
and answers once it is there.  The agent
ends exports whose attachment is gone.  The legacy
``os-initialize_connection`` does the same for a remote connector through
a connection row that ``os-attach`` takes over."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from stratus.common.context import RequestContext
from stratus.common.db import Database
from stratus.volume import models as m
from stratus.volume.errors import BadRequest, NotFound
from stratus.volume.service.common import visible_volume
from stratus.volume.service.connections import (
    ERROR_ATTACHING,
    ExportWait,
    attach_mode,
    connection_info,
    detach,
    mark_attached,
    remote,
    reserve_check,
)
from stratus.volume.service.legacy_attach import LegacyActions


class Attachments:
    def __init__(
        self, db: Database, wake: Callable[[str | None], None] | None = None,
        export_timeout: float = 30.0,
    ):  # fmt: skip
        self.db = db
        self.wake = wake or (lambda host: None)
        self.exports = ExportWait(db, self.wake, export_timeout)
        self.legacy_actions = LegacyActions(db, self.exports)

    # -- the attachments API (3.27+) ------------------------------------------------------

    async def create(
        self, ctx: RequestContext, volume_id: str, instance: str | None,
        connector: dict[str, Any] | None, mode: str | None,
    ) -> m.Attachment:  # fmt: skip
        async with self.db.transaction() as s:
            volume = await visible_volume(s, ctx, volume_id, for_update=True)
            await reserve_check(s, volume, instance)
            att = m.Attachment(
                volume_id=volume.id,
                project_id=volume.project_id,
                instance_uuid=instance,
                attach_mode=attach_mode(volume, mode),
            )
            s.add(att)
            if volume.status == m.AVAILABLE:
                volume.status = m.RESERVED
            exported = False
            if connector:
                exported = await self._connect(s, volume, att, connector)
            await s.flush()
            host = volume.host
        if exported:
            return await self.exports.wait(att.id, host)
        return att

    async def _connect(
        self, s: AsyncSession, volume: m.Volume, att: m.Attachment, connector: dict[str, Any]
    ) -> bool:
        """Record the connector; True when the volume's agent is to export
        the volume for it (``connection_info`` stays empty until then)."""
        att.connector = connector
        att.attached_host = connector.get("host")
        att.mountpoint = connector.get("mountpoint") or att.mountpoint
        exported = await remote(s, volume, connector)
        att.connection_info = None if exported else connection_info(volume, att, att.attach_mode)
        att.attach_status = "attaching"
        if volume.status in (m.RESERVED, m.AVAILABLE):
            volume.status = m.ATTACHING
        return exported

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
            if att.attach_status not in ("reserved", "attaching", "attached", ERROR_ATTACHING):
                raise BadRequest(f"Invalid volume attachment: it is {att.attach_status}.")
            exported = await self._connect(s, volume, att, connector)
            host = volume.host
        if exported:
            return await self.exports.wait(attachment_id, host)
        return att

    async def complete(self, ctx: RequestContext, attachment_id: str) -> None:
        async with self.db.transaction() as s:
            att, volume = await self._attachment(s, ctx, attachment_id)
            if not (att.connection_info or {}).get("driver_volume_type"):
                raise BadRequest("Invalid volume attachment: it has no connector yet.")
            mark_attached(volume, att)

    async def delete(self, ctx: RequestContext, attachment_id: str) -> None:
        async with self.db.transaction() as s:
            att, volume = await self._attachment(s, ctx, attachment_id)
            exported = (att.connection_info or {}).get("driver_volume_type") in ("nbd", "iscsi")
            await detach(s, volume, att)
            host = volume.host
        if exported:
            self.wake(host)  # its agent ends the export

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

    async def legacy(
        self, ctx: RequestContext, volume_id: str, action: str, body: dict[str, Any]
    ) -> Any:
        """One of the legacy volume actions (``legacy_attach.py``)."""
        return await self.legacy_actions.run(ctx, volume_id, action, body)
