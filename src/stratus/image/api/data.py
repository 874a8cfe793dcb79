"""Image data: upload, download, stage and import."""

from __future__ import annotations

from collections.abc import AsyncIterator

from starlette.requests import ClientDisconnect
from starlette.responses import Response, StreamingResponse

from stratus.common.api import ApiRequest, empty_response, json_response
from stratus.common.ranges import ByteRange, parse_ranges
from stratus.image.errors import BadRequest
from stratus.image.service import ImageService


def _declared(req: ApiRequest[ImageService]) -> int | None:
    value = req.raw.headers.get("content-length")
    if value is None:
        return None
    try:
        return int(value)
    except ValueError as exc:
        raise BadRequest("Invalid Content-Length.") from exc


async def _body(req: ApiRequest[ImageService]) -> AsyncIterator[bytes]:
    try:
        async for chunk in req.raw.stream():
            yield chunk
    except ClientDisconnect as exc:
        raise BadRequest("The client went away before the data was complete.") from exc


async def upload(req: ApiRequest[ImageService]) -> Response:
    svc = req.service
    image = await svc.images.get(req.ctx, req.params["image_id"])
    req.authorize("image:upload_image", {"project_id": image.owner})
    await svc.data.upload(req.ctx, image.id, _body(req), _declared(req))
    return empty_response()


async def download(req: ApiRequest[ImageService]) -> Response:
    svc = req.service
    image = await svc.images.get(req.ctx, req.params["image_id"])
    req.authorize("image:download_image", {"project_id": image.owner})
    got = await svc.data.download(req.ctx, image.id, _range(req.raw.headers.get("range")))
    if got.body is None:
        return empty_response()
    headers = {"Content-Length": str(got.end - got.start + 1)}
    if got.image.checksum:
        headers["Content-MD5"] = got.image.checksum
    status = 200
    if got.partial:
        status = 206
        headers["Content-Range"] = f"bytes {got.start}-{got.end}/{got.image.size}"
    return StreamingResponse(
        got.body, status_code=status, headers=headers, media_type="application/octet-stream"
    )


async def stage(req: ApiRequest[ImageService]) -> Response:
    svc = req.service
    image = await svc.images.get(req.ctx, req.params["image_id"])
    req.authorize("image:stage_image", {"project_id": image.owner})
    await svc.data.stage(req.ctx, image.id, _body(req), _declared(req))
    return empty_response()


async def import_(req: ApiRequest[ImageService]) -> Response:
    svc = req.service
    image = await svc.images.get(req.ctx, req.params["image_id"])
    req.authorize("image:import_image", {"project_id": image.owner})
    method = req.body.method
    await svc.imports.start_import(req.ctx, image.id, method.name, method.uri)
    return empty_response(202)


async def import_info(req: ApiRequest[ImageService]) -> Response:
    methods = req.service.imports.methods
    return json_response(
        {
            "import-methods": {
                "description": "Import methods available.",
                "type": "array",
                "value": methods,
            }
        }
    )


async def stores_info(req: ApiRequest[ImageService]) -> Response:
    store = req.service.store
    return json_response(
        {"stores": [{"id": store.name, "description": f"The {store.name} store", "default": True}]}
    )


def _range(header: str | None) -> ByteRange | None:
    """The one ``bytes=`` range a download may ask for (Glance refuses others)."""
    if not header:
        return None
    ranges = parse_ranges(header)
    if ranges is None or len(ranges) != 1:
        raise BadRequest(f"Invalid Range header {header!r}: one bytes range is supported.")
    return ranges[0]
