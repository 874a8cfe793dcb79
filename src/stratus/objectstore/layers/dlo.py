"""Dynamic large objects, as Swift's ``dlo`` middleware: a manifest object
with ``X-Object-Manifest: <container>/<prefix>`` reads as the objects of
that container whose names start with the prefix, in name order.  Its ETag
is the MD5 of their ETags (quoted), its length the sum of theirs."""

from __future__ import annotations

import hashlib
from typing import Any
from urllib.parse import unquote

from stratus.objectstore.errors import BadRequest, Unavailable
from stratus.objectstore.layers.segments import Segment
from stratus.objectstore.service import ObjectStoreService

MAX_SEGMENTS = 10000
PAGE = 1000
FORMAT_ERROR = "X-Object-Manifest must be in the format container/prefix"


def check(value: str) -> str:
    """A client's X-Object-Manifest, checked (400 when not container/prefix)."""
    text = unquote(value.strip())
    container, sep, _prefix = text.partition("/")
    if not sep or not container or text.startswith("/") or "?" in value or "#" in value:
        raise BadRequest(FORMAT_ERROR)
    return value.strip()


def target(value: str) -> tuple[str, str]:
    container, _, prefix = unquote(value.strip()).partition("/")
    return container, prefix


async def listing(
    service: ObjectStoreService, account: str, container: str, prefix: str
) -> list[dict[str, Any]]:
    """The segments' listing entries, in name order (at most MAX_SEGMENTS)."""
    entries: list[dict[str, Any]] = []
    marker = ""
    while len(entries) < MAX_SEGMENTS:
        query = {"prefix": prefix, "limit": str(PAGE)}
        if marker:
            query["marker"] = marker
        page = await service.containers.get(account, container, query)
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
