"""Answers of the storage node: the error that becomes one, and small helpers
that build ``NodeResponse`` objects and read request headers.

Response header names are lower-case, like the request's.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping

from stratus.objectstore.drivers.timestamp import Timestamp
from stratus.objectstore.node.protocol import NodeResponse


class NodeError(Exception):
    """Stops a request with this status (and headers, and a short text body)."""

    def __init__(self, status: int, body: str = "", headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{status} {body}")
        self.status = status
        self.body = body
        self.headers = headers or {}

    def response(self) -> NodeResponse:
        return reply(self.status, self.headers, self.body.encode() if self.body else None)


async def _one(data: bytes) -> AsyncIterator[bytes]:
    yield data


def reply(
    status: int, headers: dict[str, str] | None = None, body: bytes | None = None
) -> NodeResponse:
    """A response with a whole body (or none)."""
    headers = headers if headers is not None else {}
    if body:
        headers["content-length"] = str(len(body))
        if "content-type" not in headers:
            headers["content-type"] = "text/plain; charset=utf-8"
        return NodeResponse(status, headers, _one(body))
    headers.setdefault("content-length", "0")
    return NodeResponse(status, headers)


def timestamp_of(headers: Mapping[str, str], name: str = "x-timestamp") -> Timestamp:
    """A required timestamp header, or 400."""
    value = headers.get(name)
    if not value:
        raise NodeError(400, f"Missing {name}")
    try:
        return Timestamp(value)
    except (TypeError, ValueError):
        raise NodeError(400, f"Bad {name}: {value!r}") from None


def int_of(headers: Mapping[str, str], name: str, default: int = 0) -> int:
    value = headers.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise NodeError(400, f"Bad {name}: {value!r}") from None


def policy_of(headers: Mapping[str, str]) -> int:
    policy = int_of(headers, "x-backend-storage-policy-index")
    if policy < 0:
        raise NodeError(400, "Bad x-backend-storage-policy-index")
    return policy


def pick(headers: Mapping[str, str], prefixes: tuple[str, ...]) -> dict[str, str]:
    """The headers whose (lower-case) names start with one of ``prefixes``."""
    return {k: v for k, v in headers.items() if k.startswith(prefixes)}
