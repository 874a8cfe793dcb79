"""Server actions that make or use images: createImage, createBackup,
shelve, shelveOffload, unshelve, rescue and unrescue."""

from __future__ import annotations

from starlette.responses import Response

from stratus.common.api import ApiRequest, empty_response, json_response
from stratus.common.microversion import Version
from stratus.compute.api.action_schemas import UnshelveAction
from stratus.compute.api.servers import load
from stratus.compute.service import ComputeService

V = Version.parse
Req = ApiRequest[ComputeService]
# Up to this microversion the image's metadata counts against metadata_items.
LAST_METADATA_QUOTA = V("2.38")
# From this microversion createImage/createBackup answer {"image_id"} and no Location.
IMAGE_ID_BODY = V("2.45")


def _v(req: Req) -> Version:
    assert req.version is not None
    return req.version


def _image_answer(req: Req, image_id: str, location: bool = True) -> Response:
    if _v(req) >= IMAGE_ID_BODY:
        return json_response({"image_id": image_id}, status=202)
    headers = {"Location": f"{req.base_url}/images/{image_id}"} if location else None
    return empty_response(202, headers=headers)


async def create_image(req: Req) -> Response:
    b = req.body.create_image
    server = await load(req, "compute:servers:create_image")
    image_id = await req.service.server_images.create_image(
        req.ctx,
        server.id,
        b.name,
        dict(b.metadata or {}),
        quota_metadata=_v(req) <= LAST_METADATA_QUOTA,
    )
    return _image_answer(req, image_id)


async def create_backup(req: Req) -> Response:
    b = req.body.create_backup
    server = await load(req, "compute:servers:create_backup")
    image_id = await req.service.server_images.create_backup(
        req.ctx,
        server.id,
        b.name,
        b.backup_type,
        b.rotation,
        dict(b.metadata or {}),
        quota_metadata=_v(req) <= LAST_METADATA_QUOTA,
    )
    # Nova names no Location when the rotation deletes every backup.
    return _image_answer(req, image_id, location=b.rotation > 0)


async def shelve(req: Req) -> Response:
    server = await load(req, "compute:servers:shelve")
    await req.service.server_images.shelve(req.ctx, server.id)
    return empty_response(202)


async def shelve_offload(req: Req) -> Response:
    server = await load(req, "compute:servers:shelve_offload")
    await req.service.server_images.shelve_offload(req.ctx, server.id)
    return empty_response(202)


async def unshelve(req: Req) -> Response:
    body: UnshelveAction = req.body
    server = await load(req, "compute:servers:unshelve")
    if body.host is not None:
        req.authorize("compute:servers:unshelve:host", {"project_id": server.project_id})
    await req.service.server_images.unshelve(req.ctx, server.id, body.zone, body.host, body.unpin)
    return empty_response(202)


async def rescue(req: Req) -> Response:
    r = req.body.rescue
    server = await load(req, "compute:servers:rescue")
    password = await req.service.rescues.rescue(
        req.ctx,
        server.id,
        r.adminPass if r else None,
        r.rescue_image_ref if r else None,
    )
    return json_response({"adminPass": password})


async def unrescue(req: Req) -> Response:
    server = await load(req, "compute:servers:rescue")
    await req.service.rescues.unrescue(req.ctx, server.id)
    return empty_response(202)
