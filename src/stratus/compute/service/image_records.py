"""What compute writes in the image service, as the cloud's own service user:
the image record a snapshot, backup or shelve goes to (owned by the server's
project), its data (streamed from the file the driver wrote), and the
deletion of images that failed or fell out of a backup rotation.

The API process creates the record (so the 202 can name the image) and the
host's agent uploads to it; both speak to the image service over its API,
the same in the all-in-one and scaled out."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import httpx

from stratus.common.service_auth import ServiceAuthError, ServiceSession, service_client

log = logging.getLogger(__name__)

CHUNK = 1 << 20
# Glance's own fields of an image: never copied from a base image into a
# snapshot's properties.
GLANCE_FIELDS = frozenset(
    {
        "id", "name", "status", "visibility", "protected", "os_hidden", "checksum",
        "os_hash_algo", "os_hash_value", "size", "virtual_size", "disk_format",
        "container_format", "min_disk", "min_ram", "owner", "tags", "created_at",
        "updated_at", "self", "file", "schema", "direct_url", "locations", "stores",
    }
)  # fmt: skip
# Properties that describe one server's image and are set anew for each
# snapshot, plus Nova's default non-inheritable image properties.
NOT_INHERITED = frozenset(
    {
        "instance_uuid", "image_type", "base_image_ref", "user_id", "backup_type",
        "image_location", "image_state", "owner_id", "cache_in_nova", "bittorrent",
        "img_signature_hash_method", "img_signature", "img_signature_key_type",
        "img_signature_certificate_uuid",
    }
)  # fmt: skip


class ImageServiceError(Exception):
    """The image service refused or could not be reached; ``status`` is its
    HTTP answer (0 when it could not be reached)."""

    def __init__(self, message: str, status: int = 0):
        super().__init__(message)
        self.status = status


def _reason(resp: httpx.Response) -> str:
    """A short, readable reason from Glance's (HTML) error page."""
    text = re.sub(r"<[^>]+>", " ", resp.text)
    text = " ".join(text.split())
    return text[:300] or resp.reason_phrase


class ImageRecords:
    def __init__(
        self, image_url: str, session: ServiceSession, client: httpx.AsyncClient | None = None
    ):
        self.base = image_url.rstrip("/")
        self.session = session
        self.client = client or service_client(session, httpx.Timeout(30.0, write=600.0))

    async def _call(self, method: str, path: str, **kw: Any) -> httpx.Response:
        try:
            return await self.client.request(method, f"{self.base}{path}", **kw)
        except ServiceAuthError as exc:
            raise ImageServiceError(f"the compute service cannot authenticate: {exc}") from exc
        except httpx.HTTPError as exc:
            raise ImageServiceError(f"the image service is unreachable: {exc}") from exc

    async def get(self, image_id: str) -> dict[str, Any] | None:
        """The image's record, or None when it is gone."""
        resp = await self._call("GET", f"/v2/images/{image_id}")
        if resp.status_code == 404:
            return None
        if resp.status_code != 200:
            raise ImageServiceError(
                f"image {image_id}: the image service answered {resp.status_code}",
                resp.status_code,
            )
        return resp.json()  # type: ignore[no-any-return]

    async def create(self, record: dict[str, Any]) -> dict[str, Any]:
        resp = await self._call("POST", "/v2/images", json=record)
        if resp.status_code != 201:
            raise ImageServiceError(
                f"the image service refused the image ({resp.status_code}): {_reason(resp)}",
                resp.status_code,
            )
        return resp.json()  # type: ignore[no-any-return]

    async def set_formats(self, image_id: str, disk_format: str, container_format: str) -> None:
        ops = [
            {"op": "add", "path": "/disk_format", "value": disk_format},
            {"op": "add", "path": "/container_format", "value": container_format},
        ]
        resp = await self._call(
            "PATCH",
            f"/v2/images/{image_id}",
            json=ops,
            headers={"Content-Type": "application/openstack-images-v2.1-json-patch"},
        )
        if resp.status_code != 200:
            raise ImageServiceError(
                f"image {image_id}: setting its format failed ({resp.status_code}): {_reason(resp)}",
                resp.status_code,
            )

    async def upload(self, image_id: str, path: Path) -> None:
        """Stream a file into the image (never held in memory)."""
        size = path.stat().st_size

        async def chunks() -> AsyncIterator[bytes]:
            async with await anyio.open_file(path, "rb") as f:
                while chunk := await f.read(CHUNK):
                    yield chunk

        resp = await self._call(
            "PUT",
            f"/v2/images/{image_id}/file",
            content=chunks(),
            headers={"Content-Type": "application/octet-stream", "Content-Length": str(size)},
        )
        if resp.status_code != 204:
            raise ImageServiceError(
                f"image {image_id}: the upload failed ({resp.status_code}): {_reason(resp)}",
                resp.status_code,
            )

    async def delete(self, image_id: str) -> bool:
        """Delete an image; True if it was there."""
        resp = await self._call("DELETE", f"/v2/images/{image_id}")
        if resp.status_code in (204, 404):
            return resp.status_code == 204
        raise ImageServiceError(
            f"image {image_id}: deleting it failed ({resp.status_code}): {_reason(resp)}",
            resp.status_code,
        )

    async def backups(self, server_id: str, backup_type: str) -> list[dict[str, Any]]:
        """A server's backups of one type, newest first."""
        params = {
            "instance_uuid": server_id,
            "image_type": "backup",
            "backup_type": backup_type,
            "sort_key": "created_at",
            "sort_dir": "desc",
            "limit": "1000",
        }
        resp = await self._call("GET", "/v2/images", params=params)
        if resp.status_code != 200:
            raise ImageServiceError(
                f"listing the backups of {server_id} failed ({resp.status_code})",
                resp.status_code,
            )
        return list(resp.json().get("images", []))

    async def close(self) -> None:
        await self.client.aclose()


def snapshot_record(
    *,
    name: str,
    server_id: str,
    project_id: str,
    user_id: str,
    image_type: str,
    base_image_ref: str,
    base: dict[str, Any] | None,
    root_gb: int,
    metadata: dict[str, str],
    extra: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The record of a new snapshot image, as Nova makes it: private, owned by
    the server's project, inheriting the base image's properties, min_ram
    and min_disk (at least the flavor's root disk), plus the request's
    metadata and the server's own properties (which a backup rotation
    relies on, so metadata cannot override them; but for the image type
    of a snapshot, as Nova)."""
    inherited = {
        k: v
        for k, v in (base or {}).items()
        if k not in GLANCE_FIELDS
        and k not in NOT_INHERITED
        and not k.startswith(("os_glance", "owner_specified."))
        and isinstance(v, str)
    }
    own = {
        "instance_uuid": server_id,
        "image_type": image_type,
        "base_image_ref": base_image_ref,
        "user_id": user_id,
    }
    if image_type != "backup" and "image_type" in metadata:
        # Nova lets createImage's metadata name the image's type; a backup's
        # stays, as its rotation looks for it
        own["image_type"] = metadata["image_type"]
    record: dict[str, Any] = {
        **inherited,
        **metadata,
        **own,
        **(extra or {}),
        "name": name,
        "owner": project_id,
        "visibility": "private",
        "min_ram": int((base or {}).get("min_ram") or 0),
        "min_disk": max(int((base or {}).get("min_disk") or 0), root_gb),
    }
    return record
