"""Objects: data streamed in and out, metadata, deletes and server-side copies."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from urllib.parse import quote

from stratus.objectstore.drivers.timestamp import Timestamp
from stratus.objectstore.errors import NotFound, TooLarge, Unavailable
from stratus.objectstore.node.protocol import NodeResponse
from stratus.objectstore.service.limits import MAX_FILE_SIZE
from stratus.objectstore.service.putter import put_object
from stratus.objectstore.service.quorum import Proxy, client_headers, close_body, count

QUOTA_MESSAGE = "Upload exceeds quota."

# What a copy takes from its source (with the user metadata, unless fresh).
_COPIED = ("content-type", "content-encoding", "content-disposition")


def is_user_meta(name: str) -> bool:
    return name.startswith("x-object-meta-")


class Objects:
    def __init__(self, proxy: Proxy, *, max_file_size: int = MAX_FILE_SIZE) -> None:
        self.proxy = proxy
        self.max_file_size = max_file_size

    async def container_info(self, account: str, container: str) -> NodeResponse:
        """The container's HEAD (cached briefly); 404 if it does not exist."""
        info = await self.proxy.info(account, container)
        if info.status == 404:
            raise NotFound()
        if info.status >= 300:
            raise Unavailable()
        if _has_quota(info):
            # Quotas need fresh counters.
            self.proxy.forget(account, container)
            info = await self.proxy.info(account, container)
        return info

    # -- reads -------------------------------------------------------------------------

    async def read(
        self,
        method: str,
        account: str,
        container: str,
        obj: str,
        headers: dict[str, str] | None = None,
    ) -> NodeResponse:
        """GET or HEAD; an expired object (X-Delete-At passed) is 404."""
        resp = await self.proxy.read(method, account, container, obj, headers=headers)
        if resp.status < 300 and _expired(resp.headers):
            await close_body(resp)
            return NodeResponse(404)
        if resp.status >= 300 and resp.status not in (304, 412, 416):
            await close_body(resp)
            return NodeResponse(resp.status)
        resp.headers = {**client_headers(resp.headers), **_length(resp.headers)}
        return resp

    # -- writes ------------------------------------------------------------------------

    async def put(
        self,
        account: str,
        container: str,
        obj: str,
        headers: dict[str, str],
        body: AsyncIterator[bytes],
        length: int | None,
        *,
        timestamp: Timestamp | None = None,
    ) -> NodeResponse:
        """201 with the ETag and Last-Modified; 422 on an ETag mismatch, 413
        past a quota or the size limit, 404 without the container.  The write
        is made at ``timestamp`` when given (a synced copy keeps its source's),
        else now."""
        info = await self.container_info(account, container)
        max_size = self._room(info, length)
        stamp = timestamp or Timestamp.now()
        targets = self.proxy.update_targets(account, container)
        base = {**headers, "x-timestamp": stamp.internal, "x-backend-storage-policy-index": "0"}
        if length is not None:
            base["content-length"] = str(length)
        resp = await put_object(
            self.proxy,
            account,
            container,
            obj,
            headers_for=lambda i: {**base, **targets(i)},
            body=body,
            expected_length=length,
            max_size=max_size,
        )
        if _has_quota(info):
            self.proxy.forget(account, container)
        if resp.status >= 300:
            return NodeResponse(resp.status)
        out = {"last-modified": stamp.http_date}
        if "etag" in resp.headers:
            out["etag"] = resp.headers["etag"].strip('"')
        return NodeResponse(201, out)

    def _room(self, info: NodeResponse, length: int | None) -> int:
        """The most bytes this upload may carry (the quotas and the size limit)."""
        if length is not None and length > self.max_file_size:
            raise TooLarge("Your request is too large.")
        room = self.max_file_size
        quota_count = info.headers.get("x-container-meta-quota-count")
        if quota_count is not None and quota_count.isdigit():
            if count(info.headers, "x-container-object-count") + 1 > int(quota_count):
                raise TooLarge(QUOTA_MESSAGE)
        quota_bytes = info.headers.get("x-container-meta-quota-bytes")
        if quota_bytes is not None and quota_bytes.isdigit():
            left = int(quota_bytes) - count(info.headers, "x-container-bytes-used")
            if left < 0 or (length is not None and length > left):
                raise TooLarge(QUOTA_MESSAGE)
            room = min(room, left)
        return room

    async def post(
        self, account: str, container: str, obj: str, headers: dict[str, str]
    ) -> NodeResponse:
        """202; the POST replaces the object's user metadata."""
        await self.container_info(account, container)
        stamp = Timestamp.now().internal
        # The listing's row takes the POST's time (and any new Content-Type),
        # as Swift's does: tell the nodes where it is.
        targets = self.proxy.update_targets(account, container)
        resp = await self.proxy.write(
            "POST",
            account,
            container,
            obj,
            headers_for=lambda i: {
                **headers,
                "x-timestamp": stamp,
                **targets(i),
            },
        )
        return NodeResponse(202 if resp.status < 300 else resp.status)

    async def delete(
        self,
        account: str,
        container: str,
        obj: str,
        *,
        if_delete_at: str | None = None,
        timestamp: Timestamp | None = None,
    ) -> NodeResponse:
        """204; with ``if_delete_at``, 412 unless the object expires then."""
        await self.container_info(account, container)
        stamp = (timestamp or Timestamp.now()).internal
        condition = {"x-if-delete-at": if_delete_at.strip()} if if_delete_at is not None else {}
        targets = self.proxy.update_targets(account, container)
        resp = await self.proxy.write(
            "DELETE",
            account,
            container,
            obj,
            headers_for=lambda i: {"x-timestamp": stamp, **targets(i), **condition},
        )
        self.proxy.forget(account, container)
        return NodeResponse(204 if resp.status < 300 else resp.status)

    async def copy(
        self,
        source: tuple[str, str, str],
        dest: tuple[str, str, str],
        headers: dict[str, str],
        *,
        fresh_metadata: bool = False,
    ) -> NodeResponse:
        """A server-side copy: the source's data and metadata, overlaid by
        ``headers``.  201 with X-Copied-From and its Last-Modified."""
        src = await self.read("GET", *source)
        if src.status != 200:
            return NodeResponse(src.status)
        new = {k: v for k, v in src.headers.items() if k in _COPIED}
        if not fresh_metadata:
            new.update((k, v) for k, v in src.headers.items() if is_user_meta(k))
        new.update(headers)
        if "etag" in src.headers:
            new["etag"] = src.headers["etag"].strip('"')
        length = count(src.headers, "content-length")
        body = src.body or _nothing()
        try:
            resp = await self.put(*dest, headers=new, body=body, length=length)
        finally:
            await close_body(src)
        if resp.status < 300:
            # Quoted, as Swift gives it: names are any UTF-8.
            resp.headers["x-copied-from"] = f"{quote(source[1])}/{quote(source[2])}"
            if "last-modified" in src.headers:
                resp.headers["x-copied-from-last-modified"] = src.headers["last-modified"]
            if source[0] != dest[0]:
                resp.headers["x-copied-from-account"] = quote(source[0])
        return resp


async def _nothing() -> AsyncIterator[bytes]:
    return
    yield b""  # pragma: no cover


def _has_quota(info: NodeResponse) -> bool:
    return (
        "x-container-meta-quota-bytes" in info.headers
        or "x-container-meta-quota-count" in info.headers
    )


def _expired(headers: dict[str, str]) -> bool:
    value = headers.get("x-delete-at")
    if not value:
        return False
    try:
        return int(value) <= time.time()
    except ValueError:
        return False


def _length(headers: dict[str, str]) -> dict[str, str]:
    """The node's Content-Length, which ``client_headers`` drops: the API
    needs it to frame the body."""
    value = headers.get("content-length")
    return {"content-length": value} if value is not None else {}
