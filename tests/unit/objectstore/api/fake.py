"""An in-memory NodeClient for the proxy's tests: every device keeps its own
accounts, containers and objects; ``down`` holds unreachable ``(ip, port)``s."""

from __future__ import annotations

import hashlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from stratus.objectstore.drivers.timestamp import Timestamp
from stratus.objectstore.node.protocol import NodeRequest, NodeResponse, NodeUnavailable

_KEPT = ("x-container-read", "x-container-write", "x-versions-location", "x-history-location")


@dataclass
class Stored:
    data: bytes
    headers: dict[str, str]


@dataclass
class Db:
    headers: dict[str, str] = field(default_factory=dict)
    objects: dict[str, tuple[int, str, str, str]] = field(
        default_factory=dict
    )  # size, etag, type, ts


async def _chunks(data: bytes) -> AsyncIterator[bytes]:
    for i in range(0, len(data), 1000):
        yield data[i : i + 1000]


class FakeNodes:
    def __init__(self) -> None:
        self.down: set[tuple[str, int]] = set()
        self.fail_mid_stream: set[tuple[str, int]] = set()
        self.objects: dict[tuple[str, str], Stored] = {}  # (device key, path)
        self.dbs: dict[tuple[str, str], Db] = {}
        self.requests: list[tuple[str, str, NodeRequest]] = []

    async def request(self, ip: str, port: int, req: NodeRequest) -> NodeResponse:
        dev = f"{ip}:{port}/{req.device}"
        self.requests.append((req.method, dev, req))
        if (ip, port) in self.down:
            raise NodeUnavailable(dev)
        if req.obj is not None:
            return await self._object(dev, (ip, port), req)
        return self._db(dev, req)

    # -- databases -------------------------------------------------------------------

    def _db(self, dev: str, req: NodeRequest) -> NodeResponse:
        path = f"{req.account}/{req.container or ''}"
        db = self.dbs.get((dev, path))
        kind = "container" if req.container is not None else "account"
        if req.method == "PUT":
            if db is None:
                self.dbs[(dev, path)] = Db(self._meta(req, kind))
                return NodeResponse(201)
            db.headers.update(self._meta(req, kind))
            return NodeResponse(202)
        if db is None:
            return NodeResponse(404)
        if req.method == "POST":
            db.headers.update(self._meta(req, kind))
            return NodeResponse(204)
        if req.method == "DELETE":
            if self.listing(req.account, req.container):
                return NodeResponse(409)
            del self.dbs[(dev, path)]
            return NodeResponse(204)
        headers = {k: v for k, v in db.headers.items() if v}
        headers["x-timestamp"] = "1700000000.00000"
        if kind == "container":
            entries = self.listing(req.account, req.container)
            headers["x-container-object-count"] = str(len(entries))
            headers["x-container-bytes-used"] = str(sum(e["bytes"] for e in entries))
        else:
            names = sorted(
                p.split("/", 1)[1]
                for (_d, p) in self.dbs
                if p.startswith(req.account + "/") and p != req.account + "/"
            )
            entries = [{"name": n, "count": 0, "bytes": 0} for n in dict.fromkeys(names)]
            headers["x-account-container-count"] = str(len(entries))
        if req.method == "HEAD":
            return NodeResponse(204, headers)
        marker = req.query.get("marker", "")
        prefix = req.query.get("prefix", "")
        entries = [e for e in entries if e["name"] > marker and e["name"].startswith(prefix)]
        delimiter = req.query.get("delimiter", "")
        if delimiter:
            # Names with the delimiter past the prefix roll up into one subdir each.
            rolled: dict[str, dict[str, Any]] = {}
            for e in entries:
                head, found, _rest = e["name"][len(prefix) :].partition(delimiter)
                key = prefix + head + found if found else e["name"]
                rolled.setdefault(key, {"subdir": key} if found else e)
            entries = list(rolled.values())
        entries = entries[: int(req.query.get("limit", "10000"))]
        return NodeResponse(200, headers, _chunks(orjson.dumps(entries)))

    @staticmethod
    def _meta(req: NodeRequest, kind: str) -> dict[str, str]:
        return {
            k: v
            for k, v in req.headers.items()
            if k.startswith((f"x-{kind}-meta-", f"x-{kind}-sysmeta-", *_KEPT))
        }

    def listing(self, account: str, container: str | None) -> list[dict[str, object]]:
        seen: dict[str, dict[str, object]] = {}
        prefix = f"{account}/{container}/"
        for (_dev, path), obj in sorted(self.objects.items(), key=lambda i: i[0][1]):
            if path.startswith(prefix):
                name = path[len(prefix) :]
                # As the object node's container update: the overrides a
                # layer stored win (SLO sizes, symlink targets).
                seen[name] = {
                    "name": name,
                    "hash": obj.headers.get(_OVERRIDE + "etag", obj.headers["etag"]),
                    "bytes": len(obj.data),
                    "content_type": obj.headers.get("content-type", ""),
                    "last_modified": "2023-11-14T22:13:20.000000",
                }
        return list(seen.values())

    # -- objects ---------------------------------------------------------------------

    async def _object(self, dev: str, where: tuple[str, int], req: NodeRequest) -> NodeResponse:
        path = f"{req.account}/{req.container}/{req.obj}"
        key = (dev, path)
        if req.method == "PUT":
            md5 = hashlib.md5()
            data = bytearray()
            assert req.body is not None
            async for chunk in req.body:
                if where in self.fail_mid_stream and data:
                    raise NodeUnavailable("died mid-stream")
                md5.update(chunk)
                data += chunk
            etag = md5.hexdigest()
            if req.headers.get("etag", etag) != etag:
                return NodeResponse(422)
            headers = {
                k: v for k, v in req.headers.items() if not k.startswith(("x-container-", "x-b"))
            }
            headers["etag"] = etag
            self.objects[key] = Stored(bytes(data), headers)
            return NodeResponse(201, {"etag": etag})
        stored = self.objects.get(key)
        if stored is None:
            return NodeResponse(404)
        if req.method == "DELETE":
            del self.objects[key]
            return NodeResponse(204)
        if req.method == "POST":
            kept = {k: v for k, v in stored.headers.items() if not k.startswith("x-object-meta-")}
            kept.update(req.headers)
            stored.headers = kept
            return NodeResponse(202)
        headers = {k: v for k, v in stored.headers.items() if v and k != "content-length"}
        headers["content-length"] = str(len(stored.data))
        headers["last-modified"] = Timestamp(headers["x-timestamp"]).http_date
        body = _chunks(stored.data) if req.method == "GET" else None
        return NodeResponse(200, headers, body)


_OVERRIDE = "x-object-sysmeta-container-update-override-"


def now() -> float:
    return time.time()
