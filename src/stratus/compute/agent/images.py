"""The image cache of a compute host: each image is downloaded once from the
image service, its checksum verified, and kept read-only as the shared base
of every server booted from it."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import httpx

from stratus.common.service_auth import ServiceSession, service_client

log = logging.getLogger(__name__)


class ImageFetchError(Exception):
    pass


@dataclass(frozen=True)
class CachedImage:
    path: Path
    disk_format: str


class ImageCache:
    def __init__(
        self,
        root: Path,
        image_url: str,
        session: ServiceSession,
        client: httpx.AsyncClient | None = None,
    ):
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self.image_url = image_url.rstrip("/")
        self.session = session
        self.client = client or service_client(session, httpx.Timeout(30.0, read=300.0))
        self._locks: dict[str, asyncio.Lock] = {}

    async def ensure(self, image_id: str) -> CachedImage:
        """The cached base of an image, fetched and verified when missing."""
        lock = self._locks.setdefault(image_id, asyncio.Lock())
        async with lock:
            resp = await self.client.get(f"{self.image_url}/v2/images/{image_id}")
            if resp.status_code != 200:
                raise ImageFetchError(
                    f"image {image_id}: the image service answered {resp.status_code}"
                )
            record = resp.json()
            disk_format = record.get("disk_format") or "raw"
            if disk_format not in ("qcow2", "raw", "ami"):
                raise ImageFetchError(
                    f"image {image_id}: disk format {disk_format} cannot be booted here"
                )
            path = self.root / image_id
            if path.exists():
                return CachedImage(path, "qcow2" if disk_format == "qcow2" else "raw")
            await self._download(image_id, record, path)
            return CachedImage(path, "qcow2" if disk_format == "qcow2" else "raw")

    async def _download(self, image_id: str, record: dict[str, object], path: Path) -> None:
        want_hash = record.get("os_hash_value")
        algo = str(record.get("os_hash_algo") or "sha512")
        digest = hashlib.new(algo) if want_hash else hashlib.md5(usedforsecurity=False)
        want = want_hash or record.get("checksum")
        tmp = path.with_name(f".{image_id}.partial")
        log.info("compute: fetching image %s into the cache", image_id)
        try:
            with tmp.open("wb") as f:
                async with self.client.stream(
                    "GET", f"{self.image_url}/v2/images/{image_id}/file"
                ) as resp:
                    if resp.status_code != 200:
                        raise ImageFetchError(
                            f"image {image_id}: download answered {resp.status_code}"
                        )
                    async for chunk in resp.aiter_bytes(1 << 20):
                        digest.update(chunk)
                        await asyncio.to_thread(f.write, chunk)
                await asyncio.to_thread(os.fsync, f.fileno())
            if want and digest.hexdigest() != want:
                raise ImageFetchError(f"image {image_id}: the data does not match its checksum")
            os.chmod(tmp, 0o444)  # the shared base is never written
            os.replace(tmp, path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()

    def sweep(self, keep: Iterable[str]) -> list[Path]:
        """At start, before any download: remove partial downloads a crash
        left, and the cached bases of images that nothing on this host uses
        (``keep``: the images of this host's servers and the backing files of
        their disks).  Returns what went."""
        wanted = set(keep)
        gone: list[Path] = []
        for path in sorted(self.root.iterdir()):
            if path.is_dir():
                continue
            partial = path.name.startswith(".") and path.name.endswith(".partial")
            if not partial and path.name in wanted:
                continue
            path.unlink(missing_ok=True)
            gone.append(path)
            if partial:
                log.warning("compute: removed %s, an image download a restart cut short", path)
            else:
                log.info("compute: removed image %s from the cache: no server here uses it", path)
        return gone

    async def close(self) -> None:
        await self.client.aclose()


QCOW2_MAGIC = b"QFI\xfb"


def backing_file(disk: Path) -> str | None:
    """The backing file a qcow2 disk names in its header (None for another
    format or none): read from the header itself, as it is on disk."""
    try:
        with disk.open("rb") as f:
            header = f.read(20)
            if len(header) < 20 or header[:4] != QCOW2_MAGIC:
                return None
            offset, size = struct.unpack(">QI", header[8:20])
            if not offset or not size or size > 4096:
                return None
            f.seek(offset)
            return f.read(size).decode("utf-8", "replace")
    except OSError:
        return None


def backed_images(roots: Iterable[Path]) -> set[str]:
    """The names of the files that the disks in the server folders under
    ``roots`` back onto (the cached bases they need)."""
    found: set[str] = set()
    for root in roots:
        for folder in root.glob("*/"):
            try:
                files = [p for p in folder.iterdir() if p.is_file()]
            except OSError:  # gone meanwhile
                continue
            for disk in files:
                backing = backing_file(disk)
                if backing:
                    found.add(Path(backing).name)
    return found
