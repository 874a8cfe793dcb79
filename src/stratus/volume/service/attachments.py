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

import asyncio
from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from stratus.common.context import RequestContext
from stratus.common.db import Database, utcnow
from stratus.volume import models as m
from stratus.volume.errors import BadRequest, InvalidVolume, NotFound, ServiceUnavailable
from stratus.volume.service.common import visible_volume
from stratus.volume.service.hosts import agent_of, backend_of

LIVE = ("reserved", "attaching", "attached", "detaching")
ERROR_ATTACHING = "error_attaching"


def connection_info(
    volume: m.Volume,
    attachment: m.Attachment | None,
    mode: str,
    location: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Cinder's ``connection_info``: the volume's ``provider_location`` (or
    ``location``: an export's) and what every connection carries."""
    location = dict(location if location is not None else volume.provider_location or {})
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


# The connector of a connection row ``os-initialize_connection`` made.
LEGACY = "stratus_legacy_connection"


def _legacy(att: m.Attachment) -> bool:
    return bool((att.connector or {}).get(LEGACY))


def _mode(volume: m.Volume, asked: str | None) -> str:
    readonly = volume.admin_metadata.get("readonly") == "True"
    if asked not in (None, "rw", "ro"):
        raise BadRequest(f"Invalid attach mode {asked!r}: use rw or ro.")
    if readonly and asked == "rw":
        raise BadRequest(f"Invalid volume: Volume {volume.id} is read-only; attach it ro.")
    return "ro" if readonly else (asked or "rw")


async def remote(s: AsyncSession, volume: m.Volume, connector: dict[str, Any]) -> bool:
    """Whether the connector's host needs a network export to reach the
    volume: an agent that exports lists the hosts that open its files
    (``local_hosts``); one that lists none (a backend without exports)
    hands out its own connection to everyone."""
    row = await s.get(m.VolumeHost, backend_of(volume.host))
    local = (row.capabilities or {}).get("local_hosts") if row is not None else None
    host = connector.get("host")
    return isinstance(local, list) and bool(host) and host not in local


class Attachments:
    def __init__(
        self, db: Database, wake: Callable[[str | None], None] | None = None,
        export_timeout: float = 30.0,
    ):  # fmt: skip
        self.db = db
        self.wake = wake or (lambda host: None)
        self.export_timeout = export_timeout

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
        if instance and live and volume.status in (m.IN_USE, m.RESERVED, m.ATTACHING):
            if any(a.instance_uuid == instance for a in live):
                return  # the same server on another host: a move (Cinder allows it)
        if volume.multiattach and volume.status in (m.IN_USE, m.RESERVED, m.ATTACHING):
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
            exported = False
            if connector:
                exported = await self._connect(s, volume, att, connector)
            await s.flush()
            host = volume.host
        if exported:
            return await self._exported(att.id, host)
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

    async def _exported(self, attachment_id: str, host: str | None) -> m.Attachment:
        """Wake the volume's agent and wait until it has recorded the export
        made for the attachment (503 when it fails or takes too long)."""
        self.wake(host)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.export_timeout
        delay = 0.01
        while True:
            async with self.db.session() as s:
                att = await s.get(m.Attachment, attachment_id)
            if att is None:
                raise NotFound(f"Volume attachment {attachment_id} could not be found.")
            info = att.connection_info or {}
            if att.attach_status == ERROR_ATTACHING:
                raise ServiceUnavailable(
                    f"The volume could not be exported to the connector's host: "
                    f"{info.get('error') or 'the volume agent failed'}."
                )
            if info.get("driver_volume_type"):
                return att
            if loop.time() > deadline:
                raise ServiceUnavailable(
                    f"The volume agent of host {agent_of(host)} did not export the volume "
                    f"within {self.export_timeout:g} s; try again."
                )
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.2)

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
            return await self._exported(attachment_id, host)
        return att

    async def complete(self, ctx: RequestContext, attachment_id: str) -> None:
        async with self.db.transaction() as s:
            att, volume = await self._attachment(s, ctx, attachment_id)
            if not (att.connection_info or {}).get("driver_volume_type"):
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
            exported = (att.connection_info or {}).get("driver_volume_type") in ("nbd", "iscsi")
            await self._detach(s, volume, att)
            host = volume.host
        if exported:
            self.wake(host)  # its agent ends the export

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
            mode = _mode(volume, connector.get("mode"))
            if not await remote(s, volume, connector):
                return connection_info(volume, None, mode)
            host = volume.host
            found = [
                a for a in await self._live(s, volume.id)
                if _legacy(a) and a.attached_host == connector.get("host")
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
            made = await self._exported(attachment_id, host)
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
        for att in await self._live(s, volume.id):
            if not _legacy(att) or att.attached_host != host:
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
            await self._reserve_check(s, volume, instance)
        mode = _mode(volume, body.get("mode"))
        pending = [
            a for a in await self._live(s, volume.id)
            if _legacy(a) and a.attach_status == "attaching" and a.instance_uuid is None
            and (a.connection_info or {}).get("driver_volume_type")
        ]  # fmt: skip
        if pending:  # the export os-initialize_connection made: the attachment's now
            att = pending[0]
            att.instance_uuid = instance
            att.mountpoint = body.get("mountpoint") or att.mountpoint
            self._attached(volume, att)
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
