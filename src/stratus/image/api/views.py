"""Rendering images, members and tasks in Glance's JSON shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from stratus.image import models as m


def isotime(t: datetime | None) -> str | None:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ") if t else None


def image(i: m.Image) -> dict[str, Any]:
    body = {
        **i.properties,
        "id": i.id,
        "name": i.name,
        "status": i.status,
        "visibility": i.visibility,
        "protected": i.protected,
        "os_hidden": i.os_hidden,
        "checksum": i.checksum,
        "os_hash_algo": i.os_hash_algo,
        "os_hash_value": i.os_hash_value,
        "size": i.size,
        "virtual_size": i.virtual_size,
        "disk_format": i.disk_format,
        "container_format": i.container_format,
        "min_disk": i.min_disk,
        "min_ram": i.min_ram,
        "owner": i.owner,
        "tags": [t.name for t in i.tags],
        "created_at": isotime(i.created_at),
        "updated_at": isotime(i.updated_at),
        "self": f"/v2/images/{i.id}",
        "file": f"/v2/images/{i.id}/file",
        "schema": "/v2/schemas/image",
    }
    # The stores holding the data (Glance shows them when it serves
    # /v2/info/stores, as Stratus always does): one store here.
    if i.location:
        body["stores"] = i.location.split(":", 1)[0]
    return body


def member(row: m.ImageMember) -> dict[str, Any]:
    return {
        "image_id": row.image_id,
        "member_id": row.member_id,
        "status": row.status,
        "created_at": isotime(row.created_at),
        "updated_at": isotime(row.updated_at),
        "schema": "/v2/schemas/member",
    }


def task(t: m.ImageTask) -> dict[str, Any]:
    return {
        "id": t.id,
        "type": t.type,
        "status": t.status,
        "input": t.input,
        "result": t.result,
        "owner": t.owner,
        "message": t.message,
        "image_id": t.image_id,
        "request_id": t.request_id,
        "user_id": t.user_id,
        "expires_at": isotime(t.expires_at),
        "created_at": isotime(t.created_at),
        "updated_at": isotime(t.updated_at),
        "self": f"/v2/tasks/{t.id}",
        "schema": "/v2/schemas/task",
    }
