"""The proxy's core: requests to the replicas of an account, a container or an
object, as Swift's proxy sends them.

- Reads try the primaries in ring order, then handoffs, and answer with the
  first copy that answers (a 404 from one replica sends the read on to the
  next; only when every replica tried said 404 is the answer 404).
- Writes go to every primary at once; an unreachable primary (or one whose
  disk is full, 507) is replaced by the next handoff.  The answer is the best
  status class that a majority quorum (``replicas // 2 + 1``) agrees on, as
  Swift's ``best_response``; without a quorum, 503.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from itertools import chain, islice

from stratus.objectstore.node.protocol import (
    NodeClient,
    NodeRequest,
    NodeResponse,
    NodeUnavailable,
)
from stratus.objectstore.ring.ring import Device, Ring

log = logging.getLogger(__name__)

NODE_TIMEOUT = 10.0  # seconds, for requests without a body
INFO_TTL = 5.0  # seconds an account's or container's HEAD is reused


def quorum_size(replicas: int) -> int:
    return replicas // 2 + 1


async def close_body(resp: NodeResponse | None) -> None:
    """Release a response whose body will not be read."""
    if resp is None or resp.body is None:
        return
    aclose = getattr(resp.body, "aclose", None)
    if aclose is not None:
        try:
            await aclose()
        except Exception:  # the node went away meanwhile: nothing to release
            pass
    resp.body = None


def best_response(responses: list[NodeResponse | None], quorum: int) -> NodeResponse:
    """The response of the status class a quorum agrees on (2xx first, then
    3xx, 4xx); within it, the highest status, as Swift chooses.  503 without a
    quorum."""
    got = [r for r in responses if r is not None]
    for base in (200, 300, 400):
        same = [r for r in got if base <= r.status < base + 100]
        if len(same) >= quorum:
            return max(same, key=lambda r: r.status)
    return NodeResponse(503)


@dataclass(frozen=True, slots=True)
class Place:
    """Where a name lives: its partition and primary devices."""

    partition: int
    nodes: list[Device]


HeadersFor = Callable[[int], dict[str, str]]  # replica index -> request headers


class Proxy:
    """Sends requests to the replicas the rings name, through ``client``."""

    def __init__(
        self,
        account_ring: Ring,
        container_ring: Ring,
        object_ring: Ring,
        client: NodeClient,
        *,
        node_timeout: float = NODE_TIMEOUT,
        info_ttl: float = INFO_TTL,
    ) -> None:
        self.account_ring = account_ring
        self.container_ring = container_ring
        self.object_ring = object_ring
        self.client = client
        self.node_timeout = node_timeout
        self.info_ttl = info_ttl
        self._info: dict[tuple[str, str | None], tuple[float, NodeResponse]] = {}

    # -- placement ---------------------------------------------------------------

    def ring_for(self, container: str | None, obj: str | None) -> Ring:
        if obj is not None:
            return self.object_ring
        if container is not None:
            return self.container_ring
        return self.account_ring

    def place(self, account: str, container: str | None = None, obj: str | None = None) -> Place:
        part, _hash, nodes = self.ring_for(container, obj).locate(account, container, obj)
        return Place(part, nodes)

    def candidates(self, ring: Ring, place: Place) -> Iterator[Device]:
        """Primaries, then as many handoffs as there are replicas."""
        return chain(place.nodes, islice(ring.handoffs(place.partition), ring.replicas))

    # -- one request -----------------------------------------------------------------

    async def send(
        self, dev: Device, req: NodeRequest, *, timeout: float | None = None
    ) -> NodeResponse | None:
        """One request to one device; None when the node cannot be reached."""
        try:
            coro = self.client.request(dev.ip, dev.port, req)
            if timeout is None:
                return await coro
            return await asyncio.wait_for(coro, timeout)
        except (NodeUnavailable, TimeoutError, OSError) as exc:
            log.warning(
                "objectstore: %s %s:%s/%s unavailable: %s",
                req.method,
                dev.ip,
                dev.port,
                dev.device,
                exc or type(exc).__name__,
            )
            return None

    # -- reads -------------------------------------------------------------------------

    async def read(
        self,
        method: str,
        account: str,
        container: str | None = None,
        obj: str | None = None,
        *,
        headers: dict[str, str] | None = None,
        query: dict[str, str] | None = None,
    ) -> NodeResponse:
        """GET or HEAD from the first replica that has the name."""
        ring = self.ring_for(container, obj)
        place = self.place(account, container, obj)
        not_found: NodeResponse | None = None
        timeout = self.node_timeout if method == "HEAD" or obj is None else None
        for dev in self.candidates(ring, place):
            req = NodeRequest(
                method,
                dev.device,
                place.partition,
                account,
                container,
                obj,
                headers=dict(headers or {}),
                query=dict(query or {}),
            )
            resp = await self.send(dev, req, timeout=timeout)
            if resp is not None:
                lower(resp)
            if resp is None or resp.status >= 500:
                await close_body(resp)
                continue
            if resp.status == 404:
                if not_found is None or _newer_tombstone(resp, not_found):
                    await close_body(not_found)
                    not_found = resp
                else:
                    await close_body(resp)
                continue
            await close_body(not_found)
            return resp
        return not_found or NodeResponse(503)

    # -- writes ------------------------------------------------------------------------

    async def write(
        self,
        method: str,
        account: str,
        container: str | None = None,
        obj: str | None = None,
        *,
        headers_for: HeadersFor,
        query: dict[str, str] | None = None,
    ) -> NodeResponse:
        """A bodiless write (PUT, POST, DELETE) to every replica; the quorum's answer."""
        ring = self.ring_for(container, obj)
        place = self.place(account, container, obj)
        handoffs = islice(ring.handoffs(place.partition), ring.replicas)

        async def one(index: int, dev: Device) -> NodeResponse | None:
            while True:
                req = NodeRequest(
                    method,
                    dev.device,
                    place.partition,
                    account,
                    container,
                    obj,
                    headers=headers_for(index),
                    query=dict(query or {}),
                )
                resp = await self.send(dev, req, timeout=self.node_timeout)
                if resp is not None and resp.status != 507:
                    return lower(resp)
                await close_body(resp)
                nxt = next(handoffs, None)
                if nxt is None:
                    return None
                dev = nxt

        results = await asyncio.gather(*(one(i, d) for i, d in enumerate(place.nodes)))
        best = best_response(list(results), quorum_size(len(place.nodes)))
        for resp in results:
            if resp is not best:
                await close_body(resp)
        return best

    def update_targets(
        self, account: str, container: str | None = None
    ) -> Callable[[int], dict[str, str]]:
        """Headers telling replica ``i`` of a container (or object) where the
        account (or container) listing update goes: replica ``i`` of the
        parent, as Swift pairs them."""
        kind = "container" if container is not None else "account"
        place = self.place(account, container)

        def headers(index: int) -> dict[str, str]:
            dev = place.nodes[index % len(place.nodes)]
            return {
                f"x-{kind}-host": f"{dev.ip}:{dev.port}",
                f"x-{kind}-device": dev.device,
                f"x-{kind}-partition": str(place.partition),
            }

        return headers

    # -- account and container info (a short-lived cache) ----------------------------

    async def info(self, account: str, container: str | None = None) -> NodeResponse:
        """HEAD of an account or container, reused for ``info_ttl`` seconds."""
        key = (account, container)
        now = time.monotonic()
        hit = self._info.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        resp = await self.read("HEAD", account, container)
        await close_body(resp)
        if resp.status < 500:
            if len(self._info) > 10_000:
                self._info.clear()
            self._info[key] = (now + self.info_ttl, resp)
        return resp

    def forget(self, account: str, container: str | None = None) -> None:
        self._info.pop((account, container), None)


def _newer_tombstone(resp: NodeResponse, than: NodeResponse) -> bool:
    mine = resp.headers.get("x-backend-timestamp", "")
    theirs = than.headers.get("x-backend-timestamp", "")
    return mine > theirs


async def iterate(data: bytes) -> AsyncIterator[bytes]:
    """A body of bytes, as a stream."""
    if data:
        yield data


# Node headers a client never sees: hop-by-hop, recomputed, or internal.
_HIDDEN = frozenset(
    {
        "content-length",
        "transfer-encoding",
        "connection",
        "date",
        "server",
        "x-trans-id",
        "x-openstack-request-id",
    }
)


def client_headers(headers: dict[str, str]) -> dict[str, str]:
    """A node's response headers as the client gets them (lower-case names)."""
    out: dict[str, str] = {}
    for name, value in headers.items():
        key = name.lower()
        if key in _HIDDEN or key.startswith("x-backend-"):
            continue
        out[key] = value
    return out


def count(headers: dict[str, str], name: str) -> int:
    """An integer header of a node's answer (0 when missing or garbled)."""
    value = headers.get(name) or headers.get(name.lower()) or "0"
    try:
        return int(value)
    except ValueError:
        return 0


def lower(resp: NodeResponse) -> NodeResponse:
    """The response with lower-case header names (the contract's convention)."""
    if any(k != k.lower() for k in resp.headers):
        resp.headers = {k.lower(): v for k, v in resp.headers.items()}
    return resp
