"""A static large object's manifest, as Swift's ``slo`` middleware keeps
it: the segments a PUT names checked and stored (``build_manifest``), the
large object's ETag, a stored manifest read back and planned into the
segments a GET streams (sub-manifests expanded)."""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
from typing import Any

import orjson

from stratus.common.ranges import parse_ranges
from stratus.objectstore.errors import REASONS, BadRequest, TooLarge, Unavailable
from stratus.objectstore.layers.access import READ_ACL
from stratus.objectstore.layers.segments import Segment, trim
from stratus.objectstore.service.interface import Caller, Headers, ObjectStore, Reply
from stratus.objectstore.service.quorum import close_body

SLO_ETAG = "x-object-sysmeta-slo-etag"
SLO_SIZE = "x-object-sysmeta-slo-size"
MAX_SEGMENTS = 1000
MAX_MANIFEST_SIZE = 8 * 1024 * 1024
MIN_SEGMENT_SIZE = 1
MAX_DEPTH = 10
_HEADS = 10  # segment HEADs at once
RAW_MANIFEST = {"multipart-manifest": "get"}  # a manifest as stored, not its large object


def is_slo(headers: Headers) -> bool:
    return headers.get("x-static-large-object", "").strip().lower() in ("true", "1", "yes", "on")


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
        if isinstance(item, dict) and "data" in item and "path" not in item:
            _inline(item, i)
            continue
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


def _inline(item: dict[str, Any], i: int) -> bytes:
    """An inline data segment's bytes (``{"data": "<base64>"}``, Swift 2.17)."""
    extra = set(item) - {"data"}
    if extra:
        raise BadRequest(f"Index {i}: extraneous keys {', '.join(sorted(extra))}\n")
    try:
        data = base64.b64decode(item["data"], validate=True)
    except (binascii.Error, TypeError, ValueError) as exc:
        raise BadRequest(f"Index {i}: Invalid base64 data\n") from exc
    if not data:
        raise BadRequest(f"Index {i}: Too small; each segment must be at least 1 byte.\n")
    return data


def _data_entry(item: dict[str, Any]) -> dict[str, Any]:
    """A data segment as stored: its data, with its size and MD5 beside it."""
    data = base64.b64decode(item["data"])
    md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
    return {"data": item["data"], "bytes": len(data), "hash": md5}


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
    app: ObjectStore, caller: Caller, account: str, body: bytes
) -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
    """The stored manifest of a manifest PUT's body, and its problems."""
    items = _parse(body)
    for container in {(split_path(i["path"]) or ("", ""))[0] for i in items if "path" in i}:
        await caller.check("object_store:get_object", account, container, acl=READ_ACL)
    problems: list[tuple[str, str]] = []
    gate = asyncio.Semaphore(_HEADS)

    async def check(item: dict[str, Any]) -> dict[str, Any] | None:
        if "data" in item:
            return _data_entry(item)
        container, obj = split_path(item["path"]) or ("", "")
        path = f"/{container}/{obj}"
        async with gate:
            head = await app.get_object(
                caller, (account, container, obj), {}, RAW_MANIFEST, head=True
            )
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
            ranges = parse_ranges(f"bytes={item['range']}")
            if ranges is None or len(ranges) != 1:
                problems.append((path, "Invalid Range"))
                return entry
            span = ranges[0].span(size)
            if span is None:
                problems.append((path, "Unsatisfiable Range"))
                return entry
            if span != (0, size - 1):
                entry["range"] = f"{span[0]}-{span[1]}"
        if entry_size(entry) < MIN_SEGMENT_SIZE:
            problems.append((path, "Too small; each segment must be at least 1 byte."))
        return entry

    entries = await asyncio.gather(*(check(item) for item in items))
    return [e for e in entries if e is not None], problems


async def read_manifest(resp: Reply) -> list[dict[str, Any]]:
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
    app: ObjectStore, caller: Caller, account: str, entries: list[dict[str, Any]], depth: int = 0
) -> list[Segment]:
    """The segments of a manifest, sub-manifests expanded."""
    out: list[Segment] = []
    for e in entries:
        if "data" in e:
            data = base64.b64decode(e["data"])
            out.append(Segment("", "", 0, len(data) - 1, None, data=data))
            continue
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
        sub = await app.get_object(caller, (account, container, obj), {}, RAW_MANIFEST, head=False)
        if sub.status != 200 or not is_slo(sub.headers):
            await close_body(sub)
            raise Unavailable()
        inner = await plan(app, caller, account, await read_manifest(sub), depth + 1)
        out.extend(trim(inner, first, last))
    return out


def _reason(status: int) -> str:
    return REASONS.get(status, ("", ""))[0]
