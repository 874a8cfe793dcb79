"""Volume actions (``POST /volumes/{id}/action``) other than attaching:
extend, retype, revert, upload to image, bootable, readonly, image
metadata, and the administrators' reset and force-delete."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from stratus.common.context import RequestContext
from stratus.common.db import Database
from stratus.common.microversion import Version
from stratus.volume import models as m
from stratus.volume.errors import BadRequest
from stratus.volume.service.common import (
    Wake,
    require_status,
    start_task,
    visible_snapshot,
    visible_volume,
)
from stratus.volume.service.images import ImageClient
from stratus.volume.service.quotas import Quotas
from stratus.volume.service.types import Types, is_multiattach

DISK_FORMATS = ("raw", "qcow2", "vmdk", "vdi", "vhd", "vhdx")
# Image properties Cinder never copies from a volume into a new image.
NOT_COPIED = frozenset(
    {"image_id", "image_name", "checksum", "size", "disk_format", "container_format",
     "min_disk", "min_ram", "os_hash_algo", "os_hash_value", "owner", "virtual_size"}
)  # fmt: skip


class VolumeActions:
    def __init__(self, db: Database, quotas: Quotas, types: Types, images: ImageClient, wake: Wake):
        self.db = db
        self.quotas = quotas
        self.types = types
        self.images = images
        self.wake = wake

    async def extend(
        self, ctx: RequestContext, volume_id: str, new_size: int, version: Version
    ) -> None:
        async with self.db.transaction() as s:
            volume = await visible_volume(s, ctx, volume_id, for_update=True)
            allowed = [m.AVAILABLE, m.IN_USE] if version.at_least("3.42") else [m.AVAILABLE]
            require_status(volume, allowed, "extend")
            if new_size <= volume.size:
                raise BadRequest(
                    f"Invalid input received: New size for extend must be greater than current "
                    f"size. (current: {volume.size}, extended: {new_size})."
                )
            vtype = await s.get(m.VolumeType, volume.volume_type_id or "")
            delta = new_size - volume.size
            self.quotas.check_size(await self.quotas.limits(volume.project_id, s), new_size)
            requests = {"gigabytes": delta}
            if vtype is not None:
                requests[f"gigabytes_{vtype.name}"] = delta
            await self.quotas.check(s, volume.project_id, requests)
            start_task(volume, m.T_EXTEND, m.EXTENDING, {"new_size": new_size})
            host = volume.host
        self.wake(host)

    async def retype(self, ctx: RequestContext, volume_id: str, new_type: str, policy: str) -> None:
        async with self.db.transaction() as s:
            volume = await visible_volume(s, ctx, volume_id, for_update=True)
            require_status(volume, [m.AVAILABLE, m.IN_USE], "retype")
            target = await self.types.find(s, ctx, new_type)
            if target.id == volume.volume_type_id:
                raise BadRequest("Invalid volume type: New volume type must be different.")
            old = await s.get(m.VolumeType, volume.volume_type_id or "")
            backend = (volume.host or "").split("#")[0].split("@")[-1]
            wanted = target.extra_specs.get("volume_backend_name")
            if wanted and wanted != backend and policy != "on-demand":
                raise BadRequest(
                    "Invalid volume: Retype needs a migration to another backend but "
                    "migration_policy is 'never'."
                )
            if wanted and wanted != backend:
                raise BadRequest(f"Invalid volume: No backend named {wanted} can take the volume.")
            if volume.attach_status == m.ATTACHED and is_multiattach(old) != is_multiattach(target):
                raise BadRequest("Invalid volume: An attached volume cannot change multiattach.")
            await self.quotas.check(
                s, volume.project_id,
                {f"volumes_{target.name}": 1, f"gigabytes_{target.name}": volume.size},
            )  # fmt: skip
            volume.volume_type_id = target.id
            volume.multiattach = is_multiattach(target)

    async def revert(self, ctx: RequestContext, volume_id: str, snapshot_id: str) -> None:
        async with self.db.transaction() as s:
            volume = await visible_volume(s, ctx, volume_id, for_update=True)
            snap = await visible_snapshot(s, ctx, snapshot_id)
            require_status(volume, [m.AVAILABLE], "revert")
            if snap.volume_id != volume.id:
                raise BadRequest(f"Snapshot {snapshot_id} is not a snapshot of volume {volume_id}.")
            latest = await s.scalar(
                select(m.Snapshot)
                .where(m.Snapshot.volume_id == volume.id)
                .order_by(m.Snapshot.created_at.desc())
                .limit(1)
            )
            if latest is None or latest.id != snap.id or snap.status != m.AVAILABLE:
                raise BadRequest(
                    "Invalid snapshot: The snapshot must be the latest one of the volume and "
                    "available to revert to it."
                )
            if snap.size != volume.size:
                raise BadRequest("Invalid volume: The volume's size differs from the snapshot's.")
            snap.status = "restoring"
            start_task(volume, m.T_REVERT, "reverting", {"snapshot_id": snap.id})
            host = volume.host
        self.wake(host)

    async def upload_image(
        self, ctx: RequestContext, volume_id: str, body: dict[str, Any], version: Version
    ) -> dict[str, Any]:
        disk_format = body.get("disk_format") or "raw"
        if disk_format not in DISK_FORMATS:
            raise BadRequest(f"Invalid disk-format '{disk_format}' specified.")
        force = str(body.get("force", False)).lower() in ("true", "1", "yes")
        async with self.db.session() as s:
            volume = await visible_volume(s, ctx, volume_id)
            allowed = [m.AVAILABLE, m.IN_USE] if force else [m.AVAILABLE]
            require_status(volume, allowed, "upload to an image")
            vtype = await s.get(m.VolumeType, volume.volume_type_id or "")
        record: dict[str, Any] = {
            "name": body.get("image_name"),
            "disk_format": disk_format,
            "container_format": body.get("container_format") or "bare",
            "min_disk": volume.size,
        }
        if version.at_least("3.1"):
            for key in ("visibility", "protected"):
                if body.get(key) is not None:
                    record[key] = body[key]
        for key, value in volume.image_metadata.items():
            if key not in NOT_COPIED:
                record[key] = value
        image = await self.images.create(ctx, record)
        try:
            async with self.db.transaction() as s:
                volume = await visible_volume(s, ctx, volume_id, for_update=True)
                require_status(volume, allowed, "upload to an image")
                start_task(
                    volume, m.T_UPLOAD, m.UPLOADING,
                    {"image_id": image["id"], "disk_format": disk_format},
                )  # fmt: skip
                host = volume.host
        except Exception:
            await self.images.delete(ctx, image["id"])
            raise
        self.wake(host)
        return {
            "id": volume.id,
            "updated_at": volume.updated_at.isoformat(),
            "status": m.UPLOADING,
            "display_description": volume.description,
            "size": volume.size,
            "volume_type": {"id": vtype.id, "name": vtype.name} if vtype else None,
            "image_id": image["id"],
            "container_format": record["container_format"],
            "disk_format": disk_format,
            "image_name": record["name"],
            **({"visibility": image.get("visibility"), "protected": image.get("protected")}
               if version.at_least("3.1") else {}),
        }  # fmt: skip

    async def set_flag(self, ctx: RequestContext, volume_id: str, **values: Any) -> None:
        """bootable, or readonly (an admin metadata key)."""
        async with self.db.transaction() as s:
            volume = await visible_volume(s, ctx, volume_id)
            if "readonly" in values:
                require_status(volume, [m.AVAILABLE], "update readonly flag")
                volume.admin_metadata = {
                    **volume.admin_metadata,
                    "readonly": "True" if values["readonly"] else "False",
                }
            if "bootable" in values:
                require_status(volume, [m.AVAILABLE, m.IN_USE], "update bootable flag")
                volume.bootable = bool(values["bootable"])

    async def reset_status(
        self, ctx: RequestContext, volume_id: str, values: dict[str, Any]
    ) -> None:
        status = values.get("status")
        if status is not None and status not in m.VOLUME_STATUSES:
            raise BadRequest(f"Invalid input received: Must specify a valid status ({status}).")
        attach = values.get("attach_status")
        if attach is not None and attach not in (m.ATTACHED, m.DETACHED):
            raise BadRequest(
                f"Invalid input received: Must specify a valid attach status ({attach})."
            )
        async with self.db.transaction() as s:
            volume = await visible_volume(s, ctx, volume_id, for_update=True)
            if status is not None:
                volume.status = status
            if attach is not None:
                volume.attach_status = attach
            if "migration_status" in values:
                volume.migration_status = values["migration_status"] or None
            volume.task = None
            volume.generation += 1
