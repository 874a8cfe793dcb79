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

import hashlib
from typing import Any

import orjson

from stratus.objectstore.errors import (
    BadRequest,
    TooLarge,
    Unprocessable,
)
from stratus.objectstore.layers import bulk
from stratus.objectstore.layers.access import READ_ACL, WRITE_ACL
from stratus.objectstore.layers.base import Layer
from stratus.objectstore.layers.segments import Segment, answer, read_whole
from stratus.objectstore.layers.slo_manifest import (
    MAX_DEPTH,
    MAX_MANIFEST_SIZE,
    RAW_MANIFEST,
    SLO_ETAG,
    SLO_SIZE,
    build_manifest,
    entry_size,
    is_slo,
    plan,
    read_manifest,
    slo_etag,
    split_path,
)
from stratus.objectstore.service.headers import declared_length
from stratus.objectstore.service.interface import (
    Body,
    Caller,
    Headers,
    Names,
    Reply,
)
from stratus.objectstore.service.quorum import close_body, iterate

OVERRIDE = "x-backend-container-update-override-"
STORED_OVERRIDE = "x-object-sysmeta-container-update-override-"
RESERVED = (
    "X-Static-Large-Object is a reserved header. To create a static large object "
    "add query param multipart-manifest=put."
)
JSON = "application/json; charset=utf-8"
NO_PARAMS: dict[str, str] = {}


def quoted(etag: str) -> str:
    return f'"{etag}"'


def client_view(headers: Headers) -> dict[str, str]:
    """A manifest's headers as the large object's: its ETag and length."""
    out = dict(headers)
    if SLO_ETAG in headers:
        out["etag"] = quoted(headers[SLO_ETAG])
    if SLO_SIZE in headers:
        out["content-length"] = headers[SLO_SIZE]
    return out


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
        resp = await self.app.get_object(caller, names, {}, RAW_MANIFEST, head=False)
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
                sub = await self.app.get_object(
                    caller, (account, c, o), {}, RAW_MANIFEST, head=False
                )
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
