"""What the volume API asks of the image service, over its API with the
caller's token: an image's record (may this user make a volume of it?) and
a new image record for ``os-volume_upload_image``, owned by the caller's
project.  The data moves later, in the volume agent, as the service user."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import httpx

from stratus.common import tls
from stratus.common.context import RequestContext
from stratus.common.service_auth import ServiceSession, on_behalf_headers
from stratus.volume.errors import BadRequest, NotFound, ServiceUnavailable

# Glance's own fields; the rest of a record are the image's properties.
CORE = frozenset(
    {
        "id", "name", "status", "visibility", "protected", "os_hidden", "checksum",
        "os_hash_algo", "os_hash_value", "size", "virtual_size", "disk_format",
        "container_format", "min_disk", "min_ram", "owner", "tags", "created_at",
        "updated_at", "self", "file", "schema", "direct_url", "locations", "stores",
    }
)  # fmt: skip


@dataclass(frozen=True)
class ImageInfo:
    id: str
    name: str | None
    size: int
    virtual_size: int | None
    disk_format: str
    container_format: str
    checksum: str | None
    min_disk: int
    min_ram: int
    properties: dict[str, Any]


def _reason(resp: httpx.Response) -> str:
    text = " ".join(re.sub(r"<[^>]+>", " ", resp.text).split())
    return text[:300] or resp.reason_phrase


class ImageClient:
    """The image API as the caller (the service's token beside a caller's
    that access rules restrict, see ``on_behalf_headers``)."""

    def __init__(
        self,
        image_url: str,
        client: httpx.AsyncClient | None = None,
        session: ServiceSession | None = None,
    ):
        self.base = image_url.rstrip("/")
        self.client = client or tls.client(timeout=30.0)
        self.session = session

    async def _call(self, ctx: RequestContext, method: str, path: str, **kw: Any) -> httpx.Response:
        headers = await on_behalf_headers(ctx, self.session)
        try:
            return await self.client.request(method, f"{self.base}{path}", headers=headers, **kw)
        except httpx.HTTPError as exc:
            raise ServiceUnavailable(
                f"The image service is unavailable ({type(exc).__name__}); try again later."
            ) from exc

    async def get(self, ctx: RequestContext, image_id: str) -> ImageInfo:
        """An active image the caller may read (400 otherwise, as Cinder)."""
        resp = await self._call(ctx, "GET", f"/v2/images/{image_id}")
        if resp.status_code == 404:
            raise BadRequest(
                f"Invalid image identifier or unable to access requested image {image_id}."
            )
        if resp.status_code != 200:
            raise BadRequest(f"Image {image_id} cannot be used: {_reason(resp)}")
        data = resp.json()
        if data.get("status") != "active":
            raise BadRequest(f"Image {image_id} is not active.")
        return ImageInfo(
            id=data["id"],
            name=data.get("name"),
            size=int(data.get("size") or 0),
            virtual_size=data.get("virtual_size"),
            disk_format=data.get("disk_format") or "raw",
            container_format=data.get("container_format") or "bare",
            checksum=data.get("checksum"),
            min_disk=int(data.get("min_disk") or 0),
            min_ram=int(data.get("min_ram") or 0),
            properties={k: v for k, v in data.items() if k not in CORE},
        )

    async def create(self, ctx: RequestContext, record: dict[str, Any]) -> dict[str, Any]:
        resp = await self._call(ctx, "POST", "/v2/images", json=record)
        if resp.status_code == 409:
            raise BadRequest(f"The image service refused the image: {_reason(resp)}")
        if resp.status_code != 201:
            raise BadRequest(
                f"The image service refused the image ({resp.status_code}): {_reason(resp)}"
            )
        return resp.json()  # type: ignore[no-any-return]

    async def delete(self, ctx: RequestContext, image_id: str) -> None:
        resp = await self._call(ctx, "DELETE", f"/v2/images/{image_id}")
        if resp.status_code not in (204, 404):
            raise NotFound(f"Image {image_id} could not be deleted: {_reason(resp)}")

    async def close(self) -> None:
        await self.client.aclose()
