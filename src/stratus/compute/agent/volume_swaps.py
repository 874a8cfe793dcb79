"""The agent's side of swapping a server's volume (``service/volume_swaps.py``):
a row ``swapping`` names the new volume (its Cinder reservation made) and,
in ``source_id``, the attached volume it replaces.

The agent connects the new volume to this host, has the running guest copy
the old disk onto it and switch over (``VolumeAttacher.swap_volume``), then
completes the new attachment (``in-use``), deletes the old one
(``available``) and keeps one row, for the new volume, under the old
device.  Every step can run again, so an agent killed midway finishes at
its next start.  A failure before the guest switched drops the new
reservation and gives the old volume back to the guest, as before.  Once
the guest writes to the new volume (the row's connection info says
``SWITCHED``), or when the old row is gone, there is no way back: the
row stays ``swapping`` and its completion is retried on the next pass."""

from __future__ import annotations

import logging
from typing import Any, Protocol

from stratus.compute import models as m
from stratus.compute.drivers.base import VolumeAttacher, VolumeDisk
from stratus.compute.service.volume_client import VolumeClient


class Records(Protocol):
    async def of_server(self, server_id: str) -> list[m.VolumeAttachment]: ...

    async def save(self, row_id: str, **values: Any) -> None: ...

    async def drop(self, row_id: str) -> None: ...

    async def replace(self, old_id: str | None, row_id: str, **values: Any) -> None: ...

    async def event(self, server_id: str, event: str, result: str, details: str | None) -> None: ...


class Flow(Protocol):
    """What the swap needs of the agent's volume work (``VolumeWorkflow``)."""

    @property
    def records(self) -> Records: ...

    @property
    def attacher(self) -> VolumeAttacher | None: ...

    def disk(self, row: m.VolumeAttachment) -> VolumeDisk | None: ...

    async def running(self, server: m.Server) -> bool: ...

    def connector(self, row: m.VolumeAttachment) -> dict[str, Any]: ...


log = logging.getLogger(__name__)
SWITCHED = "stratus_switched"  # in the row's connection info: the guest uses the new volume


async def swap(flow: Flow, server: m.Server, row: m.VolumeAttachment, client: VolumeClient) -> None:
    rows = await flow.records.of_server(server.id)
    old = next((r for r in rows if r.volume_id == row.source_id), None)
    switched = bool((row.connection_info or {}).get(SWITCHED))
    if row.attachment_id and (switched or old is None):
        await _finish(flow, server, row, old, client)
        return
    try:
        if old is None:
            raise RuntimeError(f"the volume {row.source_id} to swap out is no longer attached")
        await _switch(flow, server, row, old, client)
    except Exception as exc:
        await _roll_back(flow, server, row, old, client, str(exc) or type(exc).__name__)
        return
    try:  # past this point the guest writes to the new volume: no way back
        await flow.records.save(row.id, connection_info=row.connection_info)
    except Exception:
        log.exception("compute: server %s: recording the switch to %s", server.id, row.volume_id)
    await _finish(flow, server, row, old, client)


async def _switch(
    flow: Flow, server: m.Server, row: m.VolumeAttachment, old: m.VolumeAttachment,
    client: VolumeClient,
) -> None:  # fmt: skip
    """Connect the new volume and have the guest copy and switch to it
    (then ``SWITCHED`` in the row's connection info, recorded by the caller)."""
    old_disk = flow.disk(old)
    attacher = flow.attacher
    if old_disk is None or attacher is None:
        raise RuntimeError("this host's driver cannot swap volumes")
    if not await flow.running(server):
        raise RuntimeError("volumes are swapped in a running guest only")
    if row.attachment_id is None:  # the API died before Cinder was asked
        row.attachment_id = await client.find_attachment(
            row.volume_id, server.id
        ) or await client.reserve(None, row.volume_id, server.id)
        await flow.records.save(row.id, attachment_id=row.attachment_id)
    info = await client.connect(row.attachment_id, flow.connector(row))
    # The guest's device keeps the name and serial it was made with.
    info = {**info, "device_serial": old_disk.device_serial or old.volume_id}
    row.connection_info = info
    new_disk = flow.disk(row)
    if new_disk is None:
        raise RuntimeError(f"volume {row.volume_id}: no usable connection ({info})")
    await attacher.swap_volume(server.id, old_disk, new_disk)
    row.connection_info = {**info, SWITCHED: True}


async def _roll_back(
    flow: Flow, server: m.Server, row: m.VolumeAttachment, old: m.VolumeAttachment | None,
    client: VolumeClient, message: str,
) -> None:  # fmt: skip
    log.warning("compute: server %s: swapping in %s failed: %s", server.id, row.volume_id, message)
    if row.attachment_id:
        await client.release(row.attachment_id)
    if old is not None:
        await client.roll_detaching(old.volume_id)
    await flow.records.drop(row.id)
    await flow.records.event(server.id, "swap_volume", "Error", message)


async def _finish(
    flow: Flow, server: m.Server, row: m.VolumeAttachment, old: m.VolumeAttachment | None,
    client: VolumeClient,
) -> None:  # fmt: skip
    """The guest uses the new volume: complete its attachment, release the
    old one and keep one row (in one transaction).  A failure leaves the
    row ``swapping``, to be finished on the next pass, never rolled back."""
    assert row.attachment_id is not None
    try:
        info = dict(row.connection_info or {})
        if not info:  # the old row went before the switch was recorded
            info = await client.connect(row.attachment_id, flow.connector(row))
        info.pop(SWITCHED, None)
        await client.complete(row.attachment_id)
        if old is not None and old.attachment_id:
            await client.release(old.attachment_id)
    except Exception as exc:
        log.warning(
            "compute: server %s: completing the swap to %s failed (retried): %s",
            server.id, row.volume_id, str(exc) or type(exc).__name__,
        )  # fmt: skip
        return
    values = {"status": m.VOL_ATTACHED, "source_id": None, "connection_info": info}
    await flow.records.replace(old.id if old is not None else None, row.id, **values)
    await flow.records.event(server.id, "swap_volume", "Success", None)
    log.info(
        "compute: server %s: volume %s swapped for %s on %s",
        server.id, row.source_id, row.volume_id, row.device,
    )  # fmt: skip
