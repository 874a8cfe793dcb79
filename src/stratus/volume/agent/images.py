"""Image data for the volume agent, over the image API as the cloud's
service user: an image downloaded into a scratch file (its checksum and
format checked: nothing that points outside itself reaches qemu-img), and
a volume exported to a file streamed up as an image's data."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx

from stratus.common import tls
from stratus.common.service_auth import ServiceAuthError, ServiceSession
from stratus.image import formats
from stratus.volume.drivers.base import DriverError

log = logging.getLogger(__name__)

CHUNK = 1 << 20
CONVERTIBLE = ("raw", "qcow2", "vmdk", "vdi", "vhd", "vhdx", "iso", "ami")


class ImageTransfer:
    def __init__(
        self, image_url: str, session: ServiceSession, client: httpx.AsyncClient | None = None
    ):
        self.base = image_url.rstrip("/")
        self.session = session
        self.client = client or tls.client(
            timeout=httpx.Timeout(30.0, read=600.0, write=600.0)
        )

    async def _headers(self) -> dict[str, str]:
        try:
            return {"X-Auth-Token": await self.session.token()}
        except ServiceAuthError as exc:
            raise DriverError(f"the volume agent cannot authenticate: {exc}") from exc

    async def record(self, image_id: str) -> dict[str, Any] | None:
        resp = await self.client.get(
            f"{self.base}/v2/images/{image_id}", headers=await self._headers()
        )
        if resp.status_code == 404:
            return None
        if resp.status_code != 200:
            raise DriverError(f"image {image_id}: the image service answered {resp.status_code}")
        return resp.json()  # type: ignore[no-any-return]

    async def download(self, image_id: str, target: Path) -> str:
        """Fetch an image into ``target``; its qemu-img format name."""
        record = await self.record(image_id)
        if record is None:
            raise DriverError(f"image {image_id} no longer exists")
        declared = record.get("disk_format") or "raw"
        if declared not in CONVERTIBLE:
            raise DriverError(f"image {image_id}: disk format {declared} cannot become a volume")
        algo = str(record.get("os_hash_algo") or "sha512")
        want = record.get("os_hash_value") or record.get("checksum")
        digest = hashlib.new(algo if record.get("os_hash_value") else "md5")
        head = bytearray()
        tail = b""
        url = f"{self.base}/v2/images/{image_id}/file"
        with target.open("wb") as f:
            async with self.client.stream("GET", url, headers=await self._headers()) as resp:
                if resp.status_code != 200:
                    raise DriverError(f"image {image_id}: download answered {resp.status_code}")
                async for chunk in resp.aiter_bytes(CHUNK):
                    digest.update(chunk)
                    if len(head) < formats.HEAD_BYTES:
                        head += chunk[: formats.HEAD_BYTES - len(head)]
                    tail = (tail + chunk)[-formats.TAIL_BYTES :]
                    await asyncio.to_thread(f.write, chunk)
            await asyncio.to_thread(os.fsync, f.fileno())
        if want and digest.hexdigest() != want:
            raise DriverError(f"image {image_id}: the data does not match its checksum")
        found = formats.inspect(bytes(head), tail, target.stat().st_size)
        try:
            formats.check(declared, found)
        except formats.ImageFormatError as exc:
            raise DriverError(f"image {image_id}: {exc}") from exc
        return {"ami": "raw", "iso": "raw"}.get(found.format, found.format)

    async def upload(self, image_id: str, source: Path) -> None:
        size = source.stat().st_size

        async def body() -> AsyncIterator[bytes]:
            with source.open("rb") as f:
                while chunk := await asyncio.to_thread(f.read, CHUNK):
                    yield chunk

        headers = {**await self._headers(), "Content-Type": "application/octet-stream",
                   "Content-Length": str(size)}  # fmt: skip
        resp = await self.client.put(
            f"{self.base}/v2/images/{image_id}/file", content=body(), headers=headers
        )
        if resp.status_code not in (201, 204):
            raise DriverError(f"image {image_id}: the upload answered {resp.status_code}")

    async def delete(self, image_id: str) -> None:
        resp = await self.client.delete(
            f"{self.base}/v2/images/{image_id}", headers=await self._headers()
        )
        if resp.status_code not in (204, 404):
            log.warning("volume: could not delete image %s (%s)", image_id, resp.status_code)

    async def close(self) -> None:
        await self.client.aclose()
