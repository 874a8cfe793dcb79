"""Response shapes, per microversion, as Cinder renders them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from stratus.common.microversion import Version
from stratus.volume import models as m
from stratus.volume.service.common import VolumeDetail


def ts(value: datetime | None) -> str | None:
    """Cinder's timestamps: ISO 8601 with microseconds, no zone."""
    return value.replace(tzinfo=None).isoformat(timespec="microseconds") if value else None


def links(base: str, kind: str, item_id: str, project_id: str) -> list[dict[str, str]]:
    root = base.rsplit("/v3", 1)[0]
    return [
        {"rel": "self", "href": f"{base}/{kind}/{item_id}"},
        {"rel": "bookmark", "href": f"{root}/{project_id}/{kind}/{item_id}"},
    ]


def attachment_brief(a: m.Attachment) -> dict[str, Any]:
    return {
        "id": a.volume_id,
        "attachment_id": a.id,
        "volume_id": a.volume_id,
        "server_id": a.instance_uuid,
        "host_name": a.attached_host,
        "device": a.mountpoint,
        "attached_at": ts(a.attach_time),
    }


def volume_summary(d: VolumeDetail, base: str) -> dict[str, Any]:
    v = d.volume
    return {"id": v.id, "name": v.name, "links": links(base, "volumes", v.id, v.project_id)}


# The admin metadata that Cinder shows everyone among a volume's metadata.
VISIBLE_ADMIN_METADATA = ("readonly", "attached_mode")


def visible_admin_metadata(admin_metadata: dict[str, str] | None) -> dict[str, str]:
    meta = admin_metadata or {}
    return {k: meta[k] for k in VISIBLE_ADMIN_METADATA if k in meta}


def volume(
    d: VolumeDetail, base: str, version: Version, *, admin: bool, extended: bool = True
) -> dict[str, Any]:
    """A volume; ``extended``: with the attributes Cinder's API extensions
    add to shows and listings (not to the answers of create and update)."""
    v = d.volume
    out: dict[str, Any] = {
        "id": v.id,
        "name": v.name,
        "description": v.description,
        "status": v.status,
        "size": v.size,
        "availability_zone": v.availability_zone,
        "created_at": ts(v.created_at),
        "updated_at": ts(v.updated_at),
        "attachments": [
            attachment_brief(a) for a in d.attachments if a.attach_status == "attached"
        ],
        "bootable": "true" if v.bootable else "false",
        "encrypted": False,
        "links": links(base, "volumes", v.id, v.project_id),
        "metadata": {**v.metadata_, **visible_admin_metadata(v.admin_metadata)},
        "multiattach": v.multiattach,
        "replication_status": None,
        "consistencygroup_id": None,
        "snapshot_id": v.snapshot_id,
        "source_volid": v.source_volid,
        "user_id": v.user_id,
        "volume_type": d.type_name,
    }
    if extended:
        out["os-vol-tenant-attr:tenant_id"] = v.project_id
        if v.image_metadata:
            out["volume_image_metadata"] = dict(v.image_metadata)
    if extended and admin:
        out["os-vol-host-attr:host"] = v.host
        out["os-vol-mig-status-attr:migstat"] = v.migration_status
        out["os-vol-mig-status-attr:name_id"] = None
        out["migration_status"] = v.migration_status
    if version.at_least("3.13"):
        out["group_id"] = None
    if version.at_least("3.21") and admin:
        out["provider_id"] = None
    if version.at_least("3.48"):
        out["service_uuid"] = None
        out["shared_targets"] = False
    if version.at_least("3.61") and admin:
        out["cluster_name"] = None
    if version.at_least("3.63"):
        out["volume_type_id"] = v.volume_type_id
    if version.at_least("3.65"):
        out["consumes_quota"] = v.consumes_quota
    return out


def snapshot(
    s: m.Snapshot, version: Version, *, admin: bool, extended: bool = True
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": s.id,
        "name": s.name,
        "description": s.description,
        "status": s.status,
        "size": s.size,
        "volume_id": s.volume_id,
        "created_at": ts(s.created_at),
        "updated_at": ts(s.updated_at),
        "metadata": dict(s.metadata_),
    }
    if extended:
        out["os-extended-snapshot-attributes:project_id"] = s.project_id
        out["os-extended-snapshot-attributes:progress"] = s.progress
    if version.at_least("3.14"):
        out["group_snapshot_id"] = None
    if version.at_least("3.41"):
        out["user_id"] = s.user_id
    if version.at_least("3.65"):
        out["consumes_quota"] = s.consumes_quota
    return out


def volume_type(t: m.VolumeType, *, admin: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": t.id,
        "name": t.name,
        "description": t.description,
        "is_public": t.is_public,
        "os-volume-type-access:is_public": t.is_public,
        "extra_specs": dict(t.extra_specs) if admin else _user_specs(t.extra_specs),
    }
    if admin:
        out["qos_specs_id"] = t.qos_specs_id
    return out


def _user_specs(specs: dict[str, str]) -> dict[str, str]:
    """The extra specs a user may read (Cinder's user-visible keys)."""
    visible = ("multiattach", "RESKEY:availability_zones", "replication_enabled")
    return {k: v for k, v in specs.items() if k in visible}


def qos(q: m.QosSpecs) -> dict[str, Any]:
    return {"id": q.id, "name": q.name, "consumer": q.consumer, "specs": dict(q.specs)}


def attachment(a: m.Attachment) -> dict[str, Any]:
    return {
        "id": a.id,
        "status": a.attach_status,
        "instance": a.instance_uuid,
        "volume_id": a.volume_id,
        "attached_at": ts(a.attach_time),
        "detached_at": ts(a.detach_time),
        "attach_mode": a.attach_mode,
        "connection_info": a.connection_info or {},
    }


def backup(
    b: m.Backup, version: Version, base: str, *, admin: bool, has_children: bool
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": b.id,
        "name": b.name,
        "description": b.description,
        "status": b.status,
        "fail_reason": b.fail_reason,
        "availability_zone": b.availability_zone,
        "volume_id": b.volume_id,
        "snapshot_id": b.snapshot_id,
        "container": b.container,
        "size": b.size,
        "object_count": b.object_count,
        "is_incremental": b.is_incremental,
        "has_dependent_backups": has_children,
        "created_at": ts(b.created_at),
        "updated_at": ts(b.updated_at),
        "data_timestamp": ts(b.data_timestamp),
        "links": links(base, "backups", b.id, b.project_id),
    }
    if version.at_least("3.18"):
        out["os-backup-project-attr:project_id"] = b.project_id
    if version.at_least("3.43"):
        out["metadata"] = dict(b.metadata_)
    if version.at_least("3.56"):
        out["user_id"] = b.user_id
    if version.at_least("3.64"):
        out["encryption_key_id"] = None
    return out


def transfer(t: m.Transfer, base: str, version: Version, *, detail: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": t.id,
        "name": t.name,
        "volume_id": t.volume_id,
        "links": links(base, "os-volume-transfer", t.id, t.project_id),
    }
    if detail:
        out["created_at"] = ts(t.created_at)
        if version.at_least("3.55"):
            out["no_snapshots"] = t.no_snapshots
        if version.at_least("3.57"):
            out["source_project_id"] = t.project_id
            out["destination_project_id"] = None
            out["accepted"] = False
    return out


def message(msg: m.Message, base: str) -> dict[str, Any]:
    return {
        "id": msg.id,
        "request_id": msg.request_id,
        "resource_type": msg.resource_type,
        "resource_uuid": msg.resource_uuid,
        "event_id": msg.event_id,
        "message_level": msg.message_level,
        "user_message": msg.user_message,
        "created_at": ts(msg.created_at),
        "guaranteed_until": ts(msg.expires_at),
        "links": links(base, "messages", msg.id, msg.project_id),
    }
