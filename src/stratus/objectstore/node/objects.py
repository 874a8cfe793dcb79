"""The object server: PUT, GET, HEAD, POST and DELETE of objects on a device.

Swift's backend semantics: ``X-Timestamp`` orders writes (a PUT, POST or
DELETE not newer than what is stored gets 409); a DELETE writes a tombstone
even when there is nothing to delete (and answers 404); an object whose
``X-Delete-At`` has passed is gone (404).  After a PUT or DELETE the container
replicas named by ``X-Container-*`` get the listing row (see
:mod:`.updates`).

Small bodies (up to ``SMALL``) are read whole and written, fsynced and
renamed into place in one hop to the thread pool; GETs of small objects read
the metadata and the bytes in one hop.  Larger bodies stream through in
``CHUNK`` pieces, reading the next while the previous one is written.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from stratus.objectstore.drivers.base import (
    POST_REPLACES,
    ObjectDevice,
    ObjectMetadata,
    ObjectReader,
    ObjectWriter,
)
from stratus.objectstore.drivers.timestamp import Timestamp
from stratus.objectstore.node import expiring
from stratus.objectstore.node import objectfiles as files
from stratus.objectstore.node.conditions import etag_list, evaluate, parse_range
from stratus.objectstore.node.protocol import NodeRequest, NodeResponse
from stratus.objectstore.node.replies import (
    NodeError,
    int_of,
    pick,
    policy_of,
    reply,
    timestamp_of,
)
from stratus.objectstore.node.updates import Target, Update, targets_from

if TYPE_CHECKING:
    from stratus.objectstore.node.context import NodeContext

# Headers a PUT keeps with the object (lower-case, matched by prefix).
PUT_KEEPS = (
    "x-object-meta-",
    "x-object-sysmeta-",
    "x-object-transient-sysmeta-",
    "content-disposition",
    "content-encoding",
    "content-language",
    "cache-control",
    "expires",
    "x-delete-at",
    "x-object-manifest",
    "x-static-large-object",
    "x-robots-tag",
)
OVERRIDE = "x-backend-container-update-override-"
STORED_OVERRIDE = "x-object-sysmeta-container-update-override-"


class ObjectServer:
    def __init__(self, node: NodeContext) -> None:
        self.node = node

    async def handle(self, req: NodeRequest, root: str) -> NodeResponse:
        method = req.method
        if method in ("GET", "HEAD"):
            return await self.get(req, method == "HEAD")
        if method == "PUT":
            return await self.put(req, root)
        if method == "DELETE":
            return await self.delete(req, root)
        if method == "POST":
            return await self.post(req, root)
        raise NodeError(405, f"{method} not allowed", {"allow": "GET, HEAD, PUT, POST, DELETE"})

    def _locate(self, req: NodeRequest) -> tuple[str, str, int]:
        assert req.container is not None and req.obj is not None
        name = f"/{req.account}/{req.container}/{req.obj}"
        return name, self.node.hash(req.account, req.container, req.obj), policy_of(req.headers)

    # -- PUT -------------------------------------------------------------------

    async def put(self, req: NodeRequest, root: str) -> NodeResponse:
        headers = req.headers
        ts = timestamp_of(headers)
        name, name_hash, policy = self._locate(req)
        targets = targets_from(headers, "container")
        length = int_of(headers, "content-length", -1)
        size = None if length < 0 else length
        _check_delete_at(headers)
        expected = etag_list(headers["etag"])[0].lower() if headers.get("etag") else None
        content_type = headers.get("content-type") or "application/octet-stream"
        keep = pick(headers, PUT_KEEPS)
        dev = self.node.object_device(req.device, policy)
        if_none_match = "*" in etag_list(headers.get("if-none-match", ""))
        args = (dev, req.partition, name_hash, ts, if_none_match)
        commit = (name, ts, content_type, keep, expected)
        if size is not None and size <= files.SMALL:
            data = await _read_body(req.body, size)
            meta = await self.node.run(files.put_whole, args, data, commit)
        else:
            writer = await self.node.run(files.open_writer, args, size)
            meta = await self._stream_in(writer, req.body, size, commit)
        if "x-delete-at" in keep:
            at = int(keep["x-delete-at"])
            await self.node.run(expiring.add, root, name, name_hash, req.partition, policy, at)
        await self._update_container(req, targets, root, name_hash, ts, policy, meta)
        return reply(201, {"etag": meta.etag, "x-timestamp": ts.internal})

    async def _stream_in(
        self,
        writer: ObjectWriter,
        body: AsyncIterator[bytes] | None,
        size: int | None,
        commit: tuple[Any, ...],
    ) -> ObjectMetadata:
        run = self.node.run
        pending: asyncio.Future[None] | None = None
        parts: list[bytes] = []
        buffered = received = 0
        try:
            if body is not None:
                async for chunk in body:
                    received += len(chunk)
                    if size is not None and received > size:
                        raise NodeError(400, "Body longer than Content-Length")
                    parts.append(chunk)
                    buffered += len(chunk)
                    if buffered >= files.CHUNK:
                        data = b"".join(parts)
                        parts, buffered = [], 0
                        if pending is not None:
                            await pending
                        pending = asyncio.ensure_future(run(writer.write, data))
            if size is not None and received < size:
                raise NodeError(499, "Body shorter than Content-Length")
            if pending is not None:
                await pending
                pending = None
            return await run(files.finish, writer, b"".join(parts), commit)
        except BaseException:
            if pending is not None:
                await asyncio.gather(pending, return_exceptions=True)
            await run(writer.abort)
            raise

    async def _update_container(
        self,
        req: NodeRequest,
        targets: list[Target],
        root: str,
        name_hash: str,
        ts: Timestamp,
        policy: int,
        meta: ObjectMetadata | None,
    ) -> None:
        if not targets:
            return
        assert req.container is not None
        headers = {"x-timestamp": ts.internal, "x-backend-storage-policy-index": str(policy)}
        if meta is not None:
            stored = meta.headers
            for field, value in (
                ("etag", meta.etag),
                ("size", str(meta.content_length)),
                ("content-type", meta.content_type),
            ):
                value = req.headers.get(
                    OVERRIDE + field, stored.get(STORED_OVERRIDE + field, value)
                )
                headers["x-" + field] = value
        method = "DELETE" if meta is None else "PUT"
        update = Update(
            "container", method, req.account, req.container, req.obj, headers, ts.internal, targets
        )
        await self.node.updater.send(root, name_hash, update)

    # -- GET and HEAD ------------------------------------------------------------

    async def get(self, req: NodeRequest, head: bool) -> NodeResponse:
        _, name_hash, policy = self._locate(req)
        dev = self.node.object_device(req.device, policy)
        reader, data = await self.node.run(
            files.open_object, dev, req.partition, name_hash, not head
        )
        streaming = False
        try:
            meta = reader.metadata
            headers = _object_headers(meta)
            etag_at = req.headers.get("x-backend-etag-is-at")
            etag = meta.headers.get(etag_at, meta.etag) if etag_at else meta.etag
            last_modified = -(-(meta.meta_timestamp or meta.timestamp).ticks // 100_000)
            status = evaluate(req.headers, etag, last_modified)
            if status:
                del headers["content-length"]
                return reply(status, headers) if status == 412 else NodeResponse(304, headers)
            if head:
                return NodeResponse(200, headers)
            spans = None
            if "range" in req.headers:
                spans = parse_range(req.headers["range"], meta.content_length)
                if spans == []:
                    headers = {"content-range": f"bytes */{meta.content_length}"}
                    return reply(416, headers, b"Requested range not satisfiable")
            streaming = data is None
            if spans is None:
                if data is not None:
                    return NodeResponse(200, headers, _once(data))
                return NodeResponse(
                    200, headers, self._stream_out(reader, [(0, meta.content_length)])
                )
            if len(spans) > 1:
                return self._multipart(reader, data, headers, spans)
            start, end = spans[0]
            headers["content-length"] = str(end - start)
            headers["content-range"] = f"bytes {start}-{end - 1}/{meta.content_length}"
            if data is not None:
                return NodeResponse(206, headers, _once(data[start:end]))
            return NodeResponse(206, headers, self._stream_out(reader, spans))
        finally:
            if not streaming:
                reader.close()

    def _multipart(
        self,
        reader: ObjectReader,
        data: bytes | None,
        headers: dict[str, str],
        spans: list[tuple[int, int]],
    ) -> NodeResponse:
        boundary = uuid.uuid4().hex
        size = reader.metadata.content_length
        heads = [
            (
                f"--{boundary}\r\nContent-Type: {headers['content-type']}\r\n"
                f"Content-Range: bytes {s}-{e - 1}/{size}\r\n\r\n"
            ).encode()
            for s, e in spans
        ]
        tail = f"--{boundary}--".encode()
        total = sum(len(h) + (e - s) + 2 for h, (s, e) in zip(heads, spans, strict=True))
        headers["content-length"] = str(total + len(tail))
        headers["content-type"] = f"multipart/byteranges;boundary={boundary}"

        async def parts() -> AsyncIterator[bytes]:
            try:
                for head, (start, end) in zip(heads, spans, strict=True):
                    yield head
                    if data is not None:
                        yield data[start:end]
                    else:
                        async for chunk in self._read_span(reader, start, end):
                            yield chunk
                    yield b"\r\n"
                yield tail
            finally:
                if data is None:
                    reader.close()

        return NodeResponse(206, headers, parts())

    async def _stream_out(
        self, reader: ObjectReader, spans: list[tuple[int, int]]
    ) -> AsyncIterator[bytes]:
        try:
            for start, end in spans:
                async for chunk in self._read_span(reader, start, end):
                    yield chunk
        finally:
            reader.close()

    async def _read_span(self, reader: ObjectReader, start: int, end: int) -> AsyncIterator[bytes]:
        """The bytes, reading the next chunk while the last one is sent."""
        pos = start
        nxt: asyncio.Future[bytes] | None = None
        try:
            while pos < end:
                if nxt is None:
                    nxt = asyncio.ensure_future(self.node.run(files.pread, reader, pos, end))
                chunk = await nxt
                nxt = None
                pos += len(chunk)
                if pos < end:
                    nxt = asyncio.ensure_future(self.node.run(files.pread, reader, pos, end))
                yield chunk
        finally:
            if nxt is not None:
                await asyncio.gather(nxt, return_exceptions=True)

    # -- DELETE and POST ---------------------------------------------------------

    async def delete(self, req: NodeRequest, root: str) -> NodeResponse:
        ts = timestamp_of(req.headers)
        name, name_hash, policy = self._locate(req)
        targets = targets_from(req.headers, "container")
        dev = self.node.object_device(req.device, policy)
        if_delete_at = req.headers.get("x-if-delete-at")
        existed = await self.node.run(
            files.delete_object, dev, req.partition, name_hash, name, ts, if_delete_at
        )
        await self._update_container(req, targets, root, name_hash, ts, policy, None)
        return reply(204 if existed else 404, {"x-timestamp": ts.internal})

    async def post(self, req: NodeRequest, root: str) -> NodeResponse:
        ts = timestamp_of(req.headers)
        name, name_hash, policy = self._locate(req)
        _check_delete_at(req.headers)
        dev = self.node.object_device(req.device, policy)
        headers = pick(req.headers, POST_REPLACES)
        content_type = req.headers.get("content-type", "")
        await self.node.run(
            files.post_object, dev, req.partition, name_hash, name, ts, headers, content_type
        )
        if headers.get("x-delete-at"):
            at = int(headers["x-delete-at"])
            await self.node.run(expiring.add, root, name, name_hash, req.partition, policy, at)
        targets = targets_from(req.headers, "container")
        if targets:
            # The listing's row takes the POST's time (and a new content
            # type), as Swift's does: its last_modified is the metadata's,
            # and container sync sees the change as a new row to send.
            meta = await self.node.run(_metadata, dev, req.partition, name_hash)
            await self._update_container(req, targets, root, name_hash, ts, policy, meta)
        return reply(202, {"x-timestamp": ts.internal})


# -- helpers ---------------------------------------------------------------------


async def _read_body(body: AsyncIterator[bytes] | None, size: int) -> bytes:
    if body is None:
        data = b""
    else:
        chunks = [chunk async for chunk in body]
        data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    if len(data) < size:
        raise NodeError(499, "Body shorter than Content-Length")
    if len(data) > size:
        raise NodeError(400, "Body longer than Content-Length")
    return data


def _metadata(dev: ObjectDevice, partition: int, name_hash: str) -> ObjectMetadata:
    reader, _ = files.open_object(dev, partition, name_hash, False)
    try:
        return reader.metadata
    finally:
        reader.close()


async def _once(data: bytes) -> AsyncIterator[bytes]:
    if data:
        yield data


def _check_delete_at(headers: dict[str, str]) -> None:
    value = headers.get("x-delete-at")
    if value is None:
        return
    try:
        when = int(value)
    except ValueError:
        raise NodeError(400, "Non-integer X-Delete-At") from None
    if when <= time.time() and "x-backend-replication" not in headers:
        raise NodeError(400, "X-Delete-At in past")


def _object_headers(meta: ObjectMetadata) -> dict[str, str]:
    ts = meta.meta_timestamp or meta.timestamp
    headers = {
        "content-type": meta.content_type,
        "content-length": str(meta.content_length),
        "etag": meta.etag,
        "x-timestamp": ts.internal,
        "x-backend-timestamp": ts.internal,
        "x-backend-data-timestamp": meta.timestamp.internal,
        "last-modified": ts.http_date,
        "accept-ranges": "bytes",
    }
    headers.update(meta.headers)
    return headers
