"""Static large objects, as Swift's ``slo`` middleware.

``PUT ?multipart-manifest=put`` takes a JSON list of segments (``path``,
``etag``, ``size_bytes``, optional ``range``), checks each against the
segment's HEAD, and stores the manifest (Swift's stored form: ``name``,
``hash``, ``bytes``, ``range``, ``sub_slo``) with ``X-Static-Large-Object``.
The large object's ETag is the MD5 of the segments' ETags (``etag:range;``
for ranged ones) and its length the sum of the segments'; both are kept as
sysmeta and given to the container listing as overrides.  GET streams the
segments; ``?multipart-manifest=get`` answers the manifest itself.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from stratus.objectstore.api.ranges import parse_range
from stratus.objectstore.errors import (
    REASONS,
    BadRequest,
    SwiftError,
    TooLarge,
    Unavailable,
    Unprocessable,
)
from stratus.objectstore.layers.segments import Segment, trim
from stratus.objectstore.node.protocol import NodeResponse
from stratus.objectstore.service import ObjectStoreService
from stratus.objectstore.service.quorum import close_body, iterate

MAX_SEGMENTS = 1000
MAX_MANIFEST_SIZE = 8 * 1024 * 1024
MIN_SEGMENT_SIZE = 1
MAX_DEPTH = 10
SLO_ETAG = "x-object-sysmeta-slo-etag"
SLO_SIZE = "x-object-sysmeta-slo-size"
OVERRIDE = "x-backend-container-update-override-"
STORED_OVERRIDE = "x-object-sysmeta-container-update-override-"
RESERVED = (
    "X-Static-Large-Object is a reserved header. To create a static large object "
    "add query param multipart-manifest=put."
)
_HEADS = 10  # segment HEADs at once
Check = Callable[[str], Awaitable[None]]  # raises unless the caller may read that container


def is_slo(headers: dict[str, str]) -> bool:
    return headers.get("x-static-large-object", "").strip().lower() in ("true", "1", "yes", "on")


def quoted(etag: str) -> str:
    return f'"{etag}"'


def split_path(path: Any) -> tuple[str, str] | None:
    if not isinstance(path, str):
        return None
    container, _, obj = path.lstrip("/").partition("/")
    return (container, obj) if container and obj else None


def _parse(data: bytes) -> list[dict[str, Any]]:
    try:
        items = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise BadRequest("Manifest must be valid JSON.\n") from exc
    if not isinstance(items, list):
        raise BadRequest("Manifest must be a list.\n")
    if len(items) > MAX_SEGMENTS:
        raise TooLarge(f"Too many segments; max {MAX_SEGMENTS}")
    allowed = {"path", "etag", "size_bytes", "range"}
    for i, item in enumerate(items):
        if not isinstance(item, dict) or "path" not in item:
            raise BadRequest(f"Index {i}: expected keys to include path\n")
        extra = set(item) - allowed
        if extra:
            raise BadRequest(f"Index {i}: extraneous keys {', '.join(sorted(extra))}\n")
        if split_path(item["path"]) is None:
            raise BadRequest(
                f"Index {i}: path does not refer to an object. Path must be of the form "
                "/container/object.\n"
            )
        size = item.get("size_bytes")
        if size is not None and (not isinstance(size, int) or isinstance(size, bool)):
            raise BadRequest(f"Index {i}: invalid size_bytes\n")
        etag = item.get("etag")
        if etag is not None and not isinstance(etag, str):
            raise BadRequest(f"Index {i}: invalid etag\n")
        if "range" in item and not isinstance(item["range"], str):
            raise BadRequest(f"Index {i}: invalid range\n")
    return items


def slo_etag(entries: list[dict[str, Any]]) -> str:
    md5 = hashlib.md5(usedforsecurity=False)
    for e in entries:
        if e.get("range"):
            md5.update(f"{e['hash']}:{e['range']};".encode())
        else:
            md5.update(str(e["hash"]).encode())
    return md5.hexdigest()


def entry_size(entry: dict[str, Any]) -> int:
    span = entry.get("range")
    if span:
        first, _, last = str(span).partition("-")
        return int(last) - int(first) + 1
    return int(entry["bytes"])


async def build_manifest(
    service: ObjectStoreService, account: str, body: bytes, may_read: Check
) -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
    """The stored manifest of a manifest PUT's body, and its problems."""
    items = _parse(body)
    for container in {(split_path(i["path"]) or ("", ""))[0] for i in items}:
        await may_read(container)
    problems: list[tuple[str, str]] = []
    gate = asyncio.Semaphore(_HEADS)

    async def check(item: dict[str, Any]) -> dict[str, Any] | None:
        container, obj = split_path(item["path"]) or ("", "")
        path = f"/{container}/{obj}"
        async with gate:
            head = await service.objects.read("HEAD", account, container, obj)
        if head.status >= 300:
            problems.append((path, f"{head.status} {_reason(head.status)}"))
            return None
        sub = is_slo(head.headers)
        etag = head.headers.get(SLO_ETAG, "") if sub else head.headers.get("etag", "")
        etag = etag.strip('"')
        size = int(head.headers.get(SLO_SIZE if sub else "content-length", "0") or 0)
        if item.get("etag") and str(item["etag"]).strip('"').lower() != etag:
            problems.append((path, "Etag Mismatch"))
        if item.get("size_bytes") is not None and item["size_bytes"] != size:
            problems.append((path, "Size Mismatch"))
        entry: dict[str, Any] = {
            "name": path,
            "bytes": size,
            "hash": etag,
            "content_type": head.headers.get("content-type", "application/octet-stream"),
            "last_modified": head.headers.get("last-modified", ""),
        }
        if sub:
            entry["sub_slo"] = True
        if item.get("range"):
            try:
                span = parse_range(f"bytes={item['range']}", size)
            except SwiftError:
                problems.append((path, "Unsatisfiable Range"))
                return entry
            if span is None:
                problems.append((path, "Invalid Range"))
                return entry
            if span != (0, size - 1):
                entry["range"] = f"{span[0]}-{span[1]}"
        if entry_size(entry) < MIN_SEGMENT_SIZE:
            problems.append((path, "Too small; each segment must be at least 1 byte."))
        return entry

    entries = await asyncio.gather(*(check(item) for item in items))
    return [e for e in entries if e is not None], problems


async def put(
    service: ObjectStoreService,
    account: str,
    container: str,
    obj: str,
    headers: dict[str, str],
    body: bytes,
    may_read: Check,
) -> NodeResponse:
    """Store the manifest; 201 with the large object's quoted ETag."""
    entries, problems = await build_manifest(service, account, body, may_read)
    if problems:
        text = "Errors:\n" + "\n".join(f"{p}, {r}" for p, r in problems)
        raise BadRequest(text)
    etag = slo_etag(entries)
    total = sum(entry_size(e) for e in entries)
    wanted = headers.pop("etag", None)
    if wanted and wanted.strip('"').lower() != etag:
        raise Unprocessable()
    data = orjson.dumps(entries)
    listing_etag = f"{hashlib.md5(data, usedforsecurity=False).hexdigest()}; slo_etag={etag}"
    stored = {
        **headers,
        "x-static-large-object": "True",
        SLO_ETAG: etag,
        SLO_SIZE: str(total),
        OVERRIDE + "etag": listing_etag,
        OVERRIDE + "size": str(total),
        STORED_OVERRIDE + "etag": listing_etag,
        STORED_OVERRIDE + "size": str(total),
    }
    resp = await service.objects.put(account, container, obj, stored, iterate(data), len(data))
    if resp.status < 300:
        resp.headers["etag"] = quoted(etag)
    return resp


async def read_manifest(resp: NodeResponse) -> list[dict[str, Any]]:
    """The manifest entries of a GET of the manifest object."""
    if resp.body is None:
        return []
    data = b""
    async for chunk in resp.body:
        data += chunk
        if len(data) > MAX_MANIFEST_SIZE * 2:
            await close_body(resp)
            raise Unavailable()
    try:
        entries = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise Unavailable() from exc
    return entries if isinstance(entries, list) else []


async def plan(
    service: ObjectStoreService, account: str, entries: list[dict[str, Any]], depth: int = 0
) -> list[Segment]:
    """The segments of a manifest, sub-manifests expanded."""
    out: list[Segment] = []
    for e in entries:
        container, obj = split_path(e.get("name")) or ("", "")
        first, last = 0, int(e.get("bytes", 0)) - 1
        if e.get("range"):
            a, _, b = str(e["range"]).partition("-")
            first, last = int(a), int(b)
        if not e.get("sub_slo"):
            out.append(Segment(container, obj, first, last, str(e.get("hash") or "") or None))
            continue
        if depth >= MAX_DEPTH:
            raise Unavailable()
        sub = await service.objects.read("GET", account, container, obj)
        if sub.status != 200 or not is_slo(sub.headers):
            await close_body(sub)
            raise Unavailable()
        inner = await plan(service, account, await read_manifest(sub), depth + 1)
        out.extend(trim(inner, first, last))
    return out


def client_view(headers: dict[str, str]) -> dict[str, str]:
    """A manifest's headers as the large object's: its ETag and length."""
    out = dict(headers)
    if SLO_ETAG in headers:
        out["etag"] = quoted(headers[SLO_ETAG])
    if SLO_SIZE in headers:
        out["content-length"] = headers[SLO_SIZE]
    return out


def _reason(status: int) -> str:
    return REASONS.get(status, ("", ""))[0]
