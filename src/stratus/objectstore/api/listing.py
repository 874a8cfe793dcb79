"""Listings of an account's containers or a container's objects: the query
Swift takes, and the json, xml and plain bodies it answers."""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import escape, quoteattr

import orjson
from starlette.responses import Response

from stratus.common.api import Query
from stratus.objectstore.errors import BadRequest, PreconditionFailed

JSON = "application/json; charset=utf-8"
XML = "application/xml; charset=utf-8"
PLAIN = "text/plain; charset=utf-8"
_PASSED = ("prefix", "delimiter", "marker", "end_marker", "path")


class ListingQuery(Query):
    format: str | None = None
    prefix: str | None = None
    delimiter: str | None = None
    marker: str | None = None
    end_marker: str | None = None
    limit: str | None = None
    reverse: str | None = None
    path: str | None = None


def node_query(query: ListingQuery, max_limit: int) -> dict[str, str]:
    """The listing query for the node, checked as Swift checks it."""
    out: dict[str, str] = {}
    for name in _PASSED:
        value = getattr(query, name)
        if value is None:
            continue
        if "\x00" in value:
            raise PreconditionFailed("Invalid UTF8 or contains NULL")
        if len(value.encode()) > 1024 and name != "delimiter":
            raise PreconditionFailed(f"{name} too long")
        out[name] = value
    delimiter = out.get("delimiter")
    if delimiter is not None and len(delimiter) > 1:
        raise PreconditionFailed("Bad delimiter")
    limit = max_limit
    if query.limit is not None:
        try:
            limit = int(query.limit)
        except ValueError as exc:
            raise BadRequest("Value of limit must be a positive integer") from exc
        if limit < 0:
            raise BadRequest("Value of limit must be a positive integer")
        if limit > max_limit:
            raise PreconditionFailed(f"Maximum limit is {max_limit}")
    out["limit"] = str(limit)
    if (query.reverse or "").lower() in ("1", "true", "yes", "on", "t", "y"):
        out["reverse"] = "true"
    return out


def content_type(query: ListingQuery, accept: str) -> str:
    """``format=`` first, then the Accept header; plain text by default."""
    fmt = (query.format or "").lower()
    if fmt == "json":
        return JSON
    if fmt == "xml":
        return XML
    if fmt in ("plain", "text"):
        return PLAIN
    accept = accept.lower()
    for kind, media in (
        ("application/json", JSON),
        ("application/xml", XML),
        ("text/xml", XML),
    ):
        if kind in accept:
            return media
    return PLAIN


def render(
    media: str,
    kind: str,
    name: str,
    entries: list[dict[str, Any]],
    headers: dict[str, str],
) -> Response:
    """The listing response; an empty plain listing is 204, as Swift's."""
    # The node's own Content-Type (always json) must not override the format.
    headers = {k: v for k, v in headers.items() if k.lower() != "content-type"}
    if media == JSON:
        body = orjson.dumps(entries)
    elif media == XML:
        body = _xml(kind, name, entries)
    else:
        if not entries:
            return Response(b"", 204, headers=headers, media_type=PLAIN)
        body = "".join(f"{e.get('name', e.get('subdir', ''))}\n" for e in entries).encode()
    return Response(body, 200, headers=headers, media_type=media)


def _xml(kind: str, name: str, entries: list[dict[str, Any]]) -> bytes:
    item = "container" if kind == "account" else "object"
    fields = (
        ("name", "count", "bytes", "last_modified")
        if kind == "account"
        else ("name", "hash", "bytes", "content_type", "last_modified")
    )
    out = ['<?xml version="1.0" encoding="UTF-8"?>', f"<{kind} name={quoteattr(name)}>"]
    for entry in entries:
        if "subdir" in entry:
            sub = str(entry["subdir"])
            out.append(f"<subdir name={quoteattr(sub)}><name>{escape(sub)}</name></subdir>")
            continue
        inner = "".join(f"<{f}>{escape(str(entry.get(f, '')))}</{f}>" for f in fields)
        out.append(f"<{item}>{inner}</{item}>")
    out.append(f"</{kind}>")
    return "".join(out).encode()
