"""Listings of an account's containers or a container's objects: the query
Swift takes, and the json, xml and plain bodies it answers."""

from __future__ import annotations

import math
from collections.abc import Mapping
from email.utils import formatdate
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import orjson
from starlette.responses import Response

from stratus.common.api import Query

JSON = "application/json; charset=utf-8"
XML = "application/xml; charset=utf-8"
PLAIN = "text/plain; charset=utf-8"


class ListingQuery(Query):
    format: str | None = None
    prefix: str | None = None
    delimiter: str | None = None
    marker: str | None = None
    end_marker: str | None = None
    limit: str | None = None
    reverse: str | None = None
    path: str | None = None


def query_of(query: ListingQuery) -> dict[str, str]:
    """The listing parameters given (the service checks them)."""
    return {k: v for k, v in query.model_dump().items() if v is not None and k != "format"}


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


def wire(headers: Mapping[str, str] | None) -> dict[str, str] | None:
    """Headers as they go on the wire: values are the bytes Swift passes
    through, read as latin-1; a value holding text beyond latin-1 (a name a
    layer decoded) goes as its UTF-8 bytes.  Never a 500 for a header."""
    if headers is None:
        return None
    out = dict(headers)
    for key, value in out.items():
        if not value.isascii():
            try:
                value.encode("latin-1")
            except UnicodeEncodeError:
                out[key] = value.encode("utf-8", "surrogateescape").decode("latin-1")
    return out


def dated(headers: dict[str, str]) -> dict[str, str]:
    """``headers`` with a container's Last-Modified: X-Put-Timestamp rounded
    up to the second, as Swift's container server gives it."""
    stamp = headers.get("x-put-timestamp")
    if not stamp or "x-container-object-count" not in headers:
        return headers
    try:
        seconds = math.ceil(float(stamp))
    except ValueError:
        return headers
    return {**headers, "last-modified": formatdate(seconds, usegmt=True)}


def render(
    media: str,
    kind: str,
    name: str,
    entries: list[dict[str, Any]],
    headers: dict[str, str],
) -> Response:
    """The listing response; an empty plain listing is 204, as Swift's."""
    # The node's own Content-Type (always json) must not override the format.
    headers = dated({k: v for k, v in headers.items() if k.lower() != "content-type"})
    if media == JSON:
        body = orjson.dumps(entries)
    elif media == XML:
        body = _xml(kind, name, entries)
    else:
        if not entries:
            headers = {**headers, "content-length": "0"}
            return Response(b"", 204, headers=wire(headers), media_type=PLAIN)
        body = "".join(f"{e.get('name', e.get('subdir', ''))}\n" for e in entries).encode()
    return Response(body, 200, headers=wire(headers), media_type=media)


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
