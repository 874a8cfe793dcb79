"""The volume agent's network exports: an attachment whose connector names
a host that cannot open this agent's files (``service/attachments.py``
leaves its ``connection_info`` empty) is served over the backend's
``target_protocol``: NBD (``drivers/nbd_export.py``: qemu-storage-daemon,
TLS-PSK) or iSCSI (``drivers/iscsi_export.py``: tgt, CHAP), and the export
recorded as the attachment's ``connection_info``.  One export per volume
(a daemon, or a target) serves all its remote attachments (a multiattach
volume on two hosts, the source's and the destination's attachment of a
moving server), each a member with a key of its own, named after the
attachment.

Level-based, per volume: the attachments in the database are the truth.
A volume's daemon serves exactly its live remote attachments (their keys
and ports from their ``connection_info``; a fresh key for one waiting);
one that no attachment wants any more is stopped and its folder and keys
removed; one whose daemon died (a reboot) is started again on its port,
with the keys its consumers hold.  At every pass, and at start (after a
crash) each volume's daemon is checked once against the rows.

A running guest's volume handed live between a QEMU on a host that opens
the file and one that reaches it over NBD (the same server's attachments,
one local with a file connection, one remote) gets a protocol export
(``nbd_export.py``): the file's bytes, the consumer running the format,
the daemon without the file's lock while a local attachment has it, and
with it again once none has (a daemon's layer never changes under its
consumers).  Over iSCSI the same: tgt serves the file's bytes (a qcow2
volume only so; a raw file's bytes are its disk) and locks nothing, so a
holder process takes the image's lock in its stead (``lock_holder.py``).
A connector with ``network_export`` (a live migration whose source reaches
the volume over the network) gets an export even from a host that opens
the file: both QEMUs then share the one export."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from pathlib import Path
from typing import Any

from sqlalchemy import select

from stratus.common.db import Database
from stratus.volume import models as m
from stratus.volume.drivers.base import DriverError, VolumeDriver, VolumeRef
from stratus.volume.drivers.iscsi_export import TgtExports
from stratus.volume.drivers.nbd_export import FORMAT, PROTOCOL, Member, NbdExports
from stratus.volume.service.connections import ERROR_ATTACHING, LIVE, connection_info

log = logging.getLogger(__name__)

# A connector's key asking for a network export even on a host that opens
# the volume's files (compute sets it for a live migration's destination
# when the source reaches the volume over NBD).
NETWORK_EXPORT = "network_export"
ROOM_EXTRA = 64 << 20  # a protocol export's file: twice the volume, and this


def _local_file(att: m.Attachment) -> bool:
    return (att.connection_info or {}).get("driver_volume_type") == "file"


class ExportWork:
    def __init__(
        self,
        db: Database,
        driver: VolumeDriver,
        exports: NbdExports | TgtExports,
        local_hosts: frozenset[str],
    ):
        self.db = db
        self.driver = driver
        self.exports = exports
        self.local_hosts = local_hosts
        # One export change at a time: the pass and ``grow`` each rewrite a
        # volume's daemon.
        self._changing = asyncio.Lock()
        # The volumes whose daemon was checked against the rows since this
        # agent started (a crash between a key file and its daemon's
        # exports is mended by the first pass).
        self._checked: set[str] = set()

    def _member(self, att: m.Attachment) -> Member | None:
        """The export an attachment's connection names (None: it has none)."""
        info = att.connection_info or {}
        if info.get("driver_volume_type") != self.exports.protocol:
            return None
        data = info.get("data") or {}
        return self.exports.member_of(att.id, data, att.attach_mode == "rw")

    def remote(self, connector: dict[str, Any] | None) -> bool:
        connector = connector or {}
        host = connector.get("host")
        return bool(host) and (host not in self.local_hosts or bool(connector.get(NETWORK_EXPORT)))

    async def pending(self, mine: Any) -> list[str]:
        """``e:<volume id>``: volumes whose exports differ from what their
        attachments want (or not checked since start)."""
        async with self.db.session() as s:
            rows = (
                await s.execute(
                    select(
                        m.Attachment.volume_id, m.Attachment.connector, m.Attachment.connection_info
                    )  # fmt: skip
                    .join(m.Volume, m.Volume.id == m.Attachment.volume_id)
                    .where(mine, m.Attachment.attach_status.in_(LIVE))
                )
            ).all()
        wanted: dict[str, set[str]] = defaultdict(set)
        waiting: set[str] = set()
        held: set[str] = set()  # volumes a QEMU of a local host opens as a file
        for volume_id, connector, info in rows:
            if not self.remote(connector):
                if (info or {}).get("driver_volume_type") == "file":
                    held.add(volume_id)
                continue
            if info is None:
                waiting.add(volume_id)
                wanted[volume_id].add("")
            elif info.get("driver_volume_type") == self.exports.protocol:
                wanted[volume_id].add(self.exports.identity_of(info.get("data") or {}))
        running = set(await self.exports.served())
        keys = {x for x in self.exports.folders() if x not in wanted}
        for volume_id, identities in wanted.items():
            if (
                volume_id in waiting or volume_id not in running
                or volume_id not in self._checked
                or self.exports.members(volume_id) != identities
                or self._relock(volume_id, volume_id in held)
            ):  # fmt: skip
                keys.add(volume_id)
        return [f"e:{x}" for x in sorted(keys)]

    def _relock(self, volume_id: str, held: bool) -> bool:
        """A protocol export whose lock no longer fits: off while a local
        QEMU has the file, on once none has."""
        exports = self.exports
        if exports.layer(volume_id) != PROTOCOL:
            return False
        return exports.locking(volume_id) == held

    def _plan(self, atts: list[m.Attachment]) -> tuple[str, bool]:
        """The layer a volume's export serves and whether it locks the file."""
        local = [a for a in atts if not self.remote(a.connector) and _local_file(a)]
        remote = [a for a in atts if self.remote(a.connector)]
        recorded = [
            a for a in remote
            if (a.connection_info or {}).get("driver_volume_type") == self.exports.protocol
        ]  # fmt: skip
        # A server moving live from a host that opens the file: the same
        # instance on both sides (never two servers writing the image).
        one_server = len({a.instance_uuid for a in local + remote}) == 1
        if recorded:  # never changed under a consumer
            layer = PROTOCOL if any(
                "format" in ((a.connection_info or {}).get("data") or {}) for a in recorded
            ) else FORMAT  # fmt: skip
        else:
            layer = PROTOCOL if local and one_server else FORMAT
        # The lock is let go only for that one server's QEMU on the volume's
        # host; another server's stays refused by it.
        return layer, not (layer == PROTOCOL and local and one_server)

    async def reconcile(self, volume_id: str) -> None:
        async with self._changing:
            await self._reconcile(volume_id)

    async def _reconcile(self, volume_id: str) -> None:
        for _ in range(2):  # again when an attachment went while it was served
            if await self._serve(volume_id):
                return

    async def _serve(self, volume_id: str) -> bool:
        async with self.db.session() as s:
            volume = await s.get(m.Volume, volume_id)
            atts = list(
                await s.scalars(
                    select(m.Attachment).where(
                        m.Attachment.volume_id == volume_id,
                        m.Attachment.attach_status.in_(LIVE),
                    )
                )
            )
        # A volume deleted meanwhile: nothing to serve.
        members, fresh, port = self._members(volume_id, atts if volume is not None else [])
        if volume is None or not members:
            await self._stop(volume_id)
            return True
        try:
            await self._start(volume, members, port, *self._plan(atts))
        except DriverError as exc:
            if not fresh:  # the consumers keep their connections; tried again later
                log.warning("volume: serving the export of volume %s failed: %s", volume.id, exc)
                raise
            log.warning("volume: exporting volume %s failed: %s", volume.id, exc)
            for att, _ in fresh:
                await self._record(att.id, {"error": str(exc)}, ERROR_ATTACHING)
            return False  # served again without them
        self._checked.add(volume_id)
        return await self._publish(volume, fresh)

    def _members(
        self, volume_id: str, atts: list[m.Attachment]
    ) -> tuple[list[Member], list[tuple[m.Attachment, Member]], int | None]:
        """The exports a volume's remote attachments want: all of them, the
        fresh ones (no connection yet) with their attachments, and the port
        the recorded ones connect to."""
        members: list[Member] = []
        fresh: list[tuple[m.Attachment, Member]] = []
        port = None
        given = self.exports.keys(volume_id)
        for att in atts:
            if not self.remote(att.connector):
                continue
            if att.connection_info is None:
                # The key it was given before, if any (the same connector
                # again, a retried attach, or a crash before it was recorded).
                member = self.exports.new_member(
                    att.id, att.attach_mode == "rw", given.get(f"stratus-{att.id}")
                )
                fresh.append((att, member))
            else:
                found = self._member(att)
                if found is None:
                    continue  # its export failed (recorded)
                member = found
                port = port or int(((att.connection_info or {}).get("data") or {}).get("port") or 0)
            members.append(member)
        return members, fresh, port

    async def _stop(self, volume_id: str) -> None:
        if volume_id in self.exports.folders():
            await self.exports.stop(volume_id)
            log.info("volume: the export of volume %s stopped (no attachment wants it)", volume_id)
        self._checked.discard(volume_id)

    async def _start(
        self, volume: m.Volume, members: list[Member], port: int | None, layer: str, locking: bool
    ) -> None:
        local = self.driver.connection(volume.id, {})
        if local.driver_volume_type != "file":
            raise DriverError(f"the {self.driver.name} backend has no network export")
        path = Path(str(local.data["path"]))
        fmt = str(local.data.get("format") or "raw")
        # A raw file's bytes are its disk: no room (it would grow the disk).
        room = 2 * (volume.size << 30) + ROOM_EXTRA if fmt != "raw" else 0
        await self.exports.serve(
            volume.id, path, fmt, members, port=port or None, layer=layer, locking=locking,
            room=room,
        )  # fmt: skip

    async def _publish(self, volume: m.Volume, fresh: list[tuple[m.Attachment, Member]]) -> bool:
        """The fresh attachments' connections recorded (False: one was
        deleted or connected again meanwhile)."""
        done = True
        for att, member in fresh:
            exported = self.exports.exported(volume.id, member)
            location = {"driver_volume_type": self.exports.protocol, **exported.connection().data}
            info = connection_info(volume, att, att.attach_mode, location)
            if not await self._record(att.id, info, None):
                done = False  # deleted (or connected again) meanwhile
                continue
            log.info(
                "volume: volume %s exported for attachment %s (host %s) on %s:%d",
                volume.id, att.id, (att.connector or {}).get("host"), exported.host,
                exported.port,
            )  # fmt: skip
        return done

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

    async def resized(self, volume: VolumeRef) -> None:
        """A volume grew in place (its export does not lock the file: tgt):
        its export made to show the new size, if it serves the volume."""
        async with self._changing:
            if volume.id not in await self.exports.served():
                return
            try:
                await self.exports.resized(volume.id)
            except DriverError as exc:
                # The file has grown: the size stands, and the next pass
                # makes the export again (not counted as served meanwhile).
                self._checked.discard(volume.id)
                log.warning(
                    "volume: the export of volume %s was not made again at its new size "
                    "(the next pass will): %s", volume.id, exc,
                )  # fmt: skip
                return
            log.info("volume: the export of volume %s shows its new size", volume.id)

    def consumer_grows(self, volume: VolumeRef) -> bool:
        """Whether the volume's export serves the file's bytes to a QEMU that
        runs the format itself (locked or not: a ``qemu-img resize`` on the
        file would change the image under that QEMU's cached metadata)."""
        return self.exports.layer(volume.id) == PROTOCOL  # FORMAT when none serves it

    async def grow(self, volume: VolumeRef, new_size_gb: int) -> bool:
        """Grow a volume that an export holds open (the daemon holds the
        image's lock, and an export cannot grow its node): stop the daemon,
        grow the file, serve it again with the same port and keys, which
        QEMU's NBD clients reconnect to (compute opens exports with a
        ``reconnect-delay``).  False when no export serves the volume."""
        async with self._changing:
            if volume.id not in self.exports.running():
                return False
            if self.exports.layer(volume.id) == PROTOCOL:
                # Its consumer runs the format: that QEMU grows it (within
                # the file's room), never a second opener of the image.
                return False
            await self.exports.halt(volume.id)
            try:
                await self.driver.extend(volume, new_size_gb)
            finally:
                try:
                    await self._reconcile(volume.id)
                except DriverError as exc:  # the pass serves it again
                    log.warning("volume: export of %s not served again yet: %s", volume.id, exc)
            return True
