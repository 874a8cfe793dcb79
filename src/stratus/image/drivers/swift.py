"""The object store as an image store: an image is a manifest object in a
container of the service's account, and its data are segments in a second
container (``<container>_segments``), each at most ``segment_size`` bytes,
written as they stream in.  Reads walk the segments themselves, so an image
is read back whole or by range whatever the object store's own large-object
support.  Everything goes through the Swift API, as the service user."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import httpx

from stratus.common.service_auth import ServiceSession, service_client

log = logging.getLogger(__name__)

QUEUE_DEPTH = 4  # chunks buffered per segment upload: memory stays flat


class SwiftStoreError(Exception):
    pass


def _timestamp(value: str) -> float:
    """A listing's last_modified (UTC, ISO 8601) as a time.time(); 0 if garbled."""
    try:
        return datetime.fromisoformat(value).replace(tzinfo=UTC).timestamp()
    except ValueError:
        return 0.0


class SwiftWriter:
    def __init__(self, store: SwiftStore, key: str):
        self.store = store
        self.key = key
        self.segments = 0
        self.in_segment = 0
        self.queue: asyncio.Queue[bytes | None] | None = None
        self.upload: asyncio.Task[None] | None = None

    async def _open_segment(self) -> None:
        queue: asyncio.Queue[bytes | None] = asyncio.Queue(QUEUE_DEPTH)
        name = self.store.segment_name(self.key, self.segments)

        async def body() -> AsyncIterator[bytes]:
            while (chunk := await queue.get()) is not None:
                yield chunk

        self.queue, self.in_segment = queue, 0
        self.segments += 1
        self.upload = asyncio.create_task(
            self.store.put(self.store.segments_container, name, body())
        )

    async def _close_segment(self) -> None:
        if self.queue is not None and self.upload is not None:
            await self.queue.put(None)
            await self.upload
        self.queue = self.upload = None

    async def write(self, data: bytes | bytearray | memoryview) -> None:
        view = memoryview(data)  # the caller reuses its buffer: the pieces are copies
        while view:
            if self.queue is None:
                await self._open_segment()
            room = self.store.segment_size - self.in_segment
            piece, view = view[:room], view[room:]
            assert self.queue is not None
            await self.queue.put(bytes(piece))
            self.in_segment += len(piece)
            if self.in_segment >= self.store.segment_size:
                await self._close_segment()

    async def commit(self) -> None:
        await self._close_segment()
        prefix = f"{self.store.segments_container}/{self.key}/"
        await self.store.put(
            self.store.container,
            self.key,
            None,
            {"X-Object-Manifest": prefix, "X-Object-Meta-Segments": str(self.segments)},
        )

    async def abort(self) -> None:
        if self.upload is not None:
            self.upload.cancel()
            with contextlib.suppress(BaseException):
                await self.upload
        self.queue = self.upload = None
        with contextlib.suppress(Exception):
            await self.store.delete(self.key)


class SwiftStore:
    name = "swift"

    def __init__(
        self,
        object_store_url: str,
        session: ServiceSession,
        *,
        container: str = "images",
        segment_size: int = 200 << 20,
        client: httpx.AsyncClient | None = None,
    ):
        self.base = object_store_url.rstrip("/")  # .../object-store/v1
        self.session = session
        self.container = container
        self.segments_container = f"{container}_segments"
        self.segment_size = segment_size
        self.client = client or service_client(session, httpx.Timeout(60.0, read=600.0))
        self._ready = False

    def segment_name(self, key: str, index: int) -> str:
        return f"{key}/{index:08d}"

    async def _url(self, container: str, name: str | None = None) -> str:
        await self.session.token()  # learns the service project, the account's name
        account = f"AUTH_{self.session.project_id}"
        url = f"{self.base}/{account}/{quote(container)}"
        return f"{url}/{quote(name)}" if name is not None else url

    async def _ensure_containers(self) -> None:
        if self._ready:
            return
        for container in (self.container, self.segments_container):
            resp = await self.client.put(await self._url(container))
            if resp.status_code not in (201, 202):
                raise SwiftStoreError(f"cannot create container {container}: {resp.status_code}")
        self._ready = True

    async def put(
        self,
        container: str,
        name: str,
        body: AsyncIterator[bytes] | None,
        extra: dict[str, str] | None = None,
    ) -> None:
        await self._ensure_containers()
        headers = {
            **(extra or {}),
            "Content-Type": "application/octet-stream",
        }
        resp = await self.client.put(
            await self._url(container, name),
            content=body if body is not None else b"",
            headers=headers,
        )
        if resp.status_code != 201:
            raise SwiftStoreError(
                f"storing {container}/{name} failed: {resp.status_code} {resp.text[:200]}"
            )

    def writer(self, key: str) -> SwiftWriter:
        return SwiftWriter(self, key)

    async def _listing(self, container: str, prefix: str = "") -> list[dict[str, Any]]:
        """Every entry of a container's listing (under ``prefix``), in order."""
        out: list[dict[str, Any]] = []
        marker = ""
        while True:
            resp = await self.client.get(
                await self._url(container),
                params={"prefix": prefix, "format": "json", "marker": marker},
            )
            if resp.status_code == 404:
                return out
            if resp.status_code not in (200, 204):
                raise SwiftStoreError(f"listing {container}/{prefix} failed: {resp.status_code}")
            page = resp.json() if resp.status_code == 200 else []
            if not page:
                return out
            out += page
            marker = page[-1]["name"]

    async def _segments(self, key: str) -> list[tuple[str, int]]:
        """(name, bytes) of an image's segments, in order."""
        entries = await self._listing(self.segments_container, f"{key}/")
        return [(e["name"], int(e["bytes"])) for e in entries]

    async def sweep(self, keep: Callable[[str], bool], before: float) -> list[str]:
        """Manifests not kept, and segments without a manifest (an upload
        that never finished), older than ``before``."""
        newest: dict[str, float] = {}  # key -> its newest object's time
        manifests = set()
        for container in (self.container, self.segments_container):
            for entry in await self._listing(container):
                key = entry["name"].split("/", 1)[0]
                when = _timestamp(entry.get("last_modified", ""))
                newest[key] = max(newest.get(key, 0.0), when)
                if container == self.container:
                    manifests.add(key)
        gone = []
        for key, when in newest.items():
            if when < before and not (key in manifests and keep(key)):
                await self.delete(key)
                gone.append(key)
        return gone

    async def read(
        self, key: str, offset: int = 0, length: int | None = None
    ) -> AsyncIterator[bytes]:
        end = None if length is None else offset + length  # exclusive
        position = 0
        for name, size in await self._segments(key):
            seg_start, seg_end = position, position + size
            position = seg_end
            if seg_end <= offset or (end is not None and seg_start >= end):
                continue
            first = max(offset - seg_start, 0)
            last = size - 1 if end is None else min(end - seg_start, size) - 1
            headers: dict[str, str] = {}
            if first > 0 or last < size - 1:
                headers["Range"] = f"bytes={first}-{last}"
            url = await self._url(self.segments_container, name)
            async with self.client.stream("GET", url, headers=headers) as resp:
                if resp.status_code not in (200, 206):
                    raise SwiftStoreError(f"reading {name} failed: {resp.status_code}")
                async for chunk in resp.aiter_bytes(1 << 20):
                    yield chunk
            if end is not None and seg_end >= end:
                return

    async def size(self, key: str) -> int | None:
        segments = await self._segments(key)
        if not segments:
            resp = await self.client.head(await self._url(self.container, key))
            return 0 if resp.status_code == 200 else None
        return sum(size for _, size in segments)

    async def delete(self, key: str) -> None:
        for name, _ in await self._segments(key):
            await self.client.delete(await self._url(self.segments_container, name))
        await self.client.delete(await self._url(self.container, key))

    def local_path(self, key: str) -> str | None:
        return None

    async def close(self) -> None:
        await self.client.aclose()
