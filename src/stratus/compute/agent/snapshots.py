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
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from sqlalchemy import update

from stratus.common.db import utcnow
from stratus.compute import models as m
from stratus.compute.drivers.base import DriverError, GuestStatus, Power
from stratus.compute.service.image_records import ImageRecords, ImageServiceError

if TYPE_CHECKING:
    from stratus.compute.agent.agent import ComputeAgent

log = logging.getLogger(__name__)

IMAGE_TASK = "image_task"  # service.snapshots.IMAGE_TASK
SHELVED_KEYS = ("shelved_image_id", "shelved_at", "shelved_host", "shelve_offload")


def _power(status: GuestStatus) -> int:
    from stratus.compute.agent.agent import POWER

    return POWER[status.power]


def _without(meta: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in meta.items() if k not in keys}


class ServerImageWork:
    def __init__(self, agent: ComputeAgent):
        self.agent = agent
        self.records = ImageRecords(agent.images.image_url, agent.images.session)

    def handlers(self) -> dict[str, Callable[[m.Server], Awaitable[None]]]:
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

    async def _step(self, server: m.Server, task_state: str | None, **values: Any) -> None:
        """Record progress (no generation bump); stop if the server changed."""
        async with self.agent.db.transaction() as s:
            result = await s.execute(
                update(m.Server)
                .where(m.Server.id == server.id, m.Server.generation == server.generation)
                .values(task_state=task_state, updated_at=utcnow(), **values)
            )
        if not getattr(result, "rowcount", 0):
            raise DriverError(f"server {server.id} changed meanwhile; its {task_state} step stops")

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
        spec = await self.agent.spec(server)
        target = self.agent.directory(server) / f"snapshot-{image_id}.qcow2"
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            started = time.monotonic()
            await self.agent.driver.snapshot(spec, target)
            taken = time.monotonic()
            await self._step(server, pending)
            await self.records.set_formats(image_id, "qcow2", "bare")
            await self._step(server, uploading)
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
            with contextlib.suppress(DriverError):  # a deleted server needs no cleanup
                await self._step(
                    server,
                    server.task_state,
                    system_metadata=_without(server.system_metadata, IMAGE_TASK),
                )
            raise
        if task.get("kind") == "backup":
            await self._rotate(
                server, image_id, str(task.get("backup_type")), int(task["rotation"])
            )
        await self.agent._finish(
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
        was = await self.agent.driver.status(server.id)
        await self.agent.driver.stop(server.id, self.agent.shutdown_timeout)
        try:
            await self._write_image(
                server, image_id, "shelving_image_pending_upload", "shelving_image_uploading"
            )
        except Exception:
            await self._discard(image_id)
            meta = _without(server.system_metadata, IMAGE_TASK, *SHELVED_KEYS)
            with contextlib.suppress(DriverError):
                await self._step(server, server.task_state, system_metadata=meta)
                if was.power == Power.RUNNING:
                    await self._boot(server)  # as it was before the shelve
            raise
        meta = _without(server.system_metadata, IMAGE_TASK, "shelve_offload")
        meta.update(
            shelved_image_id=image_id,
            shelved_at=utcnow().isoformat(),
            shelved_host=self.agent.host,
        )
        values: dict[str, Any] = dict(
            vm_state=m.SHELVED, power_state=m.SHUTDOWN, system_metadata=meta
        )
        log.info("compute: server %s shelved to image %s", server.id, image_id)
        if not server.system_metadata.get("shelve_offload"):
            await self.agent._finish(server, **values)
            return
        await self._step(server, "shelving_offloading", **values)
        await self.offload(server)

    async def offload(self, server: m.Server) -> None:
        """Free the host: the guest and its folder go; the server keeps its
        shelved image and no host."""
        await self.agent.driver.destroy(server.id, self.agent.directory(server))
        await self.agent._finish(
            server,
            vm_state=m.SHELVED_OFFLOADED,
            power_state=m.NOSTATE,
            host=None,
            host_port=None,
        )
        log.info("compute: server %s offloaded from host %s", server.id, self.agent.host)

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
                await self.agent.driver.destroy(server.id, self.agent.directory(server))
                await self._step(server, server.task_state, host=None, host_port=None)
                raise
        await self.agent._finish(
            server,
            vm_state=m.ACTIVE,
            power_state=_power(status),
            system_metadata=_without(server.system_metadata, *SHELVED_KEYS),
        )
        if image_id:
            await self._discard(str(image_id))
        log.info("compute: server %s unshelved on host %s", server.id, self.agent.host)

    async def _boot(self, server: m.Server) -> GuestStatus:
        async with self.agent.boots:
            return await self.agent.driver.start(await self.agent.spec(server))

    async def _spawn_from(self, server: m.Server, image_id: str) -> GuestStatus:
        from stratus.compute.agent.agent import free_port

        self.agent.directory(server).mkdir(parents=True, exist_ok=True)
        if server.host_port is None and server.networks != "none":
            server.host_port = free_port()
            await self._step(server, server.task_state, host_port=server.host_port)
        await self.agent._write_config_drive(server)
        spec = await self.agent.spec(server, image_id=image_id)
        async with self.agent.boots:
            return await self.agent.driver.spawn(spec)

    # -- rescue ------------------------------------------------------------------------------

    async def rescue(self, server: m.Server) -> None:
        ref = str(server.system_metadata.get("rescue_image_ref") or server.image_ref)
        rescue_image = await self.agent.images.ensure(ref)
        spec = await self.agent.spec(server)
        async with self.agent.boots:
            status = await self.agent.driver.rescue(
                spec, rescue_image.path, rescue_image.disk_format
            )
        await self.agent._finish(server, vm_state=m.RESCUED, power_state=_power(status))
        log.info("compute: server %s rescued from image %s", server.id, ref)

    async def unrescue(self, server: m.Server) -> None:
        spec = await self.agent.spec(server)
        async with self.agent.boots:
            status = await self.agent.driver.unrescue(spec)
        await self.agent._finish(server, vm_state=m.ACTIVE, power_state=_power(status))

    async def close(self) -> None:
        await self.records.close()
