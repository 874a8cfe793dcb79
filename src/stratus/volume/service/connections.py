"""What both attach flows share (``attachments.py``, the attachments API;
``legacy_attach.py``, the legacy volume actions): the live attachments of a
volume, the reservation check, Cinder's ``connection_info``, whether a
connector needs a network export and the wait for it, and the volume's
status as attachments come and go."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from stratus.common.db import Database, utcnow
from stratus.volume import models as m
from stratus.volume.errors import BadRequest, InvalidVolume, NotFound, ServiceUnavailable
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


def is_legacy(att: m.Attachment) -> bool:
    return bool((att.connector or {}).get(LEGACY))


def attach_mode(volume: m.Volume, asked: str | None) -> str:
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
    hands out its own connection to everyone.  A connector with
    ``network_export`` gets an export from any host (a live migration's
    destination whose source reaches the volume over one)."""
    row = await s.get(m.VolumeHost, backend_of(volume.host))
    local = (row.capabilities or {}).get("local_hosts") if row is not None else None
    host = connector.get("host")
    wanted = host not in (local or []) or bool(connector.get("network_export"))
    return isinstance(local, list) and bool(host) and wanted


async def live_attachments(s: AsyncSession, volume_id: str) -> list[m.Attachment]:
    return list(
        (
            await s.scalars(
                select(m.Attachment).where(
                    m.Attachment.volume_id == volume_id, m.Attachment.attach_status.in_(LIVE)
                )
            )
        ).all()
    )


async def reserve_check(s: AsyncSession, volume: m.Volume, instance: str | None) -> None:
    live = await live_attachments(s, volume.id)
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


def mark_attached(volume: m.Volume, att: m.Attachment) -> None:
    att.attach_status = "attached"
    att.attach_time = att.attach_time or utcnow()
    volume.status = m.IN_USE
    volume.attach_status = m.ATTACHED
    volume.admin_metadata = {**volume.admin_metadata, "attached_mode": att.attach_mode}


async def detach(s: AsyncSession, volume: m.Volume, att: m.Attachment) -> None:
    await s.delete(att)
    await s.flush()
    rest = await live_attachments(s, volume.id)
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


class ExportWait:
    """A remote connector's export: the volume's agent woken, and the
    attachment watched until the agent has recorded it."""

    def __init__(self, db: Database, wake: Callable[[str | None], None], export_timeout: float):
        self.db = db
        self.wake = wake
        self.export_timeout = export_timeout

    async def wait(self, attachment_id: str, host: str | None) -> m.Attachment:
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
