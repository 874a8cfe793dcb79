"""Object handlers: PUT (and X-Copy-From), GET, HEAD, POST, DELETE, COPY."""

from __future__ import annotations

from collections.abc import AsyncIterator

from starlette.requests import ClientDisconnect as StarletteDisconnect
from starlette.responses import Response, StreamingResponse

from stratus.common.api import ApiRequest
from stratus.objectstore.api import ranges
from stratus.objectstore.api.accounts import status_only, svc
from stratus.objectstore.api.auth import authorize
from stratus.objectstore.api.headers import object_headers, true
from stratus.objectstore.api.request import split_target
from stratus.objectstore.drivers.timestamp import Timestamp
from stratus.objectstore.errors import (
    HTML,
    BadRequest,
    ClientDisconnect,
    LengthRequired,
    NotImplementedYet,
    PreconditionFailed,
    RangeNotSatisfiable,
    TooLarge,
    body_of,
    for_status,
)
from stratus.objectstore.layers import dlo, large, slo, versioning

SYSMETA = ("x-object-sysmeta-", "x-object-transient-sysmeta-")
READ_ACL = "x-container-read"
WRITE_ACL = "x-container-write"


def _names(req: ApiRequest) -> tuple[str, str, str]:
    return req.params["account"], req.params["container"], req.params["object"]


def _length(req: ApiRequest) -> int | None:
    """The declared body length; None for a chunked body."""
    encoding = req.raw.headers.get("transfer-encoding")
    if encoding is not None:
        if encoding.strip().lower() != "chunked":
            raise NotImplementedYet()
        return None
    value = req.raw.headers.get("content-length")
    if value is None:
        raise LengthRequired()
    try:
        length = int(value)
    except ValueError as exc:
        raise BadRequest("Invalid Content-Length") from exc
    if length < 0:
        raise BadRequest("Invalid Content-Length")
    return length


async def _body(req: ApiRequest) -> AsyncIterator[bytes]:
    try:
        async for chunk in req.raw.stream():
            if chunk:
                yield chunk
    except StarletteDisconnect as exc:
        raise ClientDisconnect() from exc


async def create(req: ApiRequest) -> Response:
    account, container, obj = _names(req)
    await authorize(req, "object_store:put_object", account, container, acl=WRITE_ACL)
    service = svc(req)
    length = _length(req)
    copy_from = req.raw.headers.get("x-copy-from")
    headers = object_headers(req.raw.headers.items(), obj, service.limits, new=True)
    mm = req.raw.query_params.get("multipart-manifest")
    if "x-static-large-object" in req.raw.headers and mm != "put":
        raise BadRequest(slo.RESERVED)
    if "x-object-manifest" in headers:
        headers["x-object-manifest"] = dlo.check(headers["x-object-manifest"])
    if copy_from is None:
        await versioning.before_put(service, account, container, obj, _writer(req, account))
    if mm == "put" and copy_from is None:
        return await _put_manifest(req, (account, container, obj), headers, length)
    if copy_from is not None:
        if length:
            raise BadRequest("Copy requests require a zero byte body")
        src_container, src_obj = split_target(copy_from, service.limits)
        src_account = req.raw.headers.get("x-copy-from-account") or account
        return await _copy(req, (src_account, src_container, src_obj), (account, container, obj))
    resp = await service.objects.put(account, container, obj, headers, _body(req), length)
    return status_only(resp.status, resp.headers)


async def _put_manifest(
    req: ApiRequest, names: tuple[str, str, str], headers: dict[str, str], length: int | None
) -> Response:
    if length is not None and length > slo.MAX_MANIFEST_SIZE:
        raise TooLarge(f"Manifest File > {slo.MAX_MANIFEST_SIZE} bytes")
    data = b""
    async for chunk in _body(req):
        data += chunk
        if len(data) > slo.MAX_MANIFEST_SIZE:
            raise TooLarge(f"Manifest File > {slo.MAX_MANIFEST_SIZE} bytes")

    async def may_read(c: str) -> None:
        await authorize(req, "object_store:get_object", names[0], c, acl=READ_ACL)

    resp = await slo.put(svc(req), *names, headers, data, may_read)
    return status_only(resp.status, resp.headers)


async def copy(req: ApiRequest) -> Response:
    account, container, obj = _names(req)
    service = svc(req)
    destination = req.raw.headers.get("destination")
    if not destination:
        raise PreconditionFailed("You must specify a destination")
    dst_container, dst_obj = split_target(destination, service.limits)
    dst_account = req.raw.headers.get("destination-account") or account
    await authorize(req, "object_store:put_object", dst_account, dst_container, acl=WRITE_ACL)
    return await _copy(req, (account, container, obj), (dst_account, dst_container, dst_obj))


async def _copy(
    req: ApiRequest, source: tuple[str, str, str], dest: tuple[str, str, str]
) -> Response:
    await authorize(req, "object_store:get_object", source[0], source[1], acl=READ_ACL)
    service = svc(req)
    await versioning.before_put(service, *dest, _writer(req, dest[0]))
    headers = object_headers(req.raw.headers.items(), dest[2], service.limits, new=False)
    if "content-type" in req.raw.headers:
        headers["content-type"] = req.raw.headers["content-type"]
    fresh = true(req.raw.headers.get("x-fresh-metadata"))
    resp = await service.objects.copy(source, dest, headers, fresh_metadata=fresh)
    return status_only(resp.status, resp.headers)


async def show(req: ApiRequest) -> Response:
    return await _read(req, "HEAD")


SMALL_BODY = 64 << 10  # object bodies up to this size are answered in one piece


async def download(req: ApiRequest) -> Response:
    return await _read(req, "GET")


async def _read(req: ApiRequest, method: str) -> Response:
    account, container, obj = _names(req)
    await authorize(req, "object_store:get_object", account, container, acl=READ_ACL)
    service = svc(req)
    wanted = {k.lower(): v for k, v in req.raw.headers.items()}
    mm = req.raw.query_params.get("multipart-manifest")
    forward = {}
    if method == "GET" and "range" in wanted:
        forward["range"] = wanted["range"]
    resp = await service.objects.read(method, account, container, obj, forward)
    if forward and resp.status in (206, 416):
        # A manifest's bytes are not the large object's: read it whole.
        probe = await service.objects.read("HEAD", account, container, obj)
        if probe.status < 300 and large.is_large(probe.headers) and mm != "get":
            await _close(resp.body)
            resp = await service.objects.read(method, account, container, obj)
    if resp.status == 416 and "content-range" in resp.headers:
        raise RangeNotSatisfiable(headers={"content-range": resp.headers["content-range"]})
    if resp.status >= 300 and resp.status != 206:
        raise for_status(resp.status)
    whole: large.Whole | None = None
    if mm == "get" and slo.is_slo(resp.headers) and method == "GET":
        return await large.manifest(resp, req.raw.query_params.get("format") == "raw")
    if mm != "get" and large.is_large(resp.headers):

        async def may_read(c: str) -> None:
            await authorize(req, "object_store:get_object", account, c, acl=READ_ACL)

        whole = await large.expand(service, account, resp, method, may_read)
        resp.body = None
    headers = whole.headers if whole is not None else resp.headers
    headers = {k: v for k, v in headers.items() if not k.startswith(SYSMETA)}
    stamp = headers.get("x-timestamp")
    if "last-modified" not in headers and stamp:
        headers["last-modified"] = Timestamp(stamp).http_date
    headers.setdefault("accept-ranges", "bytes")
    headers.setdefault("content-type", "application/octet-stream")
    body = resp.body
    try:
        outcome = ranges.evaluate(wanted, headers.get("etag", ""), headers.get("last-modified", ""))
    except Exception:
        await _close(body)
        raise
    if outcome == 304:
        await _close(body)
        kept: dict[str, str] = {
            k: headers[k] for k in ("etag", "last-modified", "x-timestamp") if k in headers
        }
        return Response(b"", 304, headers=kept)
    status = resp.status
    span: tuple[int, int] | None = None
    if status == 200 and "range" in wanted and method == "GET":
        size = int(headers.get("content-length", "0"))
        try:
            span = ranges.parse_range(wanted["range"], size)
        except Exception:
            await _close(body)
            raise
        if span is not None:
            first, last = span
            status = 206
            headers["content-range"] = f"bytes {first}-{last}/{size}"
            headers["content-length"] = str(last - first + 1)
            body = ranges.slice_stream(body, first, last) if body is not None else None
    if whole is not None and method == "GET":
        body = whole.body(service, account, span)
    if method == "HEAD" or body is None:
        await _close(body)
        return Response(b"", status, headers=headers)
    length = headers.get("content-length", "")
    if whole is None and length.isdigit() and int(length) <= SMALL_BODY:
        # Small: read whole and answered in one piece, without a streaming
        # response's machinery (a task group watching for a disconnect).
        try:
            data = b"".join([chunk async for chunk in body])
        except Exception:
            data = b""
        if len(data) == int(length):
            return Response(data, status, headers=headers)
        raise for_status(503)  # the replica went away mid-read
    return StreamingResponse(body, status, headers=headers)


async def _close(body: AsyncIterator[bytes] | None) -> None:
    aclose = getattr(body, "aclose", None)
    if aclose is not None:
        await aclose()


async def update(req: ApiRequest) -> Response:
    account, container, obj = _names(req)
    await authorize(req, "object_store:post_object", account, container, acl=WRITE_ACL)
    service = svc(req)
    headers = object_headers(req.raw.headers.items(), obj, service.limits, new=False)
    resp = await service.objects.post(account, container, obj, headers)
    if resp.status >= 300:
        raise for_status(resp.status)
    return Response(body_of(202), 202, media_type=HTML)


async def delete(req: ApiRequest) -> Response:
    account, container, obj = _names(req)
    await authorize(req, "object_store:delete_object", account, container, acl=WRITE_ACL)
    if req.raw.query_params.get("multipart-manifest") == "delete":

        async def may_delete(c: str) -> None:
            await authorize(req, "object_store:delete_object", account, c, acl=WRITE_ACL)

        accept = req.raw.headers.get("accept", "")
        return await large.delete(svc(req), account, container, obj, accept, may_delete)
    return status_only(await delete_one(req, account, container, obj))


async def delete_one(req: ApiRequest, account: str, container: str, obj: str) -> int:
    """The status of an object's DELETE (versioning applied), the caller authorized."""
    service = svc(req)
    resp = await versioning.delete(service, account, container, obj, _writer(req, account))
    if resp is None:
        resp = await service.objects.delete(account, container, obj)
    return resp.status


def _writer(req: ApiRequest, account: str) -> versioning.Check:
    async def may_write(c: str) -> None:
        await authorize(req, "object_store:put_object", account, c, acl=WRITE_ACL)

    return may_write
