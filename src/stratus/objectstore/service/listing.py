"""Listings: the query Swift takes, checked as Swift checks it, and the
JSON a node answers, parsed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from stratus.objectstore.errors import BadRequest, PreconditionFailed, Unavailable
from stratus.objectstore.node.protocol import NodeResponse

_PASSED = ("prefix", "delimiter", "marker", "end_marker", "path")


def node_query(query: Mapping[str, str], max_limit: int) -> dict[str, str]:
    """The listing query for the node, checked as Swift checks it."""
    out: dict[str, str] = {}
    for name in _PASSED:
        value = query.get(name)
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
    given = query.get("limit")
    if given is not None:
        try:
            limit = int(given)
        except ValueError as exc:
            raise BadRequest("Value of limit must be a positive integer") from exc
        if limit < 0:
            raise BadRequest("Value of limit must be a positive integer")
        if limit > max_limit:
            raise PreconditionFailed(f"Maximum limit is {max_limit}")
    out["limit"] = str(limit)
    if (query.get("reverse") or "").lower() in ("1", "true", "yes", "on", "t", "y"):
        out["reverse"] = "true"
    return out


async def parse_listing(resp: NodeResponse) -> list[dict[str, Any]]:
    data = await resp.read()
    if not data.strip():
        return []
    try:
        entries = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise Unavailable() from exc
    return entries if isinstance(entries, list) else []
