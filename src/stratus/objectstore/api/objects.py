"""Object handlers: PUT (and X-Copy-From), GET, HEAD, POST, DELETE, COPY.

Each hands the request to the layer stack as it came (names, headers,
query, body) and renders the answer: what a large object, a TempURL or a
versioned container makes of a request is the layers' business.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from starlette.responses import Response

from stratus.common.api import ApiRequest
from stratus.common.ranges import parse_ranges
from stratus.objectstore.api import accounts
from stratus.objectstore.api.accounts import store
from stratus.objectstore.api.render import (
    answer,
    body_of,
    close,
    page,
    status_only,
    streaming,
    wire,
)
from stratus.objectstore.api.request import caller_of, client_headers
from stratus.objectstore.drivers.timestamp import Timestamp
from stratus.objectstore.errors import (
    HTML,
    PreconditionFailed,
    RangeNotSatisfiable,
    for_status,
)
from stratus.objectstore.errors import (
    body_of as error_body,
)
from stratus.objectstore.service.conditions import evaluate, slice_stream
from stratus.objectstore.service.interface import PAGE, Names, ObjectStore, Pieced, Reply
from stratus.objectstore.service.names import split_target

SYSMETA = ("x-object-sysmeta-", "x-object-transient-sysmeta-")
SMALL_BODY = 64 << 10  # object bodies up to this size are answered in one piece


def _names(req: ApiRequest[ObjectStore]) -> Names:
    return req.params["account"], req.params["container"], req.params["object"]


async def create(req: ApiRequest[ObjectStore]) -> Response:
    caller = caller_of(req)
    if "extract-archive" in caller.params:
        return await accounts.extract(req)
    headers = client_headers(req)
    resp = await store(req).put_object(
        caller, _names(req), headers, caller.params, body_of(req.raw)
    )
    return status_only(resp.status, resp.headers)


async def copy(req: ApiRequest[ObjectStore]) -> Response:
    account, container, obj = _names(req)
    headers = client_headers(req)
    destination = headers.get("destination")
    if not destination:
        raise PreconditionFailed("You must specify a destination")
    dst_container, dst_obj = split_target(destination, store(req).limits)  # type: ignore[attr-defined]
    dest = (headers.get("destination-account") or account, dst_container, dst_obj)
    resp = await store(req).copy_object(caller_of(req), (account, container, obj), dest, headers)
    return status_only(resp.status, resp.headers)


async def show(req: ApiRequest[ObjectStore]) -> Response:
    return await _read(req, head=True)


async def download(req: ApiRequest[ObjectStore]) -> Response:
    return await _read(req, head=False)


async def _read(req: ApiRequest[ObjectStore], *, head: bool) -> Response:
    caller = caller_of(req)
    wanted = client_headers(req)
    resp = await store(req).get_object(caller, _names(req), wanted, caller.params, head=head)
    if PAGE in resp.headers:
        return await page(resp)
    if resp.status == 416 and "content-range" in resp.headers:
        raise RangeNotSatisfiable(headers={"content-range": resp.headers["content-range"]})
    if resp.status >= 300 and resp.status != 206:
        await close(resp.body)
        raise for_status(resp.status)
    return await _object_response(resp, wanted, head)


async def _object_response(resp: Reply, wanted: dict[str, str], head: bool) -> Response:
    headers = {k: v for k, v in resp.headers.items() if not k.startswith(SYSMETA)}
    stamp = headers.get("x-timestamp")
    if "last-modified" not in headers and stamp:
        headers["last-modified"] = Timestamp(stamp).http_date
    headers.setdefault("accept-ranges", "bytes")
    headers.setdefault("content-type", "application/octet-stream")
    body = resp.body
    try:
        outcome = evaluate(wanted, headers.get("etag", ""), headers.get("last-modified", ""))
    except Exception:
        await close(body)
        raise
    if outcome == 304:
        await close(body)
        kept: dict[str, str] = {
            k: headers[k] for k in ("etag", "last-modified", "x-timestamp") if k in headers
        }
        return Response(b"", 304, headers=wire(kept))
    status = resp.status
    if status == 200 and "range" in wanted and not head and body is not None:
        body, status = _one_range(body, wanted["range"], headers)
    if head or body is None:
        await close(body)
        return Response(b"", status, headers=wire(headers))
    length = headers.get("content-length", "")
    if not isinstance(body, Pieced) and length.isdigit() and int(length) <= SMALL_BODY:
        # Small: read whole and answered in one piece, without a streaming
        # response's machinery (a task group watching for a disconnect).
        try:
            data = b"".join([chunk async for chunk in body])
        except Exception:
            data = b""
        if len(data) == int(length):
            return Response(data, status, headers=wire(headers))
        raise for_status(503)  # the replica went away mid-read
    return streaming(body, status, headers)


def _one_range(
    body: AsyncIterator[bytes], header: str, headers: dict[str, str]
) -> tuple[AsyncIterator[bytes], int]:
    """A whole object's answer cut to the one range asked for, where the
    storage answered whole; a Range that does not parse is ignored."""
    ranges = parse_ranges(header)
    if ranges is None or len(ranges) != 1:
        return body, 200
    size = int(headers.get("content-length", "0"))
    span = ranges[0].span(size)
    if span is None:
        raise RangeNotSatisfiable(headers={"content-range": f"bytes */{size}"})
    first, last = span
    headers["content-range"] = f"bytes {first}-{last}/{size}"
    headers["content-length"] = str(last - first + 1)
    return slice_stream(body, first, last), 206


async def update(req: ApiRequest[ObjectStore]) -> Response:
    caller = caller_of(req)
    headers = client_headers(req)
    resp = await store(req).post_object(
        caller, _names(req), headers, caller.params, body_of(req.raw)
    )
    if resp.body is not None:
        return await answer(resp)
    if resp.status >= 300:
        raise for_status(resp.status)
    return Response(error_body(202), 202, media_type=HTML)


async def delete(req: ApiRequest[ObjectStore]) -> Response:
    caller = caller_of(req)
    resp = await store(req).delete_object(caller, _names(req), client_headers(req), caller.params)
    return await answer(resp)
