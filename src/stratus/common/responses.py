"""The responses every API answers with: JSON or empty, their header
values made safe for HTTP."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import orjson
from starlette.responses import Response

_URL_HEADERS = frozenset({"location", "content-location"})


def header_value(value: str, url: bool = False) -> str:
    """A header value as HTTP can carry it: unchanged when it is Latin-1 (a
    URL: ASCII), else with every other character percent-encoded as UTF-8,
    so that a name echoed back (a tag in a ``Location``) never fails the
    response of a write that happened."""
    try:
        value.encode("ascii" if url else "latin-1")
        return value
    except UnicodeEncodeError:
        return "".join(c if ord(c) < 0x80 else quote(c, safe="") for c in value)


def safe_headers(headers: Mapping[str, str] | None) -> dict[str, str] | None:
    if headers is None:
        return None
    return {k: header_value(v, k.lower() in _URL_HEADERS) for k, v in headers.items()}


def json_response(
    data: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    return Response(
        orjson.dumps(data),
        status_code=status,
        headers=safe_headers(headers),
        media_type="application/json",
    )


def empty_response(status: int = 204, headers: Mapping[str, str] | None = None) -> Response:
    return Response(b"", status_code=status, headers=safe_headers(headers))
