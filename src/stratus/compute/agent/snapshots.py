"""The agent's side of snapshots, backups, shelving and rescue.

A snapshot is taken by the driver into the server's folder (consistent at
one instant, also while the guest runs), then streamed to the image the API
created, as the compute service user.  The task state tells the user where
it is: ``image_snapshot`` (or ``image_backup``), ``image_pending_upload``,
``image_uploading``, then none; shelving goes the same way with its
``shelving_*`` states.  Intermediate states are recorded without bumping the
server's generation, so the final outcome still lands, and a newer request
(a delete) stops the work at its next step.

A failed snapshot deletes its image and leaves the server as it was; the
agent records the error on the server's action (``openstack server event``).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Mapping
from typing import Any, Protocol

from stratus.common.db import utcnow
from stratus.compute import models as m
from stratus.compute.agent.guests import Images, power_state
from stratus.compute.agent.recorder import ServerChanged, free_port
from stratus.compute.agent.workflow import AgentParts, Step
from stratus.compute.drivers.base import DriverError, GuestStatus, Power
from stratus.compute.service.image_records import ImageServiceError

log = logging.getLogger(__name__)

IMAGE_TASK = "image_task"  # service.snapshots.IMAGE_TASK
SHELVED_KEYS = ("shelved_image_id", "shelved_at", "shelved_host", "shelve_offload")


class ImageStore(Protocol):
    """The image service as the agent writes to it (``ImageRecords``)."""

    async def get(self, image_id: str) -> dict[str, Any] | None: ...

    async def set_formats(self, image_id: str, disk_format: str, container_format: str) -> None: ...

    async def upload(self, image_id: str, path: Any) -> None: ...

    async def delete(self, image_id: str) -> bool: ...

    async def backups(self, server_id: str, backup_type: str) -> list[dict[str, Any]]: ...

    async def close(self) -> None: ...


def _without(meta: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in meta.items() if k not in keys}


class ImageWorkflow:
    """Snapshots, backups, shelving and rescue."""

    def __init__(self, parts: AgentParts, records: ImageStore, images: Images) -> None:
        self.parts = parts
        self.driver = parts.driver
        self.recorder = parts.recorder
        self.guests = parts.guests
        self.records = records
        self.images = images

    def steps(self) -> Mapping[str, Step]:
        """Task state -> step.  The intermediate states are there so that an
        agent restarted in the middle of a snapshot finishes it."""
        return {
            "image_snapshot": self.snapshot,
            "image_backup": self.snapshot,
            "image_pending_upload": self.snapshot,
            "image_uploading": self.snapshot,
            "shelving": self.shelve,
            "shelving_image_pending_upload": self.shelve,
            "shelving_image_uploading": self.shelve,
            "shelving_offloading": self.offload,
            "unshelving": self.unshelve,
            "rescuing": self.rescue,
            "unrescuing": self.unrescue,
        }

    # -- steps --------------------------------------------------------------------------

    async def _discard(self, image_id: str) -> None:
        try:
            if await self.records.delete(image_id):
                log.info("compute: deleted image %s", image_id)
        except ImageServiceError as exc:
            log.warning("compute: could not delete image %s: %s", image_id, exc)

    async def _write_image(
        self, server: m.Server, image_id: str, pending: str, uploading: str
    ) -> None:
        """Snapshot the server's disk and stream it into the image."""
        record = await self.records.get(image_id)
        if record is None:
            raise DriverError(f"image {image_id} was deleted before the snapshot was uploaded")
        if record.get("status") == "active":
            return  # an earlier run of this step finished the upload
        if record.get("status") != "queued":
            raise DriverError(f"image {image_id} is {record.get('status')}: it cannot be written")
        spec = await self.guests.spec(server)
        target = self.guests.directory(server) / f"snapshot-{image_id}.qcow2"
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            started = time.monotonic()
            await self.driver.snapshot(spec, target)
            taken = time.monotonic()
            await self.recorder.step(server, pending)
            await self.records.set_formats(image_id, "qcow2", "bare")
            await self.recorder.step(server, uploading)
            size = target.stat().st_size
            await self.records.upload(image_id, target)
            log.info(
                "compute: server %s: snapshot in %.2f s, %.1f MiB uploaded to image %s in %.2f s",
                server.id,
                taken - started,
                size / 2**20,
                image_id,
                time.monotonic() - taken,
            )
        finally:
            target.unlink(missing_ok=True)

    # -- createImage / createBackup --------------------------------------------------------

    async def snapshot(self, server: m.Server) -> None:
        task = dict(server.system_metadata.get(IMAGE_TASK) or {})
        image_id = task.get("image_id")
        if not image_id:
            raise DriverError(f"server {server.id} names no image for its snapshot")
        try:
            await self._write_image(server, image_id, "image_pending_upload", "image_uploading")
        except Exception:
            await self._discard(image_id)
            with contextlib.suppress(ServerChanged):  # a deleted server needs no cleanup
                await self.recorder.step(
                    server,
                    server.task_state,
                    system_metadata=_without(server.system_metadata, IMAGE_TASK),
                )
            raise
        if task.get("kind") == "backup":
            await self._rotate(
                server, image_id, str(task.get("backup_type")), int(task["rotation"])
            )
        await self.recorder.succeed(
            server, system_metadata=_without(server.system_metadata, IMAGE_TASK)
        )

    async def _rotate(self, server: m.Server, image_id: str, backup_type: str, keep: int) -> None:
        """Delete the oldest backups of this server and type beyond ``keep``
        (the new one counts, and is the newest)."""
        try:
            backups = await self.records.backups(server.id, backup_type)
        except ImageServiceError as exc:
            log.warning("compute: server %s: backup rotation skipped: %s", server.id, exc)
            return
        mine = [b for b in backups if b.get("owner") == server.project_id]
        # The list is newest first already; put the new backup first whatever
        # the clock said.
        mine.sort(key=lambda b: b.get("id") != image_id)
        for old in mine[keep:]:
            log.info(
                "compute: server %s: rotating out %s backup %s", server.id, backup_type, old["id"]
            )
            await self._discard(str(old["id"]))

    # -- shelve ------------------------------------------------------------------------------

    async def shelve(self, server: m.Server) -> None:
        task = dict(server.system_metadata.get(IMAGE_TASK) or {})
        image_id = task.get("image_id")
        if not image_id:
            raise DriverError(f"server {server.id} names no image to shelve to")
        was = await self.driver.status(server.id)
        await self.driver.stop(server.id, self.parts.shutdown_timeout)
        try:
            await self._write_image(
                server, image_id, "shelving_image_pending_upload", "shelving_image_uploading"
            )
        except Exception:
            await self._discard(image_id)
            meta = _without(server.system_metadata, IMAGE_TASK, *SHELVED_KEYS)
            with contextlib.suppress(ServerChanged, DriverError):
                await self.recorder.step(server, server.task_state, system_metadata=meta)
                if was.power == Power.RUNNING:
                    await self._boot(server)  # as it was before the shelve
            raise
        meta = _without(server.system_metadata, IMAGE_TASK, "shelve_offload")
        meta.update(
            shelved_image_id=image_id,
            shelved_at=utcnow().isoformat(),
            shelved_host=self.parts.host,
        )
        values: dict[str, Any] = dict(
            vm_state=m.SHELVED, power_state=m.SHUTDOWN, system_metadata=meta
        )
        log.info("compute: server %s shelved to image %s", server.id, image_id)
        if not server.system_metadata.get("shelve_offload"):
            await self.recorder.succeed(server, **values)
            return
        await self.recorder.step(server, "shelving_offloading", **values)
        await self.offload(server)

    async def offload(self, server: m.Server) -> None:
        """Free the host: the guest and its folder go; the server keeps its
        shelved image and no host."""
        await self.driver.destroy(server.id, self.guests.directory(server))
        await self.recorder.succeed(
            server,
            vm_state=m.SHELVED_OFFLOADED,
            power_state=m.NOSTATE,
            host=None,
            host_port=None,
        )
        log.info("compute: server %s offloaded from host %s", server.id, self.parts.host)

    async def unshelve(self, server: m.Server) -> None:
        image_id = server.system_metadata.get("shelved_image_id")
        if server.vm_state == m.SHELVED:
            status = await self._boot(server)
        else:
            if not image_id:
                raise DriverError(f"server {server.id} has no shelved image to unshelve from")
            try:
                status = await self._spawn_from(server, str(image_id))
            except Exception:
                # Nova leaves it offloaded: nothing of it stays on this host.
                await self.driver.destroy(server.id, self.guests.directory(server))
                await self.recorder.step(server, server.task_state, host=None, host_port=None)
                raise
        await self.recorder.succeed(
            server,
            vm_state=m.ACTIVE,
            power_state=power_state(status),
            system_metadata=_without(server.system_metadata, *SHELVED_KEYS),
        )
        if image_id:
            await self._discard(str(image_id))
        log.info("compute: server %s unshelved on host %s", server.id, self.parts.host)

    async def _boot(self, server: m.Server) -> GuestStatus:
        async with self.parts.boots:
            return await self.driver.start(await self.guests.spec(server))

    async def _spawn_from(self, server: m.Server, image_id: str) -> GuestStatus:
        self.guests.directory(server).mkdir(parents=True, exist_ok=True)
        if server.host_port is None and server.networks != "none":
            server.host_port = free_port()
            await self.recorder.step(server, server.task_state, host_port=server.host_port)
        await self.guests.write_config_drive(server)
        spec = await self.guests.spec(server, image_id=image_id)
        async with self.parts.boots:
            return await self.driver.spawn(spec)

    # -- rescue ------------------------------------------------------------------------------

    async def rescue(self, server: m.Server) -> None:
        ref = str(server.system_metadata.get("rescue_image_ref") or server.image_ref)
        spec = await self.guests.spec(server)
        if ref == server.image_ref:  # fetched once
            image, image_format = spec.base_image, spec.base_format
        else:
            rescue_image = await self.images.ensure(ref)
            image, image_format = rescue_image.path, rescue_image.disk_format
        async with self.parts.boots:
            status = await self.driver.rescue(spec, image, image_format)
        await self.recorder.succeed(server, vm_state=m.RESCUED, power_state=power_state(status))
        log.info("compute: server %s rescued from image %s", server.id, ref)

    async def unrescue(self, server: m.Server) -> None:
        spec = await self.guests.spec(server)
        async with self.parts.boots:
            status = await self.driver.unrescue(spec)
        await self.recorder.succeed(server, vm_state=m.ACTIVE, power_state=power_state(status))

    async def close(self) -> None:
        await self.records.close()
