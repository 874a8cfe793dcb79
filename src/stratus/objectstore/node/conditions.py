"""Conditional requests and byte ranges on object reads (RFC 9110, as Swift).

``evaluate()`` answers 304 or 412 or None (go on); ``parse_range()`` turns a
``Range: bytes=...`` header into spans, or says to ignore it, or that it
cannot be satisfied (416).
"""

from __future__ import annotations

from collections.abc import Mapping
from email.utils import parsedate_to_datetime

from stratus.common.ranges import parse_ranges

MAX_RANGES = 50


def etag_list(value: str) -> list[str]:
    """``"a", W/"b", c`` -> ``["a", "b", "c"]``; ``*`` stays ``*``."""
    out = []
    for item in value.split(","):
        item = item.strip()
        if item.startswith("W/"):
            item = item[2:]
        item = item.strip('"')
        if item:
            out.append(item)
    return out


def http_seconds(value: str) -> float | None:
    """An HTTP date as epoch seconds; None when it does not parse."""
    try:
        return parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def evaluate(headers: Mapping[str, str], etag: str, last_modified: int, exists: bool = True) -> int:
    """The status the preconditions call for (0 when they pass).  ``last_modified``
    is in whole seconds, as the Last-Modified header shows it."""
    if_match = headers.get("if-match")
    if if_match is not None:
        tags = etag_list(if_match)
        if not exists or ("*" not in tags and etag not in tags):
            return 412
    elif exists and (since := headers.get("if-unmodified-since")) is not None:
        when = http_seconds(since)
        if when is not None and last_modified > when:
            return 412
    if_none_match = headers.get("if-none-match")
    if if_none_match is not None:
        tags = etag_list(if_none_match)
        if exists and ("*" in tags or etag in tags):
            return 304
    elif exists and (since := headers.get("if-modified-since")) is not None:
        when = http_seconds(since)
        if when is not None and last_modified <= when:
            return 304
    return 0


def parse_range(value: str, size: int) -> list[tuple[int, int]] | None:
    """Spans ``(start, end)`` (end excluded) for ``bytes=...``; ``None`` when
    the header is to be ignored (malformed, not bytes); ``[]`` when no span
    can be satisfied (416)."""
    ranges = parse_ranges(value, MAX_RANGES)
    if ranges is None:
        return None
    spans = (r.span(size) for r in ranges)
    return [(first, last + 1) for first, last in (s for s in spans if s is not None)]
