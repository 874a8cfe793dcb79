"""The legacy volume actions Nova and the clients still use (os-reserve,
os-initialize_connection, os-attach, os-begin_detaching, os-detach,
os-force_detach, os-terminate_connection, ...), over the same status
machine and attachment rows as the attachments API.  A remote connector's
``os-initialize_connection`` gets an NBD export through a connection row
(``LEGACY`` in its connector) that ``os-attach`` takes over."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from stratus.common.context import RequestContext
from stratus.common.db import Database
from stratus.volume import models as m
from stratus.volume.errors import BadRequest, InvalidVolume, NotFound, ServiceUnavailable
from stratus.volume.service.common import visible_volume
from stratus.volume.service.connections import (
    ERROR_ATTACHING,
    LEGACY,
    ExportWait,
    attach_mode,
    connection_info,
    detach,
    is_legacy,
    live_attachments,
    mark_attached,
    remote,
    reserve_check,
)


class LegacyActions:
    def __init__(self, db: Database, exports: ExportWait):
        self.db = db
        self.exports = exports
        self.wake = exports.wake

    async def run(
        self, ctx: RequestContext, volume_id: str, action: str, body: dict[str, Any]
    ) -> Any:
        if action == "initialize_connection":
            return await self._initialize_connection(ctx, volume_id, body)
        async with self.db.transaction() as s:
            volume = await visible_volume(s, ctx, volume_id, for_update=True)
            result = await getattr(self, f"_{action}")(s, volume, body)
            host = volume.host
        if action in ("detach_action", "force_detach", "terminate_connection"):
            self.wake(host)  # an export made for an attachment ends with it
        return result

    async def _reserve(self, s: AsyncSession, volume: m.Volume, body: dict[str, Any]) -> None:
        await reserve_check(s, volume, None)
        volume.status = m.ATTACHING

    async def _unreserve(self, s: AsyncSession, volume: m.Volume, body: dict[str, Any]) -> None:
        if volume.status != m.ATTACHING:
            return
        live = [a for a in await live_attachments(s, volume.id) if a.attach_status == "attached"]
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
        self, ctx: RequestContext, volume_id: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        """The connection for a connector: the file for a host that opens
        the agent's files; for any other, an NBD export as the attachments
        API gives, held by a connection row of the volume (marked
        ``LEGACY`` in its connector) that ``os-attach`` takes over and
        ``os-terminate_connection`` ends.  The same host again gets the
        same export."""
        connector = body.get("connector") or {}
        async with self.db.transaction() as s:
            volume = await visible_volume(s, ctx, volume_id, for_update=True)
            if volume.provider_location is None:
                raise InvalidVolume(f"Invalid volume: Volume {volume.id} has no data yet.")
            mode = attach_mode(volume, connector.get("mode"))
            if not await remote(s, volume, connector):
                return connection_info(volume, None, mode)
            host = volume.host
            found = [
                a for a in await live_attachments(s, volume.id)
                if is_legacy(a) and a.attached_host == connector.get("host")
                and a.attach_status == "attaching"
            ]  # fmt: skip
            if found:
                att = found[0]
            else:
                att = m.Attachment(
                    volume_id=volume.id, project_id=volume.project_id, attach_mode=mode,
                    connector={**connector, LEGACY: True}, attached_host=connector.get("host"),
                    mountpoint=connector.get("mountpoint"), attach_status="attaching",
                )  # fmt: skip
                s.add(att)
                await s.flush()
            if (att.connection_info or {}).get("driver_volume_type"):
                return dict(att.connection_info or {})
            attachment_id = att.id
        try:
            made = await self.exports.wait(attachment_id, host)
        except ServiceUnavailable:
            # No row left behind by a failed export, nor by one that took too
            # long: the agent would serve it later with a key nobody holds.
            async with self.db.transaction() as s:
                failed = await s.get(m.Attachment, attachment_id, with_for_update=True)
                if failed is not None and (
                    failed.attach_status == ERROR_ATTACHING
                    or not (failed.connection_info or {}).get("driver_volume_type")
                ):
                    await s.delete(failed)
            raise
        return dict(made.connection_info or {})

    async def _terminate_connection(
        self, s: AsyncSession, volume: m.Volume, body: dict[str, Any]
    ) -> None:
        """End the export ``os-initialize_connection`` made for the
        connector's host: a connection not attached yet goes; an attached
        one keeps its row (``os-detach`` ends it) without its export."""
        host = (body.get("connector") or {}).get("host")
        for att in await live_attachments(s, volume.id):
            if not is_legacy(att) or att.attached_host != host:
                continue
            if att.attach_status == "attached":
                att.connection_info = {}  # no export wanted (agent/exports.py)
            else:
                await s.delete(att)

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
            await reserve_check(s, volume, instance)
        mode = attach_mode(volume, body.get("mode"))
        pending = [
            a for a in await live_attachments(s, volume.id)
            if is_legacy(a) and a.attach_status == "attaching" and a.instance_uuid is None
            and (a.connection_info or {}).get("driver_volume_type")
        ]  # fmt: skip
        if pending:  # the export os-initialize_connection made: the attachment's now
            att = pending[0]
            att.instance_uuid = instance
            att.mountpoint = body.get("mountpoint") or att.mountpoint
            mark_attached(volume, att)
            return
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
        mark_attached(volume, att)

    async def _detach_action(self, s: AsyncSession, volume: m.Volume, body: dict[str, Any]) -> None:
        live = await live_attachments(s, volume.id)
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
        await detach(s, volume, live[0])

    async def _force_detach(self, s: AsyncSession, volume: m.Volume, body: dict[str, Any]) -> None:
        live = await live_attachments(s, volume.id)
        wanted = body.get("attachment_id")
        for att in live:
            if wanted in (None, att.id):
                await detach(s, volume, att)
