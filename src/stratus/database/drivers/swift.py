"""Backups and published logs in the cloud's object store (Swift's API), as
the service user.

A backup is streamed as segments of ``segment_size`` bytes into
``<container>_segments`` (``<name>/<n>``), each segment's MD5 checked
against the ETag the store answers, then stored as a static large object
manifest at ``<container>/<name>``: the object store refuses one object
over its ``max_file_size`` (5 GiB, as Swift), as Trove stores its big
backups.  Every backup is a manifest, even a one-segment one: the stream's
length is unknown until it ends, and buffering a segment to find it out
would hold up to ``segment_size`` bytes in memory.  A plain GET of the
manifest reads the segments' concatenation.  A failed backup's segments
are deleted, and a backup made again (after a crash) first deletes what
the killed attempt left under its name."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx

from stratus.common.service_auth import ServiceSession, service_client
from stratus.database.drivers.base import ByteStream, DriverError
from stratus.database.drivers.openstack import checked

log = logging.getLogger(__name__)

MAX_SEGMENTS = 1000  # a static large object's, as Swift's max_manifest_segments
LISTING = 10000


class _Segments:
    """The backup stream cut at segment boundaries; the whole's SHA-256 and
    size kept on the way."""

    def __init__(self, stream: ByteStream, size: int):
        self.source = stream.__aiter__()
        self.size = size
        self.pending = b""
        self.digest = hashlib.sha256()
        self.total = 0

    async def more(self) -> bool:
        """Whether any byte is left (read ahead until one is, or the end)."""
        while not self.pending:
            try:
                self.pending = await anext(self.source)
            except StopAsyncIteration:
                return False
        return True

    async def next(self, md5: Any) -> AsyncIterator[bytes]:
        """One segment's bytes (at most ``size``), its MD5 into ``md5``."""
        sent = 0
        while sent < self.size and await self.more():
            piece = self.pending[: self.size - sent]
            self.pending = self.pending[len(piece) :]
            sent += len(piece)
            md5.update(piece)
            self.digest.update(piece)
            self.total += len(piece)
            yield piece


class SwiftStore:
    def __init__(self, url: str, session: ServiceSession, segment_size: int = 2 * 1024**3):
        self.url = url.rstrip("/")
        self.session = session
        self.segment_size = segment_size
        self.client = service_client(session, timeout=httpx.Timeout(60.0, read=600.0))

    async def _account(self, project_id: str | None = None) -> str:
        """The service project's account, or (an admin reaches every
        account) a project's own."""
        await self.session.token()
        return f"{self.url}/AUTH_{project_id or self.session.project_id}"

    async def put(
        self,
        container: str,
        name: str,
        stream: ByteStream,
        headers: dict[str, str] | None = None,
        project_id: str | None = None,
        segmented: bool = False,
    ) -> tuple[int, str]:
        base = await self._account(project_id)
        checked(await self.client.put(f"{base}/{container}"), "making the container")
        if segmented:
            return await self._put_segmented(base, container, name, stream, headers or {})
        digest = hashlib.sha256()
        size = 0

        async def body() -> AsyncIterator[bytes]:
            nonlocal size
            async for chunk in stream:
                digest.update(chunk)
                size += len(chunk)
                yield chunk

        resp = await self.client.put(f"{base}/{container}/{name}", content=body(),
                                     headers=headers or {})  # fmt: skip
        checked(resp, "storing the backup", (201,))
        return size, digest.hexdigest()

    async def _put_segmented(
        self, base: str, container: str, name: str, stream: ByteStream, headers: dict[str, str]
    ) -> tuple[int, str]:
        holder = f"{container}_segments"
        checked(await self.client.put(f"{base}/{holder}"), "making the segments container")
        # What an attempt killed midway left under this name (a crash).
        await self._discard(base, holder, name)
        cut = _Segments(stream, self.segment_size)
        manifest: list[dict[str, Any]] = []
        try:
            while await cut.more():
                if len(manifest) >= MAX_SEGMENTS:
                    raise DriverError(f"the backup is over {MAX_SEGMENTS} segments of "
                                      f"{self.segment_size} bytes: raise "
                                      "[dbaas] backup_segment_size")  # fmt: skip
                path = f"{holder}/{name}/{len(manifest) + 1:08d}"
                md5 = hashlib.md5(usedforsecurity=False)
                before = cut.total
                resp = await self.client.put(f"{base}/{path}", content=cut.next(md5))
                checked(resp, f"storing backup segment {len(manifest) + 1}", (201,))
                etag = resp.headers.get("etag", "").strip('"').lower()
                if etag != md5.hexdigest():
                    raise DriverError(f"backup segment {len(manifest) + 1}: the object store "
                                      f"stored ETag {etag or 'none'}, sent MD5 "
                                      f"{md5.hexdigest()}")  # fmt: skip
                manifest.append({"path": f"/{path}", "etag": etag,
                                 "size_bytes": cut.total - before})  # fmt: skip
            if not manifest:  # an empty stream: nothing to cut, one empty object
                resp = await self.client.put(f"{base}/{container}/{name}", content=b"",
                                             headers=headers)  # fmt: skip
                checked(resp, "storing the backup", (201,))
            else:
                resp = await self.client.put(
                    f"{base}/{container}/{name}", params={"multipart-manifest": "put"},
                    content=json.dumps(manifest).encode(), headers=headers,
                )  # fmt: skip
                checked(resp, "storing the backup's manifest", (201,))
        except Exception:
            with contextlib.suppress(Exception):
                await self._discard(base, holder, name)
            raise
        return cut.total, cut.digest.hexdigest()

    async def _discard(self, base: str, holder: str, name: str) -> None:
        """Delete the segments under ``name`` in the segments container."""
        marker = ""
        while True:
            resp = await self.client.get(f"{base}/{holder}", params={
                "format": "json", "prefix": f"{name}/", "marker": marker, "limit": LISTING})  # fmt: skip
            if resp.status_code == 404:
                return
            found = checked(resp, "listing backup segments", (200, 204)) or []
            for obj in found:
                checked(await self.client.delete(f"{base}/{holder}/{obj['name']}"),
                       "deleting a backup segment", (204, 404))  # fmt: skip
            if len(found) < LISTING:
                return
            marker = found[-1]["name"]

    async def get(self, container: str, name: str) -> ByteStream:
        base = await self._account()
        async with self.client.stream("GET", f"{base}/{container}/{name}") as resp:
            if resp.status_code != 200:
                raise DriverError(f"reading backup {container}/{name}: {resp.status_code}")
            async for chunk in resp.aiter_bytes(1 << 20):
                yield chunk

    async def delete(self, container: str, name: str, project_id: str | None = None) -> None:
        """The object; a manifest with its segments, and any segment left
        under its name by an attempt that failed."""
        base = await self._account(project_id)
        url = f"{base}/{container}/{name}"
        if project_id is not None:  # a published log: one plain object
            checked(await self.client.delete(url), "deleting the object", (204, 404))
            return
        resp = await self.client.delete(url, params={"multipart-manifest": "delete"},
                                        headers={"Accept": "application/json"})  # fmt: skip
        if resp.status_code == 400:  # not a manifest: a plain object
            resp = await self.client.delete(url)
        body = checked(resp, "deleting the backup", (200, 204, 404))
        if resp.status_code == 200 and isinstance(body, dict):
            if body.get("Errors") or not str(body.get("Response Status", "")).startswith("2"):
                raise DriverError(f"deleting the backup's segments: {body}")
        await self._discard(base, f"{container}_segments", name)

    async def close(self) -> None:
        await self.client.aclose()
