"""The volume agent's network exports: an attachment whose connector names
a host that cannot open this agent's files (``service/attachments.py``
leaves its ``connection_info`` empty) gets an NBD export of its own
(``drivers/nbd_export.py``: qemu-storage-daemon, TLS-PSK with a fresh key,
named after the attachment), recorded as the attachment's
``connection_info``.  Level-based: an export whose attachment is gone, or
no longer wants one (a connector of a local host since), is stopped and its
folder and key removed, at every pass and at start (after a crash); one
whose daemon died while its attachment lives (a reboot) is served again
with the port and key its consumer was given."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from sqlalchemy import select

from stratus.common.db import Database
from stratus.volume import models as m
from stratus.volume.drivers.base import DriverError, VolumeDriver, VolumeRef
from stratus.volume.drivers.nbd_export import ExportedVolume, NbdExports
from stratus.volume.service.attachments import ERROR_ATTACHING, LIVE, connection_info

log = logging.getLogger(__name__)


def _served(att: m.Attachment) -> ExportedVolume | None:
    """The export an attachment's connection names (None: it has none)."""
    info = att.connection_info or {}
    data = info.get("data") or {}
    if info.get("driver_volume_type") != "nbd" or not data.get("psk_key"):
        return None
    return ExportedVolume(
        str(data.get("export") or att.volume_id), str(data.get("host") or ""),
        int(data.get("port") or 0), str(data.get("psk_identity") or ""),
        str(data["psk_key"]), att.id,
    )  # fmt: skip


class ExportWork:
    def __init__(
        self,
        db: Database,
        driver: VolumeDriver,
        exports: NbdExports,
        local_hosts: frozenset[str],
    ):
        self.db = db
        self.driver = driver
        self.exports = exports
        self.local_hosts = local_hosts
        # One export change at a time: two starts of one export (the pass
        # serving it again while ``grow`` does) would each clear the other's
        # folder, and a daemon whose pid file went with it holds the image's
        # lock, unseen, until the agent stops.
        self._changing = asyncio.Lock()

    def remote(self, connector: dict[str, Any] | None) -> bool:
        host = (connector or {}).get("host")
        return bool(host) and host not in self.local_hosts

    async def pending(self, mine: Any) -> list[str]:
        """``a:<id>``: attachments waiting for an export; ``x:<id>``:
        exports nothing wants any more."""
        async with self.db.session() as s:
            rows = (
                await s.execute(
                    select(m.Attachment.id, m.Attachment.connector, m.Attachment.connection_info)
                    .join(m.Volume, m.Volume.id == m.Attachment.volume_id)
                    .where(mine, m.Attachment.attach_status.in_(LIVE))
                )
            ).all()
        wanted = {r[0] for r in rows if self.remote(r[1])}
        keys = [f"a:{r[0]}" for r in rows if r[0] in wanted and r[2] is None]
        keys += [f"x:{x}" for x in self.exports.folders() if x not in wanted]
        serving = set(self.exports.running())
        keys += [
            f"a:{r[0]}" for r in rows
            if r[0] in wanted and (r[2] or {}).get("driver_volume_type") == "nbd"
            and r[0] not in serving
        ]  # fmt: skip
        return keys

    async def export(self, attachment_id: str) -> None:
        async with self._changing:
            await self._export(attachment_id)

    async def _export(self, attachment_id: str) -> None:
        async with self.db.session() as s:
            att = await s.get(m.Attachment, attachment_id)
            volume = await s.get(m.Volume, att.volume_id) if att is not None else None
        if att is None or volume is None or not self.remote(att.connector):
            return
        again = _served(att)
        if att.connection_info is not None and again is None:
            return
        if again is not None and att.id in self.exports.running():
            return  # served again meanwhile (by ``grow``)
        try:
            local = self.driver.connection(volume.id, {})
            if local.driver_volume_type != "file":
                raise DriverError(f"the {self.driver.name} backend has no network export")
            exported = await self.exports.start(
                volume.id, Path(str(local.data["path"])), str(local.data.get("format") or "raw"),
                export_id=att.id, writable=att.attach_mode == "rw", again=again,
            )  # fmt: skip
        except DriverError as exc:
            if again is not None:  # the consumer keeps its connection; tried again later
                log.warning("volume: serving export %s again failed: %s", att.id, exc)
                raise
            log.warning("volume: exporting %s for attachment %s failed: %s", volume.id, att.id, exc)
            await self._record(att.id, {"error": str(exc)}, ERROR_ATTACHING)
            return
        if again is not None:
            log.info("volume: export %s of volume %s served again", att.id, volume.id)
            return
        location = {"driver_volume_type": "nbd", **exported.connection().data}
        info = connection_info(volume, att, att.attach_mode, location)
        if not await self._record(att.id, info, None):
            await self.exports.stop(att.id)  # deleted (or connected again) meanwhile
            return
        log.info(
            "volume: volume %s exported for attachment %s (host %s) on %s:%d",
            volume.id, att.id, (att.connector or {}).get("host"), exported.host, exported.port,
        )  # fmt: skip

    async def _record(self, attachment_id: str, info: dict[str, Any], status: str | None) -> bool:
        """Record the export on the attachment if it still waits for one."""
        async with self.db.transaction() as s:
            att = await s.get(m.Attachment, attachment_id, with_for_update=True)
            if att is None or att.connection_info is not None:
                return False
            att.connection_info = info
            if status is not None:
                att.attach_status = status
            return status is None

    async def grow(self, volume: VolumeRef, new_size_gb: int) -> bool:
        """Grow a volume that exports of this agent hold open (each daemon
        holds the image's lock, and an export cannot grow its node): stop
        them, grow the file, serve them again with the same port and key,
        which QEMU's NBD client reconnects to (compute opens exports with a
        ``reconnect-delay``).  False when no export serves the volume."""
        async with self._changing:
            return await self._grow(volume, new_size_gb)

    async def _grow(self, volume: VolumeRef, new_size_gb: int) -> bool:
        held = [(x, self.exports.described(x)) for x in self.exports.serving(volume.id)]
        if not held:
            return False
        for export_id, _ in held:
            await self.exports.stop(export_id)
        try:
            await self.driver.extend(volume, new_size_gb)
        finally:
            for export_id, described in held:
                if described is None:
                    continue  # the pass serves it again from its attachment
                exported, path, fmt, writable = described
                try:
                    await self.exports.start(
                        exported.volume_id, path, fmt, export_id=export_id, writable=writable,
                        again=exported,
                    )  # fmt: skip
                except DriverError as exc:  # the pass serves it again from its attachment
                    log.warning("volume: export %s not served again yet: %s", export_id, exc)
        return True

    async def unexport(self, export_id: str) -> None:
        async with self._changing:
            await self.exports.stop(export_id)
        log.info("volume: export %s stopped (its attachment is gone)", export_id)
