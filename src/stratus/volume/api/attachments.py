"""The attachments API (microversion 3.27 and later)."""

from __future__ import annotations

from starlette.responses import Response

from stratus.common.api import ApiRequest, json_response
from stratus.volume.api import params as p
from stratus.volume.api import views
from stratus.volume.errors import BadRequest, NotFound
from stratus.volume.service import VolumeService


def _version(req: ApiRequest[VolumeService], minimum: str = "3.27") -> None:
    p.check_project(req)
    if not p.version(req).at_least(minimum):
        raise NotFound(f"The attachments API needs microversion {minimum} or later.")


async def _authorized(req: ApiRequest[VolumeService]) -> None:
    att = await p.svc(req).attachments.get(req.ctx, req.params["attachment_id"])
    req.authorize("volume:attachments", {"project_id": att.project_id})


async def index(req: ApiRequest[VolumeService]) -> Response:
    return await _list(req, False)


async def detail(req: ApiRequest[VolumeService]) -> Response:
    return await _list(req, True)


async def _list(req: ApiRequest[VolumeService], detail: bool) -> Response:
    _version(req)
    req.authorize("volume:get_all", {"project_id": req.ctx.project_id})
    q = req.query
    filters = {"volume_id": q.volume_id, "instance_uuid": q.instance_id, "attach_status": q.status}
    rows = await p.svc(req).attachments.list_attachments(
        req.ctx, p.all_projects(req), {k: v for k, v in filters.items() if v}
    )
    if detail:
        return json_response({"attachments": [views.attachment(a) for a in rows]})
    return json_response(
        {
            "attachments": [
                {"id": a.id, "status": a.attach_status, "instance": a.instance_uuid,
                 "volume_id": a.volume_id}
                for a in rows
            ]
        }
    )  # fmt: skip


async def create(req: ApiRequest[VolumeService]) -> Response:
    _version(req)
    b = req.body.attachment
    volume = await p.svc(req).volumes.row(req.ctx, b.volume_uuid)
    req.authorize("volume:attachments", {"project_id": volume.project_id})
    if b.mode is not None and not p.version(req).at_least("3.54"):
        raise BadRequest("The attach mode needs microversion 3.54.")
    att = await p.svc(req).attachments.create(
        req.ctx, volume.id, b.instance_uuid, b.connector, b.mode
    )
    return json_response({"attachment": views.attachment(att)})


async def show(req: ApiRequest[VolumeService]) -> Response:
    _version(req)
    await _authorized(req)
    att = await p.svc(req).attachments.get(req.ctx, req.params["attachment_id"])
    return json_response({"attachment": views.attachment(att)})


async def update(req: ApiRequest[VolumeService]) -> Response:
    _version(req)
    await _authorized(req)
    att = await p.svc(req).attachments.update(
        req.ctx, req.params["attachment_id"], req.body.attachment.connector
    )
    return json_response({"attachment": views.attachment(att)})


async def delete(req: ApiRequest[VolumeService]) -> Response:
    _version(req)
    await _authorized(req)
    await p.svc(req).attachments.delete(req.ctx, req.params["attachment_id"])
    return json_response({"attachments": []})


async def action(req: ApiRequest[VolumeService]) -> Response:
    _version(req, "3.44")
    await _authorized(req)
    await p.svc(req).attachments.complete(req.ctx, req.params["attachment_id"])
    return Response(status_code=204)
