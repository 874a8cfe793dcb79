"""The database agent's object store client cutting a backup into segments
and a static large object manifest, against a small in-memory stand-in of
the Swift API (the real object store is in tests/functional/database):
what a failed or killed attempt wrote is deleted."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from stratus.database.drivers.base import DriverError
from stratus.database.drivers.swift import SwiftStore

SEG = 64 * 1024


class Session:
    project_id = "svc"

    async def token(self) -> str:
        return "token"


class Swift:
    """Containers and objects of one account; a manifest's GET joins its segments."""

    def __init__(self, bad_etag: bool = False) -> None:
        self.objects: dict[str, bytes] = {}
        self.manifests: set[str] = set()
        self.containers: set[str] = set()
        self.bad_etag = bad_etag

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path.removeprefix("/v1/AUTH_svc/")
        container, _, name = path.partition("/")
        params = request.url.params
        if request.method == "PUT" and not name:
            self.containers.add(container)
            return httpx.Response(201)
        if request.method == "PUT" and params.get("multipart-manifest") == "put":
            entries = json.loads(request.content)
            for e in entries:
                assert hashlib.md5(self.objects[e["path"][1:]]).hexdigest() == e["etag"]
            self.objects[path] = json.dumps(entries).encode()
            self.manifests.add(path)
            return httpx.Response(201)
        if request.method == "PUT":
            self.objects[path] = request.content
            etag = "0" * 32 if self.bad_etag else hashlib.md5(request.content).hexdigest()
            return httpx.Response(201, headers={"etag": etag})
        if request.method == "GET" and not name:
            if container not in self.containers:
                return httpx.Response(404)
            prefix = f"{container}/{params.get('prefix', '')}"
            found = [{"name": k.partition("/")[2]} for k in sorted(self.objects)
                     if k.startswith(prefix)]  # fmt: skip
            return httpx.Response(200, json=found)
        if request.method == "DELETE" and params.get("multipart-manifest") == "delete":
            if path not in self.objects:
                return httpx.Response(404)
            if path not in self.manifests:
                return httpx.Response(400)
            for e in json.loads(self.objects.pop(path)):
                self.objects.pop(e["path"][1:], None)
            return httpx.Response(200, json={"Response Status": "200 OK", "Errors": []})
        if request.method == "DELETE":
            return httpx.Response(204 if self.objects.pop(path, None) is not None else 404)
        raise AssertionError(f"unexpected {request.method} {path}")

    def segments(self) -> list[str]:
        return sorted(k for k in self.objects if k.startswith("backups_segments/"))


def store(swift: Swift) -> SwiftStore:
    s = SwiftStore("http://objects/v1", Session(), SEG)  # type: ignore[arg-type]
    s.client = httpx.AsyncClient(transport=httpx.MockTransport(swift))
    return s


async def chunks(data: bytes, fail_at: int | None = None) -> AsyncIterator[bytes]:
    for at in range(0, len(data), 40 * 1024):
        if fail_at is not None and at >= fail_at:
            raise DriverError("pg_basebackup died")
        yield data[at : at + 40 * 1024]


DATA = bytes(range(256)) * (SEG * 3 // 256 + 100)  # 3 segments and a bit


async def test_a_backup_is_segments_and_a_manifest() -> None:
    swift = Swift()
    s = store(swift)
    size, digest = await s.put("backups", "b1.tar", chunks(DATA), segmented=True)
    assert (size, digest) == (len(DATA), hashlib.sha256(DATA).hexdigest())
    assert swift.segments() == [f"backups_segments/b1.tar/{n:08d}" for n in (1, 2, 3, 4)]
    entries: list[dict[str, Any]] = json.loads(swift.objects["backups/b1.tar"])
    assert [e["size_bytes"] for e in entries] == [SEG, SEG, SEG, len(DATA) - 3 * SEG]
    assert b"".join(swift.objects[e["path"][1:]] for e in entries) == DATA
    await s.delete("backups", "b1.tar")
    assert swift.objects == {}


async def test_a_failed_backup_leaves_no_segment() -> None:
    swift = Swift()
    s = store(swift)
    with pytest.raises(DriverError, match="died"):
        await s.put("backups", "b1.tar", chunks(DATA, fail_at=2 * SEG), segmented=True)
    assert swift.objects == {}
    swift = Swift(bad_etag=True)
    s = store(swift)
    with pytest.raises(DriverError, match="ETag"):
        await s.put("backups", "b1.tar", chunks(DATA), segmented=True)
    assert swift.objects == {}


async def test_what_a_killed_attempt_left_is_deleted() -> None:
    """A backup made again after a crash replaces the segments the killed
    attempt wrote (even past the new end); deleting a backup that never
    got its manifest deletes them too."""
    swift = Swift()
    swift.containers.add("backups_segments")
    for n in range(1, 7):
        swift.objects[f"backups_segments/b1.tar/{n:08d}"] = b"old"
    s = store(swift)
    await s.put("backups", "b1.tar", chunks(DATA), segmented=True)
    assert len(swift.segments()) == 4
    assert swift.objects["backups_segments/b1.tar/00000001"] == DATA[:SEG]
    swift.objects["backups_segments/b2.tar/00000001"] = b"old"
    await s.delete("backups", "b2.tar")
    assert swift.segments() == [f"backups_segments/b1.tar/{n:08d}" for n in (1, 2, 3, 4)]
