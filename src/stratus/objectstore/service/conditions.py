"""Conditional requests on object GET and HEAD, as Swift's ``swob``
evaluates them: If-Match and If-Unmodified-Since fail with 412,
If-None-Match and If-Modified-Since answer 304; and a byte span cut from a
stream of the whole."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from email.utils import parsedate_to_datetime

from stratus.objectstore.errors import PreconditionFailed


def _etags(value: str) -> list[str]:
    return [v.strip().strip('"') for v in value.split(",") if v.strip()]


def _http_time(value: str) -> float | None:
    try:
        return parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def evaluate(request: Mapping[str, str], etag: str, last_modified: str) -> int | None:
    """304 or 412 when a condition says so (412 raised), else None."""
    etag = etag.strip('"')
    if_match = request.get("if-match")
    if if_match is not None:
        tags = _etags(if_match)
        if "*" not in tags and etag not in tags:
            raise PreconditionFailed()
    if_none = request.get("if-none-match")
    if if_none is not None:
        tags = _etags(if_none)
        if "*" in tags or etag in tags:
            return 304
    modified = _http_time(last_modified) if last_modified else None
    since = request.get("if-unmodified-since")
    if since and modified is not None:
        bound = _http_time(since)
        if bound is not None and modified > bound:
            raise PreconditionFailed()
    since = request.get("if-modified-since")
    if since and if_none is None and modified is not None:
        bound = _http_time(since)
        if bound is not None and modified <= bound:
            return 304
    return None


async def slice_stream(body: AsyncIterator[bytes], first: int, last: int) -> AsyncIterator[bytes]:
    """Bytes ``first..last`` (inclusive) of a stream of the whole object."""
    pos = 0
    try:
        async for chunk in body:
            end = pos + len(chunk)
            if end > first and pos <= last:
                yield chunk[max(0, first - pos) : min(len(chunk), last + 1 - pos)]
            pos = end
            if pos > last:
                break
    finally:
        aclose = getattr(body, "aclose", None)
        if aclose is not None:
            await aclose()
