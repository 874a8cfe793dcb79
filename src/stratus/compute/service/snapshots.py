"""Snapshots, backups and shelving, as the API records them.

``createImage``, ``createBackup`` and ``shelve`` first create the image the
snapshot will go to (in the image service, owned by the server's project,
as the compute service user), then record the task on the server with a
compare-and-swap, so the 202 can name the image and a refused request
leaves no image behind.  The host's agent takes the snapshot, uploads it,
and records the outcome (``agent/snapshots.py``).

Unshelving an offloaded server goes through the scheduler, and shelved
servers are offloaded when their time is up: ``shelved.py``."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from stratus.common.config import ComputeConfig
from stratus.common.context import RequestContext
from stratus.common.db import Database
from stratus.common.errors import StratusError
from stratus.compute import models as m
from stratus.compute.drivers.base import Capability
from stratus.compute.errors import BadRequest, Conflict, Forbidden
from stratus.compute.service.actions import start_action
from stratus.compute.service.image_records import (
    ImageRecords,
    ImageServiceError,
    snapshot_record,
)
from stratus.compute.service.quotas import Quotas
from stratus.compute.service.servers import Servers, visible_server
from stratus.compute.service.volumes import ServerVolumes

log = logging.getLogger(__name__)

SNAPSHOT_STATES = frozenset({m.ACTIVE, m.STOPPED, m.PAUSED, m.SUSPENDED})
BACKUP_STATES = frozenset({m.ACTIVE, m.STOPPED})
SHELVE_STATES = frozenset({m.ACTIVE, m.STOPPED, m.PAUSED, m.SUSPENDED})
# The key of system_metadata that tells the agent where a snapshot goes.
IMAGE_TASK = "image_task"


class ImageServiceUnavailable(StratusError):
    status = 503
    title = "Service Unavailable"


@dataclass(frozen=True)
class Step:
    """One action a user asks for: its name in messages and the action list,
    the states it may start from, the task it starts, and the driver
    capability the server's host needs."""

    verb: str
    allowed: frozenset[str]
    task: str
    capability: Capability | None = None


CREATE_IMAGE = Step("createImage", SNAPSHOT_STATES, "image_snapshot", Capability.SNAPSHOT)
CREATE_BACKUP = Step("createBackup", BACKUP_STATES, "image_backup", Capability.SNAPSHOT)
SHELVE = Step("shelve", SHELVE_STATES, "shelving", Capability.SNAPSHOT)
SHELVE_OFFLOAD = Step("shelveOffload", frozenset({m.SHELVED}), "shelving_offloading")
UNSHELVE = Step("unshelve", frozenset({m.SHELVED, m.SHELVED_OFFLOADED}), "unshelving")


def refused(exc: ImageServiceError) -> StratusError:
    """The image service's refusal as the compute API's error."""
    if exc.status == 413:
        return Forbidden(f"Quota exceeded for images: {exc}")
    if exc.status in (400, 403, 409):
        return BadRequest(f"The image could not be created: {exc}")
    return ImageServiceUnavailable(f"The image service is unavailable: {exc}")


class ServerImages:
    def __init__(
        self,
        db: Database,
        cfg: ComputeConfig,
        quotas: Quotas,
        records: ImageRecords,
        wake: Callable[[str | None], None],
        volumes: ServerVolumes,
    ):
        self.db = db
        self.volumes = volumes  # a volume-backed server's image is its volumes' snapshots
        self.cfg = cfg
        self.quotas = quotas
        self.records = records
        self.wake = wake

    # -- checks and the compare-and-swap --------------------------------------------------

    @staticmethod
    async def _check(s: Any, ctx: RequestContext, server: m.Server, step: Step) -> None:
        Servers.check_lock(ctx, server)
        if server.task_state is not None:
            raise Conflict(
                f"Cannot '{step.verb}' instance {server.id} while it is in task_state "
                f"{server.task_state}"
            )
        if server.vm_state not in step.allowed:
            shown = (
                "shelved_offloaded" if server.vm_state == m.SHELVED_OFFLOADED else server.vm_state
            )
            raise Conflict(
                f"Cannot '{step.verb}' instance {server.id} while it is in vm_state {shown}"
            )
        if step.capability is not None:
            await Servers.check_capability(s, server, step.capability, step.verb)

    async def precheck(self, ctx: RequestContext, server_id: str, step: Step) -> m.Server:
        """Refuse early (before an image is made) what the swap would refuse."""
        async with self.db.session() as s:
            server = await visible_server(s, ctx, server_id)
            await self._check(s, ctx, server, step)
            return server

    async def begin(
        self,
        ctx: RequestContext,
        server_id: str,
        step: Step,
        system_metadata: dict[str, Any] | None = None,
        **values: Any,
    ) -> m.Server:
        """Record the task (compare-and-swap on the states) and wake the agent."""
        async with self.db.transaction() as s:
            server = await visible_server(s, ctx, server_id)
            await self._check(s, ctx, server, step)
            server.task_state = step.task
            server.generation += 1
            if system_metadata is not None:
                merged = {**server.system_metadata, **system_metadata}
                server.system_metadata = {k: v for k, v in merged.items() if v is not None}
            for key, value in values.items():
                setattr(server, key, value)
            start_action(s, server.id, step.verb, ctx.request_id, ctx.user_id, ctx.project_id)
        self.wake(server.host)
        return server

    async def check_metadata(
        self, ctx: RequestContext, metadata: dict[str, str], with_quota: bool
    ) -> None:
        """Up to microversion 2.38 Nova counts the image's metadata against
        the project's metadata_items quota."""
        if not with_quota:
            return
        limit = (await self.quotas.limits(ctx.project_id))["metadata_items"]
        if 0 <= limit < len(metadata):
            raise Forbidden(
                f"Quota exceeded for metadata_items: Requested {len(metadata)}, "
                f"but the limit is {limit}"
            )

    # -- images ---------------------------------------------------------------------------

    async def _new_image(
        self,
        ctx: RequestContext,
        server: m.Server,
        name: str,
        image_type: str,
        metadata: dict[str, str],
        extra: dict[str, str] | None = None,
    ) -> str:
        try:
            base = await self.records.get(server.image_ref) if server.image_ref else None
            record = snapshot_record(
                name=name,
                server_id=server.id,
                project_id=server.project_id,
                user_id=ctx.user_id or server.user_id,
                image_type=image_type,
                base_image_ref=server.image_ref,
                base=base,
                root_gb=int(server.flavor.get("disk", 0)),
                metadata=metadata,
                extra=extra,
            )
            created = await self.records.create(record)
        except ImageServiceError as exc:
            raise refused(exc) from exc
        return str(created["id"])

    async def _begin_with_image(
        self,
        ctx: RequestContext,
        server_id: str,
        step: Step,
        image_id: str,
        task: dict[str, Any],
        extra_meta: dict[str, Any] | None = None,
    ) -> None:
        try:
            await self.begin(ctx, server_id, step, {IMAGE_TASK: task, **(extra_meta or {})})
        except BaseException:
            await self.discard(image_id)
            raise

    async def discard(self, image_id: str) -> None:
        try:
            await self.records.delete(image_id)
        except ImageServiceError as exc:
            log.warning("compute: could not delete image %s: %s", image_id, exc)

    async def create_image(
        self,
        ctx: RequestContext,
        server_id: str,
        name: str,
        metadata: dict[str, str],
        *,
        quota_metadata: bool = False,
    ) -> str:
        """Snapshot the server into a new image; ``quota_metadata``: its
        metadata counts against metadata_items (up to microversion 2.38).
        A server booted from a volume gets an image that records snapshots
        of its volumes (``ServerVolumes.create_image``)."""
        if await self.volumes.volume_backed(server_id):
            return await self.volumes.create_image(ctx, server_id, name, metadata, self.records)
        await self.check_metadata(ctx, metadata, quota_metadata)
        server = await self.precheck(ctx, server_id, CREATE_IMAGE)
        image_id = await self._new_image(ctx, server, name, "snapshot", metadata)
        task = {"image_id": image_id, "kind": "snapshot"}
        await self._begin_with_image(ctx, server_id, CREATE_IMAGE, image_id, task)
        log.info("compute: server %s: snapshot to image %s requested", server_id, image_id)
        return image_id

    async def create_backup(
        self,
        ctx: RequestContext,
        server_id: str,
        name: str,
        backup_type: str,
        rotation: int,
        metadata: dict[str, str],
        *,
        quota_metadata: bool = False,
    ) -> str:
        await self.volumes.refuse_volume_backed(server_id, "createBackup")
        await self.check_metadata(ctx, metadata, quota_metadata)
        server = await self.precheck(ctx, server_id, CREATE_BACKUP)
        image_id = await self._new_image(
            ctx, server, name, "backup", metadata, {"backup_type": backup_type}
        )
        task = {
            "image_id": image_id,
            "kind": "backup",
            "backup_type": backup_type,
            "rotation": rotation,
        }
        await self._begin_with_image(ctx, server_id, CREATE_BACKUP, image_id, task)
        log.info(
            "compute: server %s: %s backup to image %s requested (keep %d)",
            server_id,
            backup_type,
            image_id,
            rotation,
        )
        return image_id

    # -- shelve ------------------------------------------------------------------------------

    async def shelve(self, ctx: RequestContext, server_id: str) -> str:
        await self.volumes.refuse_volume_backed(server_id, "shelve")
        server = await self.precheck(ctx, server_id, SHELVE)
        image_id = await self._new_image(ctx, server, f"{server.name}-shelved", "snapshot", {})
        task = {"image_id": image_id, "kind": "shelve"}
        meta = {
            "shelved_image_id": image_id,
            # 0: offload at once; -1: never; else the periodic offload does it.
            "shelve_offload": self.cfg.shelved_offload_time == 0,
        }
        await self._begin_with_image(ctx, server_id, SHELVE, image_id, task, meta)
        return image_id

    async def shelve_offload(self, ctx: RequestContext, server_id: str) -> None:
        await self.begin(ctx, server_id, SHELVE_OFFLOAD)

    async def unshelve(
        self,
        ctx: RequestContext,
        server_id: str,
        zone: str | None = None,
        host: str | None = None,
        unpin: bool = False,
    ) -> None:
        """SHELVED: the agent starts the guest again.  SHELVED_OFFLOADED: the
        scheduler picks a host (within ``zone``, or ``host`` itself), whose
        agent spawns the server from its shelved image."""
        server = await self.precheck(ctx, server_id, UNSHELVE)
        values: dict[str, Any] = {}
        if zone is not None or host is not None or unpin:
            if server.vm_state != m.SHELVED_OFFLOADED:
                raise Conflict(
                    f"The server {server_id} is not offloaded: an availability zone or "
                    "host can only be given to unshelve a SHELVED_OFFLOADED server."
                )
            async with self.db.session() as s:
                hosts = {h.host: h for h in (await s.scalars(select(m.ComputeHost))).all()}
            if zone is not None and zone not in {h.availability_zone for h in hosts.values()}:
                raise BadRequest(f"The requested availability zone {zone!r} is not available.")
            if host is not None:
                if host not in hosts:
                    raise BadRequest(f"Compute host {host} could not be found.")
                zone = zone or hosts[host].availability_zone
                values["requested_zone"] = f"{zone}:{host}"
            else:
                values["requested_zone"] = zone  # None: unpinned (2.91)
        # An offloaded server has no host: begin() wakes the scheduling loop.
        await self.begin(ctx, server_id, UNSHELVE, **values)

    async def forget_shelved_image(self, server: m.Server) -> None:
        """A shelved server that is deleted takes its shelved image along."""
        image_id = server.system_metadata.get("shelved_image_id")
        if server.vm_state in (m.SHELVED, m.SHELVED_OFFLOADED) and image_id:
            await self.discard(str(image_id))
