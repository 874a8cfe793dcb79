"""A large object's segments, streamed in order: the byte span of each
segment object that makes up the whole, restricted to a client's range."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace

from stratus.objectstore.api.ranges import slice_stream
from stratus.objectstore.service import ObjectStoreService
from stratus.objectstore.service.quorum import close_body

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Segment:
    container: str
    obj: str
    first: int  # inclusive byte span of the segment object
    last: int
    etag: str | None = None  # checked when the whole segment is read

    @property
    def size(self) -> int:
        return self.last - self.first + 1


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
    service: ObjectStoreService, account: str, segments: list[Segment]
) -> AsyncIterator[bytes]:
    """The segments' bytes, one segment after the other.  A segment that
    fails ends the stream early (the client sees a short body, as Swift's)."""
    for seg in segments:
        headers = {"range": f"bytes={seg.first}-{seg.last}"}
        if seg.etag:
            headers["if-match"] = seg.etag
        resp = await service.objects.read("GET", account, seg.container, seg.obj, headers)
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
