"""The contract between the proxy and storage nodes.

A request names one device of one node, a partition and a path
(account[/container[/object]]), like Swift's backend protocol.  The node's
``handle`` takes a ``NodeRequest`` and returns a ``NodeResponse``; the
in-process client calls it directly, the HTTP client sends it as
``METHOD /<device>/<partition>/<account>[/<container>[/<object>]]`` with the
same headers and body, and the node's HTTP server turns that back into a
``NodeRequest``.  Names in the path are percent-encoded UTF-8.

Headers the proxy sets (Swift's names, so behaviour matches Swift's):
- ``X-Timestamp``: the request's timestamp (Timestamp.internal) on every write;
  a write older than what is stored gets 409 (PUT/POST) or is a no-op 404/409
  (DELETE), as Swift's servers answer.
- Object PUT/DELETE: ``X-Container-Host`` (``ip:port``), ``X-Container-Device``,
  ``X-Container-Partition``: where the object server sends the container
  listing update after the write (or keeps it as an async pending for the
  updater when that fails).  Several hosts may be given, comma-separated, one
  per container replica.
- Container PUT/DELETE: ``X-Account-Host``, ``X-Account-Device``,
  ``X-Account-Partition``: likewise, for the account listing.
- ``X-Backend-Storage-Policy-Index``.

Bodies stream: ``body`` is an async iterator of byte chunks (or None).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Protocol


@dataclass
class NodeRequest:
    method: str  # GET, HEAD, PUT, POST, DELETE, REPLICATE
    device: str
    partition: int
    account: str
    container: str | None = None
    obj: str | None = None
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names
    query: dict[str, str] = field(default_factory=dict)  # listings: prefix, marker, ...
    body: AsyncIterator[bytes] | None = None


@dataclass
class NodeResponse:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: AsyncIterator[bytes] | None = None

    async def read(self) -> bytes:
        if self.body is None:
            return b""
        return b"".join([chunk async for chunk in self.body])


class NodeClient(Protocol):
    """Reaches the storage node serving ``ip:port``."""

    async def request(self, ip: str, port: int, req: NodeRequest) -> NodeResponse:
        """Send one request; connection failures raise NodeUnavailable."""


class NodeHandler(Protocol):
    """A storage node as the in-process client reaches it: one request in,
    one response out."""

    async def handle(self, req: NodeRequest) -> NodeResponse:
        """Answer one request (errors are responses, not exceptions)."""


class NodeUnavailable(Exception):
    """The node could not be reached (down, refused, timed out)."""
