"""The node's side of replication: what replicators of other nodes ask for.

Requests carry ``X-Backend-Replicate: <op>`` (any method; the clients send
POST, since HTTP parsers refuse Swift's ``REPLICATE`` verb, and an in-process
``REPLICATE`` request works too).  Objects:

- ``hashes`` on ``/<dev>/<part>/objects``: the partition's suffix hashes,
  msgpack ``{suffix: md5}``; ``?recalculate=abc,def`` rehashes those first.
- ``list`` on ``/<dev>/<part>/objects?suffixes=abc,def``: the files that count
  in each object folder of those suffixes, ``{suffix: {hash: [file, ...]}}``.
- ``sync`` on ``/<dev>/<part>/<account>/<container>/<object>``: one object
  file, named by ``X-Backend-Sync-File`` (``<timestamp>.<ext>``), with its
  metadata as JSON in ``X-Backend-Sync-Metadata`` and, for ``.data``, the
  bytes as the body.  The body's MD5 must match the metadata's ETag (422
  otherwise), so a corrupted copy never spreads.  The file is stored as the
  sender had it: same timestamp, same metadata.

Databases (``/<dev>/<part>/containers/<hash>`` or ``accounts``) are in
:mod:`.dbsync`.  The policy is ``X-Backend-Storage-Policy-Index``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import msgpack
import orjson

from stratus.objectstore.drivers.base import ObjectMetadata, ObjectWriter
from stratus.objectstore.drivers.hashes import parse_name
from stratus.objectstore.drivers.timestamp import Timestamp
from stratus.objectstore.node import expiring
from stratus.objectstore.node.dbsync import DatabaseSync
from stratus.objectstore.node.protocol import NodeRequest, NodeResponse
from stratus.objectstore.node.replies import NodeError, policy_of, reply

if TYPE_CHECKING:
    from stratus.objectstore.node.context import NodeContext

OP = "x-backend-replicate"
SYNC_FILE = "x-backend-sync-file"
SYNC_METADATA = "x-backend-sync-metadata"
MSGPACK = "application/x-msgpack"
CHUNK = 1 << 20


def metadata_to_header(meta: ObjectMetadata) -> str:
    return orjson.dumps(
        {
            "name": meta.name,
            "timestamp": meta.timestamp.internal,
            "content_length": meta.content_length,
            "etag": meta.etag,
            "content_type": meta.content_type,
            "headers": meta.headers,
        }
    ).decode()


def metadata_from_header(value: str) -> ObjectMetadata:
    try:
        d = orjson.loads(value)
        meta = ObjectMetadata(
            str(d["name"]),
            Timestamp(d["timestamp"]),
            int(d["content_length"]),
            str(d["etag"]),
            str(d["content_type"]),
            {str(k): str(v) for k, v in d["headers"].items()},
        )
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
        raise NodeError(400, f"Bad {SYNC_METADATA}") from None
    return meta


def _split(value: str | None) -> list[str]:
    return [s for s in (value or "").split(",") if s]


class Replication:
    """Answers replication requests for one node."""

    def __init__(self, node: NodeContext) -> None:
        self.node = node
        self.databases = DatabaseSync(node)

    async def handle(self, req: NodeRequest, root: str) -> NodeResponse:
        op = req.headers.get(OP) or "hashes"
        if req.account in ("containers", "accounts") and req.obj is None:
            return await self.databases.handle(req, root, op)
        if op == "sync" and req.obj is not None:
            return await self.sync(req, root)
        if req.account != "objects" or req.container is not None:
            raise NodeError(400, f"Bad path for replication op {op!r}")
        dev = self.node.object_device(req.device, policy_of(req.headers))
        if op == "hashes":
            recalc = _split(req.query.get("recalculate"))
            hashes = await self.node.run(dev.suffix_hashes, req.partition, recalc or False)
            return _packed(hashes)
        if op == "list":
            suffixes = _split(req.query.get("suffixes"))
            listing = await self.node.run(dev.list_files, req.partition, suffixes)
            return _packed(listing)
        raise NodeError(400, f"Unknown replication op {op!r}")

    async def sync(self, req: NodeRequest, root: str) -> NodeResponse:
        """Store one object file pushed by another node's replicator."""
        assert req.container is not None and req.obj is not None
        filename = req.headers.get(SYNC_FILE, "")
        try:
            ts, ext = parse_name(filename)
        except ValueError:
            raise NodeError(400, f"Bad {SYNC_FILE}") from None
        meta = metadata_from_header(req.headers.get(SYNC_METADATA, ""))
        name = f"/{req.account}/{req.container}/{req.obj}"
        if meta.name != name or meta.timestamp != ts:
            raise NodeError(400, "The metadata does not match the path or the file name")
        name_hash = self.node.hash(req.account, req.container, req.obj)
        dev = self.node.object_device(req.device, policy_of(req.headers))
        part = req.partition
        if await self.node.run(dev.has_file, part, name_hash, filename):
            await _drain(req.body)
            return reply(202)
        if ext == ".ts":
            await _drain(req.body)
            await self.node.run(dev.delete, part, name_hash, name, ts)
        elif ext == ".meta":
            await _drain(req.body)
            await self.node.run(
                dev.post, part, name_hash, name, ts, meta.headers, meta.content_type
            )
        else:
            writer = await self.node.run(dev.writer, part, name_hash, meta.content_length)
            await self._receive(writer, req.body, meta)
            delete_at = _delete_at(meta)
            if delete_at is not None:
                policy = policy_of(req.headers)
                await self.node.run(expiring.add, root, name, name_hash, part, policy, delete_at)
        return reply(201)

    async def _receive(
        self, writer: ObjectWriter, body: AsyncIterator[bytes] | None, meta: ObjectMetadata
    ) -> None:
        run = self.node.run
        try:
            parts: list[bytes] = []
            buffered = 0
            if body is not None:
                async for chunk in body:
                    parts.append(chunk)
                    buffered += len(chunk)
                    if buffered >= CHUNK:
                        await run(writer.write, b"".join(parts))
                        parts, buffered = [], 0
            if parts:
                await run(writer.write, b"".join(parts))
            if writer.bytes_written != meta.content_length:
                raise NodeError(400, "The body's length differs from the metadata's")
            if writer.etag != meta.etag:
                raise NodeError(422, "The body's MD5 differs from the metadata's ETag")
            await run(writer.commit, meta.name, meta.timestamp, meta.content_type, meta.headers)
        finally:
            await run(writer.abort)


def _delete_at(meta: ObjectMetadata) -> int | None:
    try:
        return meta.delete_at
    except ValueError:
        return None


def _packed(data: Any) -> NodeResponse:
    return reply(200, {"content-type": MSGPACK}, msgpack.packb(data, use_bin_type=True))


async def _drain(body: AsyncIterator[bytes] | None) -> None:
    if body is not None:
        async for _ in body:
            pass
