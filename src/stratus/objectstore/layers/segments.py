"""What static and dynamic large objects share: the segments that make up
the whole, streamed in order from the layer beneath, restricted to a
client's range; and the answer to a GET or HEAD of the whole."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace

from stratus.common.ranges import parse_ranges
from stratus.objectstore.drivers.timestamp import Timestamp
from stratus.objectstore.errors import RangeNotSatisfiable
from stratus.objectstore.service.conditions import evaluate, slice_stream
from stratus.objectstore.service.interface import (
    Caller,
    Headers,
    Names,
    ObjectStore,
    Pieced,
    Reply,
)
from stratus.objectstore.service.quorum import close_body

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Segment:
    container: str
    obj: str
    first: int  # inclusive byte span of the segment object
    last: int
    etag: str | None = None  # checked when the whole segment is read
    data: bytes | None = None  # an SLO's inline data segment: no object to read

    @property
    def size(self) -> int:
        return self.last - self.first + 1


RAW = {"multipart-manifest": "get"}  # a segment as stored, never expanded


class SegmentError(Exception):
    """A segment is missing or changed while the large object is served."""


def trim(segments: list[Segment], first: int, last: int) -> list[Segment]:
    """The segments' spans covering bytes ``first..last`` of the whole."""
    out: list[Segment] = []
    pos = 0
    for seg in segments:
        start, end = pos, pos + seg.size - 1
        pos += seg.size
        if end < first or seg.size <= 0:
            continue
        if start > last:
            break
        lo = seg.first + max(0, first - start)
        hi = seg.first + min(seg.size - 1, last - start)
        out.append(replace(seg, first=lo, last=hi))
    return out


async def stream(
    app: ObjectStore, caller: Caller, account: str, segments: list[Segment]
) -> AsyncIterator[bytes]:
    """The segments' bytes, one segment after the other.  A segment that
    fails ends the stream early (the client sees a short body, as Swift's)."""
    for seg in segments:
        if seg.data is not None:
            yield seg.data[seg.first : seg.last + 1]
            continue
        headers = {"range": f"bytes={seg.first}-{seg.last}"}
        if seg.etag:
            headers["if-match"] = seg.etag
        names = (account, seg.container, seg.obj)
        resp = await app.get_object(caller, names, headers, RAW, head=False)
        if resp.status not in (200, 206) or resp.body is None:
            await close_body(resp)
            log.warning(
                "objectstore: segment %s/%s/%s answered %s; the large object is cut short",
                account,
                seg.container,
                seg.obj,
                resp.status,
            )
            raise SegmentError(f"{seg.container}/{seg.obj}: {resp.status}")
        body = resp.body
        if resp.status == 200 and seg.first > 0:
            body = slice_stream(body, seg.first, seg.last)
        sent = 0
        try:
            async for chunk in body:
                if sent + len(chunk) > seg.size:
                    chunk = chunk[: seg.size - sent]
                sent += len(chunk)
                if chunk:
                    yield chunk
                if sent >= seg.size:
                    break
        finally:
            await close_body(resp)


async def read_whole(
    app: ObjectStore,
    caller: Caller,
    names: Names,
    headers: Headers,
    params: Headers,
    first: Reply,
    is_manifest: Callable[[Headers], bool],
) -> Reply:
    """A ranged GET answers the manifest's own bytes: when ``first`` (that
    answer) is of a manifest, the manifest read whole instead."""
    if "range" not in headers or first.status not in (206, 416):
        return first
    probe = first.headers
    if first.status == 416:
        head = await app.get_object(caller, names, {}, params, head=True)
        probe = head.headers if head.status < 300 else {}
    if not is_manifest(probe):
        return first
    await close_body(first)
    whole = {k: v for k, v in headers.items() if k != "range"}
    return await app.get_object(caller, names, whole, params, head=False)


def answer(
    app: ObjectStore,
    caller: Caller,
    account: str,
    headers: dict[str, str],
    parts: list[Segment],
    request: Headers,
    head: bool,
) -> Reply:
    """The large object's answer: its headers, and for a GET its segments'
    bytes, or those of the one range asked for (206; 416 when none is in
    it).  A failed precondition leaves the answer whole for the API to
    judge, as for any object."""
    size = int(headers.get("content-length", "0") or 0)
    status = 200
    span: tuple[int, int] | None = None
    wanted = request.get("range")
    if (
        wanted
        and not head
        and evaluate(request, headers.get("etag", ""), _modified(headers)) is None
    ):
        ranges = parse_ranges(wanted)
        if ranges is not None and len(ranges) == 1:
            span = ranges[0].span(size)
            if span is None:
                raise RangeNotSatisfiable(headers={"content-range": f"bytes */{size}"})
            status = 206
            headers["content-range"] = f"bytes {span[0]}-{span[1]}/{size}"
            headers["content-length"] = str(span[1] - span[0] + 1)
    if head:
        return Reply(status, headers)
    chosen = parts if span is None else trim(parts, *span)
    return Reply(status, headers, Pieced(stream(app, caller, account, chosen)))


def _modified(headers: dict[str, str]) -> str:
    stamp = headers.get("x-timestamp")
    if "last-modified" not in headers and stamp:
        return Timestamp(stamp).http_date
    return headers.get("last-modified", "")
