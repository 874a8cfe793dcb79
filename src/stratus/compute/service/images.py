"""What compute asks of the image service, over its API (the same in the
all-in-one and scaled out): an image's record, as the calling user sees it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from stratus.common import tls
from stratus.common.context import RequestContext
from stratus.common.errors import StratusError
from stratus.common.service_auth import ServiceSession, on_behalf_headers
from stratus.compute.errors import BadRequest


class ImageServiceUnavailable(StratusError):
    """The image service did not answer: 503, as Nova answers, not a fault."""

    status = 503
    title = "Service Unavailable"


@dataclass(frozen=True)
class ImageInfo:
    id: str
    name: str | None
    status: str
    size: int | None
    disk_format: str | None
    min_ram: int
    min_disk: int
    properties: dict[str, Any]
    virtual_size: int | None = None

    def check_fits(self, disk_gb: int) -> None:
        """Refuse (400, as Nova) a root disk of ``disk_gb`` GiB smaller than
        the image's data, its virtual disk or its ``min_disk``; a flavor's 0
        means the image's own size, so there is nothing to check."""
        if disk_gb <= 0:
            return
        disk = disk_gb * 2**30
        image = max(self.size or 0, self.virtual_size or 0)
        if image > disk:
            raise FlavorDiskSmallerThanImage(
                "Flavor's disk is too small for requested image. Flavor disk "
                f"is {disk} bytes, image is {image} bytes."
            )
        if self.min_disk * 2**30 > disk:
            raise BadRequest(
                "Flavor's disk is smaller than the minimum size specified in image "
                f"metadata. Flavor disk is {disk} bytes, minimum size is "
                f"{self.min_disk * 2**30} bytes."
            )


class FlavorDiskSmallerThanImage(BadRequest):
    """Nova's name for it: the image would not fit the flavor's root disk."""


class ImageClient:
    """The image API as the caller (its own token; the service's beside it
    when access rules restrict the caller's, see ``on_behalf_headers``)."""

    def __init__(
        self,
        base_url: str,
        client: httpx.AsyncClient | None = None,
        session: ServiceSession | None = None,
    ):
        self.base = base_url.rstrip("/")
        self.client = client or tls.client(timeout=30.0)
        self.session = session

    async def headers(self, ctx: RequestContext) -> dict[str, str]:
        return await on_behalf_headers(ctx, self.session)

    async def get(self, ctx: RequestContext, image_id: str) -> ImageInfo:
        """The image if the caller may use it: 400 otherwise, as Nova answers
        a bad imageRef."""
        try:
            resp = await self.client.get(
                f"{self.base}/v2/images/{image_id}",
                headers=await self.headers(ctx),
            )
        except httpx.HTTPError as exc:
            raise ImageServiceUnavailable(
                f"The image service is unavailable ({type(exc).__name__}); try again later."
            ) from exc
        if resp.status_code == 404:
            raise BadRequest(f"Image {image_id} could not be found.")
        if resp.status_code != 200:
            raise BadRequest(
                f"Image {image_id} cannot be used (the image service said {resp.status_code})."
            )
        data = resp.json()
        if data.get("status") != "active":
            raise BadRequest(f"Image {image_id} is not active.")
        core = {"id", "name", "status", "size", "virtual_size", "disk_format"}
        core |= {"min_ram", "min_disk"}
        return ImageInfo(
            id=data["id"],
            name=data.get("name"),
            status=data["status"],
            size=data.get("size"),
            disk_format=data.get("disk_format"),
            min_ram=int(data.get("min_ram") or 0),
            min_disk=int(data.get("min_disk") or 0),
            virtual_size=data.get("virtual_size"),
            properties={k: v for k, v in data.items() if k not in core},
        )

    async def close(self) -> None:
        await self.client.aclose()
