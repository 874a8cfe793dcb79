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
from asyncio import FIRST_COMPLETED
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

from stratus.objectstore.errors import ClientDisconnect, TooLarge, Unavailable
from stratus.objectstore.node.protocol import NodeRequest, NodeResponse
from stratus.objectstore.ring.ring import Device
from stratus.objectstore.service.quorum import (
    HeadersFor,
    Place,
    Proxy,
    best_response,
    lower,
    quorum_size,
)

DEPTH = 4  # chunks buffered per replica
_END = object()  # sentinel: the body is complete
MAX_CHUNK = 1 << 20
SMALL = 64 << 10  # bodies read whole before the replicas are asked


class BodyAborted(Exception):
    """Raised inside a replica's body stream when the upload is abandoned."""


@dataclass(frozen=True, slots=True)
class Upload:
    """One object PUT: where it goes, what each replica is told, the body."""

    proxy: Proxy
    names: tuple[str, str, str]
    place: Place
    handoffs: Iterator[Device]
    headers_for: HeadersFor

    def request(self, index: int, dev: Device, body: AsyncIterator[bytes]) -> NodeRequest:
        return NodeRequest(
            "PUT",
            dev.device,
            self.place.partition,
            *self.names,
            headers=self.headers_for(index),
            body=body,
        )

    def next_device(self) -> Device | None:
        """The next handoff, standing in for a primary that failed."""
        return next(self.handoffs, None)


class Putter:
    """The PUT to one replica, as Swift's proxy keeps one per connection: the
    node reads the body from this putter's own small queue (``DEPTH``
    chunks), so memory stays constant and the upload goes as fast as the
    slowest live replica.  It counts as connected once the node starts
    reading (Swift's ``100 Continue``)."""

    def __init__(self, upload: Upload, index: int) -> None:
        self.upload = upload
        self.index = index
        self.queue: asyncio.Queue[object] = asyncio.Queue(DEPTH)
        self.pulled = asyncio.Event()
        self.task: asyncio.Task[NodeResponse | None] | None = None
        self.dead = False

    @classmethod
    async def connect(cls, upload: Upload, index: int, dev: Device) -> Putter | NodeResponse | None:
        """A putter whose node is reading, trying handoffs for a node that
        cannot be reached or answers 507; or the answer of a node that
        answered without reading; None when every candidate failed."""
        timeout = upload.proxy.node_timeout
        while True:
            putter = cls(upload, index)
            request = upload.request(index, dev, putter.stream())
            task = putter.task = asyncio.ensure_future(upload.proxy.send(dev, request))
            pulled = asyncio.ensure_future(putter.pulled.wait())
            await asyncio.wait({task, pulled}, timeout=timeout, return_when=FIRST_COMPLETED)
            pulled.cancel()
            if putter.pulled.is_set():
                return putter
            if task.done():
                resp = task.result()
                if resp is not None and resp.status != 507:
                    return resp  # answered without reading: that replica's answer
            else:
                task.cancel()
            nxt = upload.next_device()
            if nxt is None:
                return None
            dev = nxt

    async def stream(self) -> AsyncIterator[bytes]:
        """The body as the node reads it."""
        self.pulled.set()
        while True:
            chunk = await self.queue.get()
            if chunk is None:
                raise BodyAborted("the upload was abandoned")
            if chunk is _END:
                return
            yield chunk  # type: ignore[misc]

    async def send(self, chunk: object) -> bool:
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
        done, _ = await asyncio.wait({put, self.task}, return_when=FIRST_COMPLETED)
        if put in done:
            return True
        put.cancel()
        self.dead = True
        return False

    async def finish(self) -> NodeResponse | None:
        """The node's answer, once the whole body went (None if it failed)."""
        assert self.task is not None
        try:
            resp = await self.task
        except (asyncio.CancelledError, Exception):
            return None
        await _buffer_body(resp)  # frees the node connection for reuse
        return resp

    def abort(self) -> None:
        """End the node's body with an error, so it keeps no partial object."""
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
    place = proxy.place(account, container, obj)
    handoffs = iter(list(proxy.candidates(proxy.object_ring, place))[len(place.nodes) :])
    upload = Upload(proxy, (account, container, obj), place, handoffs, headers_for)
    if expected_length is not None and expected_length <= min(SMALL, max_size):
        return await _put_small(upload, await _read_small(body, expected_length))
    quorum = quorum_size(len(place.nodes))
    slots = await asyncio.gather(*(Putter.connect(upload, i, d) for i, d in enumerate(place.nodes)))
    putters = [s for s in slots if isinstance(s, Putter)]
    answers: list[NodeResponse | None] = [s for s in slots if not isinstance(s, Putter)]
    if len(putters) < quorum:
        await _abandon(putters)
        return best_response(answers, quorum) if answers else NodeResponse(503)
    try:
        await _feed(putters, body, expected_length, max_size, quorum)
    except BaseException as exc:
        await _abandon(putters)
        if isinstance(exc, Exception) and not isinstance(
            exc, TooLarge | ClientDisconnect | Unavailable
        ):
            raise ClientDisconnect() from exc
        raise
    results = answers + [await p.finish() for p in putters]
    for resp in answers:
        await _buffer_body(resp)
    return lower(best_response(results, quorum))


async def _feed(
    putters: list[Putter],
    body: AsyncIterator[bytes],
    expected_length: int | None,
    max_size: int,
    quorum: int,
) -> None:
    """The client's body to every putter, checked against the declared
    length and the size limit; 503 once fewer than a quorum still read."""
    total = 0
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
            for putter in putters:
                live += await putter.send(view)
            if live < quorum:
                raise Unavailable()
    if expected_length is not None and total != expected_length:
        raise ClientDisconnect()
    for putter in putters:
        await putter.send(_END)


async def _put_small(upload: Upload, data: bytes) -> NodeResponse:
    """A small body, known whole, sent to every replica at once (no queues)."""
    proxy, nodes = upload.proxy, upload.place.nodes

    async def whole(index: int, dev: Device) -> NodeResponse | None:
        while True:
            request = upload.request(index, dev, _once(data))
            resp = await proxy.send(dev, request, timeout=proxy.node_timeout)
            if resp is not None and resp.status != 507:
                await _buffer_body(resp)
                return resp
            nxt = upload.next_device()
            if nxt is None:
                return None
            dev = nxt

    if len(nodes) == 1:
        replies = [await whole(0, nodes[0])]
    else:
        replies = list(await asyncio.gather(*(whole(i, d) for i, d in enumerate(nodes))))
    return lower(best_response(replies, quorum_size(len(nodes))))


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


def _split(chunk: bytes) -> Iterator[bytes]:
    """Large client chunks in pieces, so the buffers stay bounded."""
    if len(chunk) <= MAX_CHUNK:
        yield chunk
        return
    view = memoryview(chunk)
    for start in range(0, len(chunk), MAX_CHUNK):
        yield bytes(view[start : start + MAX_CHUNK])


async def _abandon(putters: list[Putter]) -> None:
    for putter in putters:
        putter.abort()
    for putter in putters:
        if putter.task is not None:
            with contextlib.suppress(BaseException):
                await putter.task
