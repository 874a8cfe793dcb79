"""The compute agent's volume work: finishing what ``os-volume_attachments``
asked (``service/volumes.py``) on this host.

For a server whose attachment rows are ``attaching`` or ``detaching`` the
agent, once the server has no other task:

- attaching: finds (or makes) the Cinder reservation, gives Cinder this
  host's connector and gets the volume's ``connection_info``, hot-plugs the
  disk into the running guest (a stopped guest gets it at its next start),
  records the disk on the row, completes the attachment (the volume is
  ``in-use``: from here the API takes a detach, as Nova, which completes
  the attachment in Cinder last), marks the row ``attached`` unless a detach
  came meanwhile;
- detaching: unplugs the disk (the guest lets it go, its writes flushed),
  deletes the Cinder attachment (the volume is ``available``), drops the row.

Each step is idempotent, so an agent killed midway finishes it at its next
start: no volume is left ``attaching`` or ``detaching``.  A failure undoes
the wish (an attach drops its reservation, a detach leaves the volume
attached) and is recorded on the server's action.  A deleted server's
volumes are detached, and deleted when ``delete_on_termination`` says so."""

from __future__ import annotations

import asyncio
import logging
import shutil
from collections.abc import Awaitable, Callable
from typing import Any, cast

from stratus.compute import models as m
from stratus.compute.agent.volume_disks import KEYS, disk_of, write_psk
from stratus.compute.agent.volume_moves import VolumeMoves
from stratus.compute.agent.volume_swaps import swap
from stratus.compute.agent.workflow import AgentParts, Step
from stratus.compute.drivers.base import Capability, Power, VolumeAttacher, VolumeDisk
from stratus.compute.service.volume_client import VolumeClient

log = logging.getLogger(__name__)

DETACH_TIMEOUT = 60.0  # for the guest to let a disk go
BUILD_TIMEOUT = 600.0  # for Cinder to make a boot volume (from an image, say)
GIB = 1 << 30


class VolumeWorkflow:
    def __init__(self, parts: AgentParts):
        self.parts = parts
        self.records = parts.recorder.volumes
        self.client: VolumeClient | None = None  # set where a volume service is reachable

    @property
    def attacher(self) -> VolumeAttacher | None:
        if Capability.VOLUME_ATTACH not in self.parts.driver.capabilities:
            return None
        return cast(VolumeAttacher, self.parts.driver)

    def connector(self, row: m.VolumeAttachment) -> dict[str, Any]:
        """This host as Cinder's connector describes a consumer."""
        return {
            "host": self.parts.host,
            "mountpoint": row.device,
            "initiator": None,
            "platform": "x86_64",
            "os_type": "linux",
            "multipath": False,
            "nbd": True,
        }

    async def pending(self) -> list[str]:
        return await self.records.pending() if self.client is not None else []

    def disk(self, row: m.VolumeAttachment) -> VolumeDisk | None:
        """The row's disk, its NBD key (if any) written in the server's folder."""
        disk = disk_of(row)
        if disk is None:
            return None
        folder = self.parts.instances / row.server_id / f"{KEYS}{row.volume_id[:8]}"
        return write_psk(disk, row, folder)

    async def sweep_keys(self) -> None:
        """At start: the NBD keys left in the servers' folders for volumes
        the server no longer has (detached, or an attach undone): no guest
        uses them now, and a key is not kept where nothing needs it."""
        wanted: dict[str, set[str]] = {}
        for folder in sorted(self.parts.instances.glob(f"*/{KEYS}*/")):
            server_id = folder.parent.name
            if server_id not in wanted:
                rows = await self.records.of_server(server_id)
                wanted[server_id] = {f"{KEYS}{r.volume_id[:8]}" for r in rows}
            if folder.name not in wanted[server_id]:
                await asyncio.to_thread(shutil.rmtree, folder, True)
                log.warning(
                    "compute: removed %s, the NBD key of a volume server %s no longer has",
                    folder,
                    server_id,
                )

    async def disks(self, server: m.Server) -> tuple[VolumeDisk, ...]:
        """The attached volumes a guest starts with (boot disk apart)."""
        found = []
        for row in await self.records.of_server(server.id):
            disk = self.disk(row) if row.status != m.VOL_ATTACHING else None
            if disk is not None and row.boot_index != 0:
                found.append(disk)
        return tuple(found)

    async def running(self, server: m.Server) -> bool:
        status = await self.parts.driver.status(server.id)
        return status.power in (Power.RUNNING, Power.PAUSED)

    # -- attach and detach ---------------------------------------------------------------

    async def settle(self, server: m.Server) -> None:
        """Finish the server's attaches and detaches."""
        if self.client is None:
            return
        for row in await self.records.of_server(server.id):
            if row.status == m.VOL_ATTACHING:
                await self._attach(server, row, self.client)
            elif row.status == m.VOL_DETACHING:
                await self._detach(server, row, self.client)
            elif row.status == m.VOL_EXTENDING:
                await self._extend(server, row, self.client)
            elif row.status == m.VOL_SWAPPING:
                await swap(self, server, row, self.client)

    async def _attach(
        self, server: m.Server, row: m.VolumeAttachment, client: VolumeClient
    ) -> None:
        try:
            attachment_id = row.attachment_id or await client.find_attachment(
                row.volume_id, server.id
            )
            if attachment_id is None:  # the API died before Cinder was asked
                attachment_id = await client.reserve(None, row.volume_id, server.id)
            await self.records.save(row.id, attachment_id=attachment_id)
            info = await client.connect(attachment_id, self.connector(row))
            row.connection_info = info
            disk = self.disk(row)
            if disk is None:
                raise RuntimeError(f"volume {row.volume_id}: no usable connection ({info})")
            attacher = self.attacher
            if attacher is None:
                raise RuntimeError(f"the {self.parts.driver.name} driver cannot attach volumes")
            if await self.running(server):
                await attacher.attach_volume(server.id, disk)
            # Recorded before Cinder hears the attachment is complete: once
            # the volume is in-use, a detach may come, and it needs the disk.
            await self.records.save(row.id, connection_info=info)
            await client.complete(attachment_id)
        except Exception as exc:
            message = str(exc) or type(exc).__name__
            log.warning(
                "compute: server %s: attaching %s failed: %s", server.id, row.volume_id, message
            )
            await self._undo_attach(server, row, client)
            await self.records.event(server.id, "compute_attach_volume", "Error", message)
            return
        marked = await self.records.save_if(row.id, m.VOL_ATTACHING, status=m.VOL_ATTACHED)
        await self.records.event(server.id, "compute_attach_volume", "Success", None)
        log.info(
            "compute: server %s: volume %s attached as %s%s", server.id, row.volume_id,
            row.device, "" if marked else " (a detach asked meanwhile comes next)",
        )  # fmt: skip

    async def _undo_attach(
        self, server: m.Server, row: m.VolumeAttachment, client: VolumeClient
    ) -> None:
        disk = self.disk(row)
        attacher = self.attacher
        if disk is not None and attacher is not None and await self.running(server):
            try:
                await attacher.detach_volume(server.id, disk, DETACH_TIMEOUT)
            except Exception as exc:  # the guest keeps it until it restarts
                log.warning(
                    "compute: server %s: could not unplug %s: %s", server.id, disk.serial, exc
                )
        attachment_id = row.attachment_id or await client.find_attachment(row.volume_id, server.id)
        if attachment_id:
            await client.release(attachment_id)
        await self.records.drop(row.id)

    async def _detach(
        self, server: m.Server, row: m.VolumeAttachment, client: VolumeClient
    ) -> None:
        disk = self.disk(row)
        attacher = self.attacher
        try:
            if disk is not None and attacher is not None and await self.running(server):
                await attacher.detach_volume(server.id, disk, DETACH_TIMEOUT)
        except Exception as exc:
            message = str(exc) or type(exc).__name__
            log.warning(
                "compute: server %s: detaching %s failed: %s", server.id, row.volume_id, message
            )
            await self.records.save(row.id, status=m.VOL_ATTACHED)
            await client.roll_detaching(row.volume_id)
            await self.records.event(server.id, "compute_detach_volume", "Error", message)
            return
        if row.attachment_id:
            await client.release(row.attachment_id)
        await self.records.drop(row.id)
        await self.records.event(server.id, "compute_detach_volume", "Success", None)
        log.info("compute: server %s: volume %s detached", server.id, row.volume_id)

    async def _extend(
        self, server: m.Server, row: m.VolumeAttachment, client: VolumeClient
    ) -> None:
        """The volume grew (Cinder's ``volume-extended``): grow the disk
        the running guest sees (a stopped guest sees the size at start)."""
        disk = self.disk(row)
        attacher = self.attacher
        try:
            info = await client.get(None, row.volume_id)
            if disk is not None and attacher is not None and await self.running(server):
                await attacher.extend_volume(server.id, disk, info.size * GIB)
        except Exception as exc:
            message = str(exc) or type(exc).__name__
            log.warning(
                "compute: server %s: growing %s failed: %s", server.id, row.volume_id, message
            )
            await self.records.save(row.id, status=m.VOL_ATTACHED)
            await self.records.event(server.id, "extend_volume", "Error", message)
            return
        await self.records.save(row.id, status=m.VOL_ATTACHED, volume_size=info.size)
        await self.records.event(server.id, "extend_volume", "Success", None)
        log.info(
            "compute: server %s: volume %s grown to %s GiB", server.id, row.volume_id, info.size
        )

    # -- booting from a volume ------------------------------------------------------------

    async def root_disk(self, server: m.Server) -> VolumeDisk | None:
        """The volume a server boots from (None: it boots its image)."""
        for row in await self.records.of_server(server.id):
            if row.boot_index == 0 and row.status == m.VOL_ATTACHED:
                return self.disk(row)
        return None

    async def prepare_boot(self, server: m.Server) -> None:
        """Before a first boot: wait for the volumes being made for the
        server, and connect each (the guest is not running: no hot-plug).
        A failure fails the boot (the server goes to ERROR)."""
        if self.client is None:
            return
        client = self.client
        for row in await self.records.of_server(server.id):
            if row.status == m.VOL_CREATING:
                await self._wait_made(row.volume_id, client)
                await self.records.save(row.id, status=m.VOL_ATTACHING)
            if row.status in (m.VOL_CREATING, m.VOL_ATTACHING):
                attachment_id = row.attachment_id or await client.find_attachment(
                    row.volume_id, server.id
                )
                if attachment_id is None:
                    attachment_id = await client.reserve(
                        None, row.volume_id, server.id
                    )
                await self.records.save(row.id, attachment_id=attachment_id)
                info = await client.connect(attachment_id, self.connector(row))
                await client.complete(attachment_id)
                await self.records.save(row.id, status=m.VOL_ATTACHED, connection_info=info)
                log.info("compute: server %s: boot volume %s ready", server.id, row.volume_id)

    @staticmethod
    async def _wait_made(volume_id: str, client: VolumeClient) -> None:
        deadline = asyncio.get_running_loop().time() + BUILD_TIMEOUT
        while True:
            info = await client.get(None, volume_id)
            if info.status == "available":
                return
            if info.status.startswith("error"):
                raise RuntimeError(f"volume {volume_id} could not be made ({info.status})")
            if asyncio.get_running_loop().time() > deadline:
                raise RuntimeError(f"volume {volume_id} was not made in {BUILD_TIMEOUT:g} s")
            await asyncio.sleep(0.1)

    def wrap_spawn(self, spawn_step: Step) -> Step:
        """The spawn step, with the server's volumes ready first."""

        async def step(server: m.Server) -> None:
            await self.prepare_boot(server)
            await spawn_step(server)

        return step

    # -- a deleted server ----------------------------------------------------------------

    async def release_all(self, server: m.Server) -> None:
        """Detach every volume of a server whose guest is gone (and delete
        those marked delete_on_termination)."""
        if self.client is None:
            return
        for row in await self.records.of_server(server.id):
            attachment_id = row.attachment_id or await self.client.find_attachment(
                row.volume_id, server.id
            )
            if attachment_id:
                await self.client.release(attachment_id)
            source = VolumeMoves.source_attachment(row)  # deleted while its move waited
            if source:
                await self.client.release(source)
            if row.delete_on_termination:
                await self.client.delete_volume(row.volume_id)
            await self.records.drop(row.id)
            log.info("compute: server %s deleted: volume %s released", server.id, row.volume_id)

    def wrap_delete(self, delete_step: Step) -> Step:
        """The delete step, with the server's volumes released after its
        guest is gone and before the server is marked deleted."""

        async def step(server: m.Server) -> None:
            await self.parts.driver.destroy(server.id, self.parts.guests.directory(server))
            await self.release_all(server)
            await delete_step(server)

        return step


DisksOf = Callable[[m.Server], Awaitable[tuple[VolumeDisk, ...]]]
