"""Server actions that make or use images: createImage, createBackup,
shelve, shelveOffload, unshelve, rescue and unrescue."""

from __future__ import annotations

from starlette.responses import Response

from stratus.common.api import ApiRequest, empty_response, json_response
from stratus.common.microversion import Version
from stratus.compute import models as m
from stratus.compute.errors import BadRequest
from stratus.compute.service import ComputeService

V = Version.parse
ACTIONS = frozenset(
    {"create_image", "create_backup", "shelve", "shelve_offload", "unshelve", "rescue", "unrescue"}
)
# Up to this microversion the image's metadata counts against metadata_items.
LAST_METADATA_QUOTA = V("2.38")
# From this microversion createImage/createBackup answer {"image_id"} and no Location.
IMAGE_ID_BODY = V("2.45")


def _svc(req: ApiRequest) -> ComputeService:
    return req.service  # type: ignore[no-any-return]


def _v(req: ApiRequest) -> Version:
    assert req.version is not None
    return req.version


async def _load(req: ApiRequest, action: str) -> m.Server:
    server = await _svc(req).servers.get(req.ctx, req.params["server_id"])
    req.authorize(action, {"project_id": server.project_id})
    return server


def _name(value: str) -> str:
    name = value.strip()
    if not name:
        raise BadRequest("Invalid input for field/attribute name: it must not be blank.")
    return name


def _rotation(value: int | str | bool) -> int:
    if isinstance(value, bool) or (isinstance(value, str) and not value.strip().isdigit()):
        raise BadRequest(
            f"Invalid input for field/attribute rotation. Value: {value}. "
            "It must be an integer of 0 or more."
        )
    rotation = int(value)
    if rotation < 0:
        raise BadRequest(
            f"Invalid input for field/attribute rotation. Value: {value}. "
            "It must be an integer of 0 or more."
        )
    return rotation


def _image_answer(req: ApiRequest, image_id: str, location: bool = True) -> Response:
    if _v(req) >= IMAGE_ID_BODY:
        return json_response({"image_id": image_id}, status=202)
    headers = {"Location": f"{req.base_url}/images/{image_id}"} if location else None
    return empty_response(202, headers=headers)


async def act(req: ApiRequest, name: str) -> Response:
    body = req.body
    svc = _svc(req)
    ctx = req.ctx
    if name == "create_image":
        server = await _load(req, "compute:servers:create_image")
        b = body.create_image
        metadata = dict(b.metadata or {})
        await svc.server_images.check_metadata(ctx, metadata, _v(req) <= LAST_METADATA_QUOTA)
        image_id = await svc.server_images.create_image(ctx, server.id, _name(b.name), metadata)
        return _image_answer(req, image_id)
    if name == "create_backup":
        server = await _load(req, "compute:servers:create_backup")
        b = body.create_backup
        rotation = _rotation(b.rotation)
        metadata = dict(b.metadata or {})
        await svc.server_images.check_metadata(ctx, metadata, _v(req) <= LAST_METADATA_QUOTA)
        image_id = await svc.server_images.create_backup(
            ctx, server.id, _name(b.name), b.backup_type, rotation, metadata
        )
        # Nova names no Location when the rotation deletes every backup.
        return _image_answer(req, image_id, location=rotation > 0)
    if name == "shelve":
        server = await _load(req, "compute:servers:shelve")
        await svc.server_images.shelve(ctx, server.id)
        return empty_response(202)
    if name == "shelve_offload":
        server = await _load(req, "compute:servers:shelve_offload")
        await svc.server_images.shelve_offload(ctx, server.id)
        return empty_response(202)
    if name == "unshelve":
        return await _unshelve(req)
    if name == "rescue":
        server = await _load(req, "compute:servers:rescue")
        r = body.rescue
        password = await svc.rescues.rescue(
            ctx,
            server.id,
            r.adminPass if r else None,
            r.rescue_image_ref if r else None,
        )
        return json_response({"adminPass": password})
    server = await _load(req, "compute:servers:rescue")
    await svc.rescues.unrescue(ctx, server.id)
    return empty_response(202)


async def _unshelve(req: ApiRequest) -> Response:
    server = await _load(req, "compute:servers:unshelve")
    u = req.body.unshelve
    zone = host = None
    unpin = False
    if u is not None:
        given = u.model_fields_set
        if _v(req) < V("2.77"):
            raise BadRequest("Invalid input for field/attribute unshelve: it must be null.")
        if "host" in given:
            if _v(req) < V("2.91"):
                raise BadRequest("Invalid input for field/attribute unshelve: host needs 2.91.")
            req.authorize("compute:servers:unshelve:host", {"project_id": server.project_id})
            host = u.host
            if not host:
                raise BadRequest("Invalid input for field/attribute host: it must not be blank.")
        if "availability_zone" in given:
            if u.availability_zone is None:
                if _v(req) < V("2.91"):
                    raise BadRequest(
                        "Invalid input for field/attribute availability_zone: "
                        "null needs microversion 2.91."
                    )
                unpin = True
            else:
                zone = u.availability_zone
        if not given:
            raise BadRequest("Invalid input for field/attribute unshelve: an empty object.")
    await _svc(req).server_images.unshelve(req.ctx, server.id, zone, host, unpin)
    return empty_response(202)
