"""Dynamic large objects, as Swift's ``dlo`` middleware: a manifest object
with ``X-Object-Manifest: <container>/<prefix>`` reads as the objects of
that container whose names start with the prefix, in name order.  Its ETag
is the MD5 of their ETags (quoted), its length the sum of theirs."""

from __future__ import annotations

import hashlib
from typing import Any
from urllib.parse import quote, unquote

from stratus.objectstore.errors import BadRequest, Unavailable
from stratus.objectstore.layers.access import READ_ACL
from stratus.objectstore.layers.base import Layer
from stratus.objectstore.layers.segments import RAW, Segment, answer, read_whole
from stratus.objectstore.service.headers import true
from stratus.objectstore.service.interface import (
    Body,
    Caller,
    Headers,
    Names,
    ObjectStore,
    Reply,
)
from stratus.objectstore.service.names import header_text
from stratus.objectstore.service.quorum import close_body

# What a copy of a manifest takes from it, besides its user metadata; and
# the request's headers that are the copy's own, not the new object's.
COPIED = ("content-type", "content-encoding", "content-disposition")
NOT_COPIED = frozenset(
    {
        "content-length",
        "transfer-encoding",
        "etag",
        "range",
        "destination",
        "destination-account",
        "x-copy-from",
        "x-copy-from-account",
        "x-fresh-metadata",
    }
)
MAX_SEGMENTS = 10000
PAGE = 1000
FORMAT_ERROR = "X-Object-Manifest must be in the format container/prefix"


def check(value: str) -> str:
    """A client's X-Object-Manifest, checked (400 when not container/prefix)."""
    text = unquote(header_text(value.strip()))
    container, sep, _prefix = text.partition("/")
    if not sep or not container or text.startswith("/") or "?" in value or "#" in value:
        raise BadRequest(FORMAT_ERROR)
    return value.strip()


def target(value: str) -> tuple[str, str]:
    container, _, prefix = unquote(header_text(value.strip())).partition("/")
    return container, prefix


async def listing(
    app: ObjectStore, caller: Caller, account: str, container: str, prefix: str
) -> list[dict[str, Any]]:
    """The segments' listing entries, in name order (at most MAX_SEGMENTS)."""
    entries: list[dict[str, Any]] = []
    marker = ""
    while len(entries) < MAX_SEGMENTS:
        query = {"prefix": prefix, "limit": str(PAGE)}
        if marker:
            query["marker"] = marker
        page = await app.list_container(caller, account, container, query)
        if page.status == 404:
            return entries
        if page.status >= 300:
            raise Unavailable()
        items = [e for e in page.entries if "name" in e]
        entries.extend(items)
        if len(page.entries) < PAGE or not items:
            break
        marker = str(items[-1]["name"])
    return entries[:MAX_SEGMENTS]


def plan(container: str, entries: list[dict[str, Any]]) -> list[Segment]:
    return [
        Segment(container, str(e["name"]), 0, int(e.get("bytes", 0)) - 1)
        for e in entries
        if int(e.get("bytes", 0)) > 0
    ]


def etag_of(entries: list[dict[str, Any]]) -> str:
    md5 = hashlib.md5(usedforsecurity=False)
    for e in entries:
        md5.update(str(e.get("hash", "")).split(";")[0].strip().encode())
    return f'"{md5.hexdigest()}"'


def size_of(entries: list[dict[str, Any]]) -> int:
    return sum(int(e.get("bytes", 0)) for e in entries)


def is_dlo(headers: Headers) -> bool:
    return "x-object-manifest" in headers


class DloLayer(Layer):
    """Checks a manifest's X-Object-Manifest on PUT and POST; a GET or HEAD of a
    manifest answers the whole, and a copy of one copies the whole into a
    plain object (unless ``multipart-manifest=get``: the manifest)."""

    async def copy_object(
        self, caller: Caller, source: Names, dest: Names, headers: Headers
    ) -> Reply:
        head = await self.app.get_object(caller, source, {}, RAW, head=True)
        if head.status >= 300 or not is_dlo(head.headers):
            return await self.app.copy_object(caller, source, dest, headers)
        if caller.params.get("multipart-manifest") == "get":
            kept = {"x-object-manifest": head.headers["x-object-manifest"], **headers}
            return await self.app.copy_object(caller, source, dest, kept)
        whole = await self.get_object(caller, source, {}, {}, head=False)
        if whole.status != 200 or whole.body is None:
            await close_body(whole)
            return Reply(whole.status if whole.status >= 300 else 503)
        new = {k: v for k, v in head.headers.items() if k in COPIED}
        if not true(headers.get("x-fresh-metadata")):
            new.update((k, v) for k, v in head.headers.items() if k.startswith("x-object-meta-"))
        new.update((k, v) for k, v in headers.items() if k not in NOT_COPIED)
        new["content-length"] = whole.headers.get("content-length", "0")
        try:
            resp = await self.app.put_object(caller, dest, new, {}, whole.body)
        finally:
            await close_body(whole)
        if resp.status < 300:
            resp.headers["x-copied-from"] = f"{quote(source[1])}/{quote(source[2])}"
            if "last-modified" in head.headers:
                resp.headers["x-copied-from-last-modified"] = head.headers["last-modified"]
            if source[0] != dest[0]:
                resp.headers["x-copied-from-account"] = quote(source[0])
        return resp

    async def put_object(
        self, caller: Caller, names: Names, headers: Headers, params: Headers, body: Body
    ) -> Reply:
        manifest = headers.get("x-object-manifest")
        if manifest is not None:
            headers = {**headers, "x-object-manifest": check(manifest)}
        return await self.app.put_object(caller, names, headers, params, body)

    async def post_object(
        self,
        caller: Caller,
        names: Names,
        headers: Headers,
        params: Headers,
        body: Body | None,
    ) -> Reply:
        manifest = headers.get("x-object-manifest")
        if manifest is not None:
            headers = {**headers, "x-object-manifest": check(manifest)}
        return await self.app.post_object(caller, names, headers, params, body)

    async def get_object(
        self, caller: Caller, names: Names, headers: Headers, params: Headers, *, head: bool
    ) -> Reply:
        resp = await self.app.get_object(caller, names, headers, params, head=head)
        if params.get("multipart-manifest") == "get":
            return resp
        if resp.status in (206, 416):
            resp = await read_whole(self.app, caller, names, headers, params, resp, is_dlo)
        if resp.status >= 300 or not is_dlo(resp.headers):
            return resp
        await close_body(resp)
        out = dict(resp.headers)
        container, prefix = target(out["x-object-manifest"])
        # The segments are listed as the caller's own listing (a Referer
        # needs .rlistings on the segments' container, as in Swift).
        await caller.check(
            "object_store:get_container", names[0], container, acl=READ_ACL, listing=True
        )
        entries = await listing(self.app, caller, names[0], container, prefix)
        out["etag"] = etag_of(entries)
        out["content-length"] = str(size_of(entries))
        parts = plan(container, entries)
        return answer(self.app, caller, names[0], out, parts, headers, head)
