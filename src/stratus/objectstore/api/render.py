"""Answers of the object store's interface as HTTP responses."""

from __future__ import annotations

from collections.abc import AsyncIterator

from starlette.requests import ClientDisconnect as StarletteDisconnect
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from stratus.objectstore.api import listing
from stratus.objectstore.api.listing import wire
from stratus.objectstore.drivers.timestamp import Timestamp
from stratus.objectstore.errors import ClientDisconnect, for_status
from stratus.objectstore.service.interface import PAGE, Reply

SYSMETA = ("x-object-sysmeta-", "x-object-transient-sysmeta-", "x-backend-")


def status_only(status: int, headers: dict[str, str] | None = None) -> Response:
    """A bodiless answer, or Swift's error for the status."""
    if status >= 300:
        raise for_status(status)
    return Response(b"", status, headers=wire(headers), media_type=listing.PLAIN)


def stats(status: int, headers: dict[str, str]) -> Response:
    """An account's or container's HEAD: Swift's 204 says Content-Length: 0,
    and a container's carries Last-Modified (of its creation, X-Put-Timestamp)."""
    return status_only(status, {**listing.dated(headers), "content-length": "0"})


async def answer(reply: Reply) -> Response:
    """A layer's own answer with its body (a bulk delete's outcome, a
    manifest, a FormPost page) as it is; a bodiless one as ``status_only``."""
    if reply.body is None:
        return status_only(reply.status, reply.headers)
    data = await reply.read()
    headers = {
        k: v for k, v in reply.headers.items() if k not in ("content-length", "content-type")
    }
    media = reply.headers.get("content-type", listing.PLAIN)
    return Response(data, reply.status, headers=wire(headers), media_type=media)


async def page(reply: Reply) -> Response:
    """A page a layer made whole (``PAGE``): its status, headers and body as
    they are (a HEAD's without the body, its Content-Length kept)."""
    data = await reply.read()
    headers = {k: v for k, v in reply.headers.items() if k != PAGE and not k.startswith(SYSMETA)}
    if reply.body is not None:
        headers["content-length"] = str(len(data))
    stamp = headers.get("x-timestamp")
    if stamp and "last-modified" not in headers:  # an object served as a page
        headers["last-modified"] = Timestamp(stamp).http_date
    return Response(data, reply.status, headers=wire(headers))


async def body_of(request: Request) -> AsyncIterator[bytes]:
    """The request's body; a client gone midway is Swift's 499."""
    try:
        async for chunk in request.stream():
            if chunk:
                yield chunk
    except StarletteDisconnect as exc:
        raise ClientDisconnect() from exc


async def close(body: AsyncIterator[bytes] | None) -> None:
    aclose = getattr(body, "aclose", None)
    if aclose is not None:
        await aclose()


def streaming(body: AsyncIterator[bytes], status: int, headers: dict[str, str]) -> Response:
    return StreamingResponse(body, status, headers=wire(headers))
