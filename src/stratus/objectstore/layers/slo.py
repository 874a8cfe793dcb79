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
import base64
import binascii
import hashlib
from typing import Any

import orjson

from stratus.common.ranges import parse_ranges
from stratus.objectstore.errors import (
    REASONS,
    BadRequest,
    TooLarge,
    Unavailable,
    Unprocessable,
)
from stratus.objectstore.layers import bulk
from stratus.objectstore.layers.access import READ_ACL, WRITE_ACL
from stratus.objectstore.layers.base import Layer
from stratus.objectstore.layers.segments import Segment, answer, read_whole, trim
from stratus.objectstore.service.headers import declared_length
from stratus.objectstore.service.interface import (
    Body,
    Caller,
    Headers,
    Names,
    ObjectStore,
    Reply,
)
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
JSON = "application/json; charset=utf-8"
NO_PARAMS: dict[str, str] = {}
_RAW = {"multipart-manifest": "get"}  # a manifest as stored, not its large object


def is_slo(headers: Headers) -> bool:
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
            head = await app.get_object(caller, (account, container, obj), {}, _RAW, head=True)
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
        sub = await app.get_object(caller, (account, container, obj), {}, _RAW, head=False)
        if sub.status != 200 or not is_slo(sub.headers):
            await close_body(sub)
            raise Unavailable()
        inner = await plan(app, caller, account, await read_manifest(sub), depth + 1)
        out.extend(trim(inner, first, last))
    return out


def client_view(headers: Headers) -> dict[str, str]:
    """A manifest's headers as the large object's: its ETag and length."""
    out = dict(headers)
    if SLO_ETAG in headers:
        out["etag"] = quoted(headers[SLO_ETAG])
    if SLO_SIZE in headers:
        out["content-length"] = headers[SLO_SIZE]
    return out


def _reason(status: int) -> str:
    return REASONS.get(status, ("", ""))[0]


def _put_form(entry: dict[str, Any]) -> dict[str, Any]:
    if "data" in entry:
        return {"data": entry["data"]}
    out = {"path": entry.get("name"), "etag": entry.get("hash"), "size_bytes": entry.get("bytes")}
    if entry.get("range"):
        out["range"] = entry["range"]
    return out


async def _manifest_reply(resp: Reply, raw_format: bool) -> Reply:
    """``multipart-manifest=get``: the stored manifest, or with
    ``format=raw`` the form a manifest PUT takes."""
    entries = await read_manifest(resp)
    headers = {k: v for k, v in resp.headers.items() if k not in ("content-length", "content-type")}
    if raw_format:
        entries = [_put_form(e) for e in entries]
        headers.pop("etag", None)
    data = orjson.dumps(entries)
    headers["content-type"] = JSON
    headers["content-length"] = str(len(data))
    return Reply(200, headers, iterate(data))


class SloLayer(Layer):
    """Manifest PUTs (``multipart-manifest=put``), GETs of the whole,
    ``multipart-manifest=get`` and ``multipart-manifest=delete``."""

    async def put_object(
        self, caller: Caller, names: Names, headers: Headers, params: Headers, body: Body
    ) -> Reply:
        is_put = params.get("multipart-manifest") == "put"
        if "x-static-large-object" in headers and not is_put:
            if caller.synced and is_slo(headers):
                return await self._synced_manifest(caller, names, headers, body)
            raise BadRequest(RESERVED)
        if not is_put or "x-copy-from" in headers:
            return await self.app.put_object(caller, names, headers, params, body)
        data = await _read_manifest_body(body, declared_length(headers))
        entries, problems = await build_manifest(self.app, caller, names[0], data)
        if problems:
            raise BadRequest("Errors:\n" + "\n".join(f"{p}, {r}" for p, r in problems))
        etag = slo_etag(entries)
        wanted = headers.get("etag")
        if wanted and wanted.strip().strip('"').lower() != etag:
            raise Unprocessable()
        manifest_data = orjson.dumps(entries)
        stored = _stored(headers, entries, etag, manifest_data)
        resp = await self.app.put_object(caller, names, stored, NO_PARAMS, iterate(manifest_data))
        if resp.status < 300:
            resp.headers["etag"] = quoted(etag)
        return resp

    async def _synced_manifest(
        self, caller: Caller, names: Names, headers: Headers, body: Body
    ) -> Reply:
        """A manifest as another container's sync sends it: as it is stored
        there, its segments not looked up (they may come later), as Swift's
        container sync overrides SLO's checks."""
        data = await _read_manifest_body(body, declared_length(headers))
        try:
            entries = orjson.loads(data)
        except orjson.JSONDecodeError:
            entries = None
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            raise BadRequest("Invalid synced manifest")
        try:
            stored = _stored(headers, entries, slo_etag(entries), data)
        except (KeyError, ValueError, TypeError) as exc:
            raise BadRequest("Invalid synced manifest") from exc
        return await self.app.put_object(caller, names, stored, NO_PARAMS, iterate(data))

    async def get_object(
        self, caller: Caller, names: Names, headers: Headers, params: Headers, *, head: bool
    ) -> Reply:
        resp = await self.app.get_object(caller, names, headers, params, head=head)
        if params.get("multipart-manifest") == "get":
            if not head and resp.status == 200 and is_slo(resp.headers):
                return await _manifest_reply(resp, params.get("format") == "raw")
            return resp
        if resp.status in (206, 416):
            resp = await read_whole(self.app, caller, names, headers, params, resp, is_slo)
        if resp.status >= 300 or not is_slo(resp.headers):
            return resp
        view = client_view(resp.headers)
        parts: list[Segment] = []
        if not head:
            entries = await read_manifest(resp)
            for container in {p[0] for e in entries if (p := split_path(e.get("name")))}:
                await caller.check("object_store:get_object", names[0], container, acl=READ_ACL)
            parts = await plan(self.app, caller, names[0], entries)
        await close_body(resp)
        size = int(view.get("content-length", "0") or 0)
        if parts:
            size = sum(p.size for p in parts)
        view["content-length"] = str(size)
        return answer(self.app, caller, names[0], view, parts, headers, head)

    async def delete_object(
        self, caller: Caller, names: Names, headers: Headers, params: Headers
    ) -> Reply:
        if params.get("multipart-manifest") != "delete":
            return await self.app.delete_object(caller, names, headers, params)
        account, container, obj = names
        resp = await self.app.get_object(caller, names, {}, _RAW, head=False)
        if resp.status >= 300:
            await close_body(resp)
            return Reply(resp.status)
        if not is_slo(resp.headers):
            await close_body(resp)
            raise BadRequest("Not an SLO manifest")
        paths = await self._segment_paths(caller, account, await read_manifest(resp), 0)
        paths.append(f"/{container}/{obj}")

        async def one(c: str, o: str | None) -> int:
            await caller.check("object_store:delete_object", account, c, acl=WRITE_ACL)
            assert o is not None
            return (await self.app.delete_object(caller, (account, c, o), {}, NO_PARAMS)).status

        outcome = await bulk.run(paths, one)
        return bulk.reply(outcome, headers.get("accept", ""))

    async def _segment_paths(
        self, caller: Caller, account: str, entries: list[dict[str, Any]], depth: int
    ) -> list[str]:
        out: list[str] = []
        for e in entries:
            if "data" in e:
                continue
            name = str(e.get("name", ""))
            if e.get("sub_slo") and depth < MAX_DEPTH:
                c, o = split_path(name) or ("", "")
                sub = await self.app.get_object(caller, (account, c, o), {}, _RAW, head=False)
                if sub.status == 200 and is_slo(sub.headers):
                    inner = await read_manifest(sub)
                    out += await self._segment_paths(caller, account, inner, depth + 1)
                else:
                    await close_body(sub)
            out.append(name)
        return out


async def _read_manifest_body(body: Body, length: int | None) -> bytes:
    if length is not None and length > MAX_MANIFEST_SIZE:
        raise TooLarge(f"Manifest File > {MAX_MANIFEST_SIZE} bytes")
    data = b""
    async for chunk in body:
        data += chunk
        if len(data) > MAX_MANIFEST_SIZE:
            raise TooLarge(f"Manifest File > {MAX_MANIFEST_SIZE} bytes")
    return data


def _stored(
    headers: Headers, entries: list[dict[str, Any]], etag: str, data: bytes
) -> dict[str, str]:
    """The manifest object's headers: the client's metadata, the large
    object's ETag and size as sysmeta and as the listing's overrides."""
    total = sum(entry_size(e) for e in entries)
    listing_etag = f"{hashlib.md5(data, usedforsecurity=False).hexdigest()}; slo_etag={etag}"
    dropped = ("etag", "content-length", "transfer-encoding", "x-static-large-object")
    return {
        **{k: v for k, v in headers.items() if k not in dropped},
        "content-length": str(len(data)),
        "x-static-large-object": "True",
        SLO_ETAG: etag,
        SLO_SIZE: str(total),
        OVERRIDE + "etag": listing_etag,
        OVERRIDE + "size": str(total),
        STORED_OVERRIDE + "etag": listing_etag,
        STORED_OVERRIDE + "size": str(total),
    }
