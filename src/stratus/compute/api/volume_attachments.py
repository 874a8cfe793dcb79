"""A server's volumes: ``/servers/{server_id}/os-volume_attachments``
(list, show, attach, update or swap, detach), with Nova's microversions: ``tag``
from 2.49 (2.70 in views), ``delete_on_termination`` from 2.79, updating it
from 2.85, ``attachment_id`` and ``bdm_uuid`` from 2.89."""

from __future__ import annotations

from typing import Any

from pydantic import Field
from starlette.responses import Response

from stratus.common.api import ApiRequest, Query, Schema, empty_response, json_response
from stratus.common.microversion import Version
from stratus.compute import models as m
from stratus.compute.api.servers import load
from stratus.compute.errors import BadRequest
from stratus.compute.service import ComputeService

Req = ApiRequest[ComputeService]
V = Version.parse
UUID = r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$"


class AttachSpec(Schema):
    volumeId: str = Field(pattern=UUID)  # noqa: N815
    device: str | None = Field(default=None, max_length=255)
    tag: str | None = Field(default=None, min_length=1, max_length=60)
    delete_on_termination: bool | None = None


class AttachBody(Schema):
    volumeAttachment: AttachSpec  # noqa: N815


class UpdateSpec(Schema):
    volumeId: str = Field(pattern=UUID)  # noqa: N815
    id: str | None = None
    serverId: str | None = None  # noqa: N815
    device: str | None = None
    tag: str | None = None
    delete_on_termination: bool | None = None


class UpdateBody(Schema):
    volumeAttachment: UpdateSpec  # noqa: N815


class ListQuery(Query):
    limit: int | None = Field(default=None, ge=0)
    offset: int | None = Field(default=None, ge=0)


def _v(req: Req) -> Version:
    assert req.version is not None
    return req.version


def view(row: m.VolumeAttachment, version: Version) -> dict[str, Any]:
    out: dict[str, Any] = {
        "volumeId": row.volume_id,
        "serverId": row.server_id,
        "device": row.device,
    }
    if version < V("2.89"):
        out["id"] = row.volume_id
    if version >= V("2.70"):
        out["tag"] = row.tag
    if version >= V("2.79"):
        out["delete_on_termination"] = row.delete_on_termination
    if version >= V("2.89"):
        out["attachment_id"] = row.attachment_id
        out["bdm_uuid"] = row.id
    return out


async def index(req: Req) -> Response:
    server = await load(req, "compute:servers:show")
    rows = await req.service.server_volumes.list_attachments(req.ctx, server.id)
    q: ListQuery = req.query
    start = q.offset or 0
    rows = rows[start : start + q.limit] if q.limit is not None else rows[start:]
    return json_response({"volumeAttachments": [view(r, _v(req)) for r in rows]})


async def show(req: Req) -> Response:
    server = await load(req, "compute:servers:show")
    row = await req.service.server_volumes.get(req.ctx, server.id, req.params["volume_id"])
    return json_response({"volumeAttachment": view(row, _v(req))})


async def create(req: Req) -> Response:
    server = await load(req, "compute:servers:attach_volume")
    spec: AttachSpec = req.body.volumeAttachment
    if spec.tag is not None and _v(req) < V("2.49"):
        raise BadRequest("Invalid input for field/attribute tag: it needs microversion 2.49.")
    if spec.delete_on_termination is not None and _v(req) < V("2.79"):
        raise BadRequest(
            "Invalid input for field/attribute delete_on_termination: it needs microversion 2.79."
        )
    row = await req.service.server_volumes.attach(
        req.ctx,
        server.id,
        spec.volumeId,
        device=spec.device,
        tag=spec.tag,
        delete_on_termination=bool(spec.delete_on_termination),
    )
    return json_response({"volumeAttachment": view(row, _v(req))})


async def update(req: Req) -> Response:
    server = await load(req, "compute:servers:update_volume")
    spec: UpdateSpec = req.body.volumeAttachment
    volume_id = req.params["volume_id"]
    if spec.volumeId != volume_id and not _other_changes(spec):
        req.authorize("compute:servers:swap_volume", {"project_id": server.project_id})
        await req.service.server_volumes.swap(req.ctx, server.id, volume_id, spec.volumeId)
        return empty_response(202)
    if spec.volumeId != volume_id:
        raise BadRequest("Invalid input: a swap of volumes cannot change anything else.")
    changes: dict[str, Any] = {"volume_id": spec.volumeId}
    if spec.delete_on_termination is not None:
        if _v(req) < V("2.85"):
            raise BadRequest(
                "Invalid input for field/attribute delete_on_termination: updating it needs "
                "microversion 2.85."
            )
        changes["delete_on_termination"] = spec.delete_on_termination
    for key, value in (("id", spec.id), ("serverId", spec.serverId), ("device", spec.device)):
        if value is not None and _v(req) >= V("2.85"):
            current = {"id": volume_id, "serverId": server.id}.get(key)
            if key != "device" and value != current:
                raise BadRequest(f"Invalid input for field/attribute {key}: it cannot change.")
    await req.service.server_volumes.update(req.ctx, server.id, volume_id, changes)
    return empty_response(202)


def _other_changes(spec: UpdateSpec) -> bool:
    """Whether an update names more than the volume (a swap names only that)."""
    return spec.delete_on_termination is not None or spec.tag is not None


async def delete(req: Req) -> Response:
    server = await load(req, "compute:servers:detach_volume")
    await req.service.server_volumes.detach(req.ctx, server.id, req.params["volume_id"])
    return empty_response(202)
