"""A moving server's volumes (cold migration and resize), as Nova does with
Cinder's attachments API: the destination gets attachments of its own
(each volume reserved again for the same server, given the destination's
connector, so a host that cannot open the volume's file gets an NBD export,
and completed) before the guest boots there; the source's stay until the
move is answered.  Confirm deletes the source's attachments; revert
deletes the destination's and the rows point at the source's again.
Evacuation does both steps at once (``connect_here``, then ``keep_new``):
the dead host's attachments are deleted, as Nova does.

Each row remembers the source's attachment and connection under
``connection_info["moved_from"]`` (one write with the new ones), so every
step is idempotent and an agent killed midway redoes it: an attachment made
for the destination before a crash is found again, never made twice."""

from __future__ import annotations

import contextlib
import logging
from typing import Any, Protocol

from stratus.compute import models as m
from stratus.compute.agent.workflow import AgentParts
from stratus.compute.service.volume_client import VolumeClient


class Records(Protocol):
    async def of_server(self, server_id: str) -> list[m.VolumeAttachment]: ...

    async def save(self, row_id: str, **values: Any) -> None: ...


class Flow(Protocol):
    """What a move needs of the agent's volume work (``VolumeWorkflow``)."""

    parts: AgentParts
    client: VolumeClient | None

    @property
    def records(self) -> Records: ...

    def connector(self, row: m.VolumeAttachment) -> dict[str, Any]: ...


log = logging.getLogger(__name__)

MOVED_FROM = "moved_from"
NETWORK_EXPORT = "network_export"  # a connector's wish for an export (volume/agent/exports.py)


def _without(info: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in info.items() if k != MOVED_FROM}


class VolumeMoves:
    def __init__(self, flow: Flow) -> None:
        self.flow = flow

    async def _rows(self, server: m.Server) -> list[m.VolumeAttachment]:
        if self.flow.client is None:
            return []
        rows = await self.flow.records.of_server(server.id)
        return [r for r in rows if r.status == m.VOL_ATTACHED]

    async def _moved(
        self, server: m.Server
    ) -> list[tuple[m.VolumeAttachment, dict[str, Any], dict[str, Any]]]:
        """The attached rows that remember a source's attachment: each with
        its connection info and what it moved from."""
        found = []
        for row in await self._rows(server):
            info = dict(row.connection_info or {})
            moved = info.get(MOVED_FROM)
            if isinstance(moved, dict):
                found.append((row, info, moved))
        return found

    async def connect_here(self, server: m.Server, keep_nbd: bool = False) -> None:
        """On the destination, before its guest starts: new attachments
        with this host's connector (the rows name them from now on).  With
        ``keep_nbd`` (a live move in QEMU), a volume the source reaches over
        NBD (or iSCSI) is reached the same way here (``network_export``),
        even on a host that could open its file: the export's daemon holds
        the file, which a QEMU arriving could not take from it at the
        switch-over (tgt holds no lock, but a LUN of a qcow2 file's bytes
        and the file are two openers of one image: never mixed)."""
        client = self.flow.client
        for row in await self._rows(server):
            assert client is not None
            info = dict(row.connection_info or {})
            if MOVED_FROM in info:
                continue  # connected here already (a redone step)
            connector = self.flow.connector(row)
            if keep_nbd and info.get("driver_volume_type") in ("nbd", "iscsi"):
                connector[NETWORK_EXPORT] = True
            found = await client.attachments_of(row.volume_id, server.id)
            spare = [a for a in found if a != row.attachment_id]
            new_id = spare[0] if spare else await client.reserve(
                None, row.volume_id, server.id
            )
            try:
                conn = await client.connect(new_id, connector)
                await client.complete(new_id)
            except Exception:  # no row names it: it would be left behind
                with contextlib.suppress(Exception):  # else the next start drops it
                    await client.release(new_id)
                raise
            if info.get("device_serial"):  # a swapped volume keeps its device's serial
                conn["device_serial"] = info["device_serial"]
            conn[MOVED_FROM] = {"attachment_id": row.attachment_id, "connection_info": info}
            await self.flow.records.save(row.id, attachment_id=new_id, connection_info=conn)
            log.info(
                "compute: server %s: volume %s connected on %s (attachment %s)",
                server.id, row.volume_id, self.flow.parts.host, new_id,
            )  # fmt: skip

    async def keep_new(self, server: m.Server) -> None:
        """Confirmed: the source's attachments are deleted."""
        client = self.flow.client
        for row, info, moved in await self._moved(server):
            assert client is not None
            if moved.get("attachment_id"):
                await client.release(str(moved["attachment_id"]))
            await self.flow.records.save(row.id, connection_info=_without(info))

    async def back_to_old(self, server: m.Server) -> None:
        """Reverted (the destination's guest is gone): the destination's
        attachments are deleted, the rows name the source's again."""
        client = self.flow.client
        for row, _info, moved in await self._moved(server):
            assert client is not None
            if row.attachment_id and row.attachment_id != moved.get("attachment_id"):
                await client.release(row.attachment_id)
            await self.flow.records.save(
                row.id,
                attachment_id=moved.get("attachment_id"),
                connection_info=moved.get("connection_info"),
            )

    async def changed_kind(self, server: m.Server) -> list[str]:
        """The volumes a move reaches another way on the destination than
        on the source (a file there, a network export here, or the
        reverse), but for a file handed to a protocol export (its bytes, the
        format run by the guest's QEMU: ``volume/drivers/nbd_export.py``)
        or to an iSCSI LUN (the file's bytes too: a raw disk, or a qcow2
        image with its ``format``)."""
        found = []
        for row, info, moved in await self._moved(server):
            new = info.get("driver_volume_type")
            before = moved.get("connection_info") or {}
            old = before.get("driver_volume_type")
            data = info.get("data") or {}
            old_fmt = str((before.get("data") or {}).get("format") or "raw")
            bytes_of_file = "format" in data or (new == "iscsi" and old_fmt == "raw")
            if new != old and not (old == "file" and new in ("nbd", "iscsi") and bytes_of_file):
                found.append(row.volume_id)
        return found

    async def drop_strays(self, server: m.Server) -> None:
        """Every Cinder attachment of the server's volumes that its rows do
        not name (one made for a destination by an agent killed before it
        recorded it) is deleted: each volume keeps exactly its row's."""
        client = self.flow.client
        for row in await self._rows(server):
            assert client is not None
            if MOVED_FROM in (row.connection_info or {}) or not row.attachment_id:
                continue
            for found in await client.attachments_of(row.volume_id, server.id):
                if found != row.attachment_id:
                    await client.release(found)
                    log.warning(
                        "compute: server %s: released attachment %s of volume %s, "
                        "left by an interrupted move", server.id, found, row.volume_id,
                    )  # fmt: skip

    @staticmethod
    def source_attachment(row: m.VolumeAttachment) -> str | None:
        """The source's attachment a row still remembers (a server deleted
        while its move waits for an answer has both to release)."""
        moved = (row.connection_info or {}).get(MOVED_FROM)
        if isinstance(moved, dict) and moved.get("attachment_id"):
            return str(moved["attachment_id"])
        return None
