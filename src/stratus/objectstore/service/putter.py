"""An object's data streamed to all its replicas at once.

Each replica reads the body from its own small queue (``DEPTH`` chunks), fed
by one loop that reads the client's body: memory stays constant whatever the
object's size, and the upload goes as fast as the slowest live replica.

A replica counts as connected when its node starts reading the body (Swift's
``100 Continue``).  One that cannot be reached before that, or answers 507,
is replaced by a handoff; one that fails mid-stream is dropped, and the
upload goes on while a quorum of replicas is still reading.  When the upload
cannot finish (the client went away, the body is too large, the quorum is
lost), every replica's body ends with an error and its request is cancelled,
so that no node keeps a partial object.

A small body of known length (up to ``SMALL``) is read whole first and then
sent to every replica at once, without the queues: the same answers, with
less work per request for the many small objects.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

from stratus.objectstore.errors import ClientDisconnect, TooLarge, Unavailable
from stratus.objectstore.node.protocol import NodeRequest, NodeResponse
from stratus.objectstore.ring.ring import Device
from stratus.objectstore.service.quorum import HeadersFor, Proxy, best_response, lower, quorum_size

DEPTH = 4  # chunks buffered per replica
_END = object()  # sentinel: the body is complete
MAX_CHUNK = 1 << 20
SMALL = 64 << 10  # bodies read whole before the replicas are asked


class BodyAborted(Exception):
    """Raised inside a replica's body stream when the upload is abandoned."""


@dataclass(eq=False)
class _Feed:
    queue: asyncio.Queue[object] = field(default_factory=lambda: asyncio.Queue(DEPTH))
    pulled: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[NodeResponse | None] | None = None
    dead: bool = False

    async def stream(self) -> AsyncIterator[bytes]:
        self.pulled.set()
        while True:
            chunk = await self.queue.get()
            if chunk is None:
                raise BodyAborted("the upload was abandoned")
            if chunk is _END:
                return
            yield chunk  # type: ignore[misc]

    async def put(self, chunk: object) -> bool:
        """Hand one chunk to the replica; False if it stopped reading."""
        assert self.task is not None
        if self.dead or self.task.done():
            self.dead = True
            return False
        try:
            self.queue.put_nowait(chunk)
            return True
        except asyncio.QueueFull:
            pass
        put = asyncio.ensure_future(self.queue.put(chunk))
        done, _ = await asyncio.wait({put, self.task}, return_when=asyncio.FIRST_COMPLETED)
        if put in done:
            return True
        put.cancel()
        self.dead = True
        return False

    def abort(self) -> None:
        while not self.queue.empty():
            self.queue.get_nowait()
        self.queue.put_nowait(None)
        if self.task is not None:
            self.task.cancel()


async def put_object(
    proxy: Proxy,
    account: str,
    container: str,
    obj: str,
    *,
    headers_for: HeadersFor,
    body: AsyncIterator[bytes],
    expected_length: int | None,
    max_size: int,
) -> NodeResponse:
    """PUT an object's data to its replicas; the quorum's answer."""
    ring = proxy.object_ring
    place = proxy.place(account, container, obj)
    quorum = quorum_size(len(place.nodes))
    handoffs = iter(list(proxy.candidates(ring, place))[len(place.nodes) :])

    def request(index: int, dev: Device, body: AsyncIterator[bytes]) -> NodeRequest:
        return NodeRequest(
            "PUT",
            dev.device,
            place.partition,
            account,
            container,
            obj,
            headers=headers_for(index),
            body=body,
        )

    if expected_length is not None and expected_length <= min(SMALL, max_size):
        data = await _read_small(body, expected_length)

        async def whole(index: int, dev: Device) -> NodeResponse | None:
            while True:
                resp = await proxy.send(
                    dev, request(index, dev, _once(data)), timeout=proxy.node_timeout
                )
                if resp is not None and resp.status != 507:
                    await _buffer_body(resp)
                    return resp
                nxt = _next(handoffs)
                if nxt is None:
                    return None
                dev = nxt

        if len(place.nodes) == 1:
            replies = [await whole(0, place.nodes[0])]
        else:
            replies = list(await asyncio.gather(*(whole(i, d) for i, d in enumerate(place.nodes))))
        return lower(best_response(replies, quorum))

    async def connect(index: int, dev: Device) -> _Feed | NodeResponse | None:
        while True:
            feed = _Feed()
            feed.task = asyncio.ensure_future(proxy.send(dev, request(index, dev, feed.stream())))
            pulled = asyncio.ensure_future(feed.pulled.wait())
            await asyncio.wait(
                {feed.task, pulled}, timeout=proxy.node_timeout, return_when=asyncio.FIRST_COMPLETED
            )
            pulled.cancel()
            if feed.pulled.is_set():
                return feed
            if feed.task.done():
                resp = feed.task.result()
                if resp is not None and resp.status != 507:
                    return resp  # answered without reading: that replica's answer
            else:
                feed.task.cancel()
            nxt = _next(handoffs)
            if nxt is None:
                return None
            dev = nxt

    slots = await asyncio.gather(*(connect(i, d) for i, d in enumerate(place.nodes)))
    feeds = [s for s in slots if isinstance(s, _Feed)]
    answers: list[NodeResponse | None] = [s for s in slots if not isinstance(s, _Feed)]
    if len(feeds) < quorum:
        await _abandon(feeds)
        return best_response(answers, quorum) if answers else NodeResponse(503)

    total = 0
    try:
        async for chunk in body:
            if not chunk:
                continue
            total += len(chunk)
            if total > max_size:
                raise TooLarge("Your request is too large.")
            if expected_length is not None and total > expected_length:
                raise ClientDisconnect()
            for view in _split(chunk):
                live = 0
                for feed in feeds:
                    live += await feed.put(view)
                if live < quorum:
                    raise Unavailable()
        if expected_length is not None and total != expected_length:
            raise ClientDisconnect()
        for feed in feeds:
            await feed.put(_END)
    except BaseException as exc:
        await _abandon(feeds)
        if isinstance(exc, Exception) and not isinstance(
            exc, TooLarge | ClientDisconnect | Unavailable
        ):
            raise ClientDisconnect() from exc
        raise
    results: list[NodeResponse | None] = list(answers)
    for feed in feeds:
        assert feed.task is not None
        try:
            results.append(await feed.task)
        except (asyncio.CancelledError, Exception):
            results.append(None)
    for resp in results:
        await _buffer_body(resp)  # frees each node connection for reuse
    return lower(best_response(results, quorum))


async def _read_small(body: AsyncIterator[bytes], length: int) -> bytes:
    """A small body of known length, whole; ClientDisconnect when it is not
    that long."""
    parts: list[bytes] = []
    total = 0
    try:
        async for chunk in body:
            total += len(chunk)
            if total > length:
                raise ClientDisconnect()
            parts.append(chunk)
    except ClientDisconnect:
        raise
    except Exception as exc:
        raise ClientDisconnect() from exc
    if total != length:
        raise ClientDisconnect()
    return b"".join(parts)


async def _once(data: bytes) -> AsyncIterator[bytes]:
    if data:
        yield data


async def _buffer_body(resp: NodeResponse | None) -> None:
    """Read a (small) node answer's body now, so its connection goes back to
    the pool whichever answer the proxy passes on."""
    if resp is None or resp.body is None:
        return
    try:
        data = await resp.read()
    except Exception:  # the node went away: no body to pass on
        data = b""

    async def again() -> AsyncIterator[bytes]:
        if data:
            yield data

    resp.body = again()


def _next(it: Iterator[Device]) -> Device | None:
    return next(it, None)


def _split(chunk: bytes) -> Iterator[bytes]:
    """Large client chunks in pieces, so the buffers stay bounded."""
    if len(chunk) <= MAX_CHUNK:
        yield chunk
        return
    view = memoryview(chunk)
    for start in range(0, len(chunk), MAX_CHUNK):
        yield bytes(view[start : start + MAX_CHUNK])


async def _abandon(feeds: list[_Feed]) -> None:
    for feed in feeds:
        feed.abort()
    for feed in feeds:
        if feed.task is not None:
            with contextlib.suppress(BaseException):
                await feed.task
