"""The API's side of large objects: what a GET or HEAD of a manifest
answers, ``multipart-manifest=get`` and ``multipart-manifest=delete``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.responses import Response

from stratus.objectstore.errors import BadRequest, for_status
from stratus.objectstore.layers import bulk, dlo, segments, slo
from stratus.objectstore.layers.segments import Segment
from stratus.objectstore.node.protocol import NodeResponse
from stratus.objectstore.service import ObjectStoreService
from stratus.objectstore.service.quorum import close_body

JSON = "application/json; charset=utf-8"
Check = Callable[[str], Awaitable[None]]  # raises unless the caller may use that container


def is_large(headers: dict[str, str]) -> bool:
    return slo.is_slo(headers) or "x-object-manifest" in headers


@dataclass
class Whole:
    """A large object as a client sees it: its headers (ETag, length) and,
    for a GET, its segments."""

    headers: dict[str, str]
    size: int
    parts: list[Segment]

    def body(
        self, service: ObjectStoreService, account: str, span: tuple[int, int] | None
    ) -> AsyncIterator[bytes]:
        """The bytes of the whole, or of ``span`` (inclusive)."""
        parts = self.parts if span is None else segments.trim(self.parts, *span)
        return segments.stream(service, account, parts)


async def expand(
    service: ObjectStoreService,
    account: str,
    resp: NodeResponse,
    method: str,
    may_read: Check,
) -> Whole:
    """The large object of a manifest's GET or HEAD (the manifest's body
    consumed)."""
    headers = dict(resp.headers)
    if slo.is_slo(headers):
        view = slo.client_view(headers)
        parts: list[Segment] = []
        if method == "GET":
            entries = await slo.read_manifest(resp)
            for container in {(slo.split_path(e.get("name")) or ("", ""))[0] for e in entries}:
                await may_read(container)
            parts = await slo.plan(service, account, entries)
        await close_body(resp)
        size = int(view.get("content-length", "0") or 0)
        if parts:
            size = sum(p.size for p in parts)
        view["content-length"] = str(size)
        return Whole(view, size, parts)
    await close_body(resp)
    container, prefix = dlo.target(headers["x-object-manifest"])
    await may_read(container)
    entries = await dlo.listing(service, account, container, prefix)
    size = dlo.size_of(entries)
    headers["etag"] = dlo.etag_of(entries)
    headers["content-length"] = str(size)
    return Whole(headers, size, dlo.plan(container, entries))


async def manifest(resp: NodeResponse, raw_format: bool) -> Response:
    """``multipart-manifest=get`` of an SLO: the stored manifest, or with
    ``format=raw`` the form a manifest PUT takes."""
    entries = await slo.read_manifest(resp)
    headers = {k: v for k, v in resp.headers.items() if k not in ("content-length", "content-type")}
    if raw_format:
        entries = [_put_form(e) for e in entries]
        headers.pop("etag", None)
    return Response(orjson.dumps(entries), 200, headers=headers, media_type=JSON)


def _put_form(entry: dict[str, Any]) -> dict[str, Any]:
    out = {"path": entry.get("name"), "etag": entry.get("hash"), "size_bytes": entry.get("bytes")}
    if entry.get("range"):
        out["range"] = entry["range"]
    return out


async def delete(
    service: ObjectStoreService,
    account: str,
    container: str,
    obj: str,
    accept: str,
    may_delete: Check,
) -> Response:
    """``multipart-manifest=delete``: the segments (sub-manifests' too), then
    the manifest; answered as a bulk delete."""
    resp = await service.objects.read("GET", account, container, obj)
    if resp.status >= 300:
        await close_body(resp)
        raise for_status(resp.status)
    if not slo.is_slo(resp.headers):
        await close_body(resp)
        raise BadRequest("Not an SLO manifest")
    paths = await _segment_paths(service, account, await slo.read_manifest(resp), 0)
    paths.append(f"/{container}/{obj}")

    async def one(c: str, o: str | None) -> int:
        await may_delete(c)
        assert o is not None
        return (await service.objects.delete(account, c, o)).status

    outcome = await bulk.run(paths, one)
    return bulk.render(outcome, accept)


async def _segment_paths(
    service: ObjectStoreService, account: str, entries: list[dict[str, Any]], depth: int
) -> list[str]:
    out: list[str] = []
    for e in entries:
        name = str(e.get("name", ""))
        if e.get("sub_slo") and depth < slo.MAX_DEPTH:
            c, o = slo.split_path(name) or ("", "")
            sub = await service.objects.read("GET", account, c, o)
            if sub.status == 200 and slo.is_slo(sub.headers):
                out += await _segment_paths(
                    service, account, await slo.read_manifest(sub), depth + 1
                )
            else:
                await close_body(sub)
        out.append(name)
    return out


async def empty() -> AsyncIterator[bytes]:
    return
    yield b""  # pragma: no cover
