"""Snapshots, their metadata and actions."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from stratus.common.api import ApiRequest, empty_response, json_response
from stratus.volume import models as m
from stratus.volume.api import params as p
from stratus.volume.api import views
from stratus.volume.errors import BadRequest, NotFound
from stratus.volume.service import VolumeService
from stratus.volume.service.snapshots import SnapshotFilter

SORT_KEYS = {
    "id",
    "name",
    "display_name",
    "status",
    "size",
    "created_at",
    "updated_at",
    "volume_id",
}


def render(req: ApiRequest[VolumeService], snap: m.Snapshot, extended: bool = True) -> dict[str, Any]:
    admin = req.allowed("volume:admin_fields", {"project_id": snap.project_id})
    return views.snapshot(snap, p.version(req), admin=admin, extended=extended)


async def _load(req: ApiRequest[VolumeService], action: str) -> m.Snapshot:
    p.check_project(req)
    snap = await p.svc(req).snapshots.get(req.ctx, req.params["snapshot_id"])
    req.authorize(action, {"project_id": snap.project_id})
    return snap


async def _list(req: ApiRequest[VolumeService], detail: bool) -> Response:
    p.check_project(req)
    req.authorize("volume:get_all", {"project_id": req.ctx.project_id})
    q = req.query
    exact = {k: getattr(q, k) for k in ("status", "volume_id") if getattr(q, k)}
    if q.name or q.display_name:
        exact["name"] = q.name or q.display_name
    rows = await p.svc(req).snapshots.list_snapshots(
        req.ctx,
        SnapshotFilter(
            all_projects=p.all_projects(req),
            project_id=q.project_id,
            exact=exact,
            metadata=p.metadata_filter(q.metadata),
            sort=p.sort(q, SORT_KEYS),
            limit=p.limit(q.limit),
            marker=q.marker,
            offset=p.offset(q.offset),
        ),
    )
    if detail:
        return json_response({"snapshots": [render(req, s) for s in rows]})
    return json_response({"snapshots": [render(req, s, extended=False) for s in rows]})


async def index(req: ApiRequest[VolumeService]) -> Response:
    return await _list(req, False)


async def detail(req: ApiRequest[VolumeService]) -> Response:
    return await _list(req, True)


async def create(req: ApiRequest[VolumeService]) -> Response:
    p.check_project(req)
    req.authorize("volume:snapshots:create", {"project_id": req.ctx.project_id})
    b = req.body.snapshot
    if b.volume_id is None:
        raise NotFound("Volume None could not be found.")
    snap = await p.svc(req).snapshots.create(
        req.ctx,
        b.volume_id,
        force=p.flag(b.force, "force") if b.force is not None else False,
        name=p.name_of(b),
        description=p.description_of(b),
        metadata=dict(b.metadata or {}),
        version=p.version(req),
    )
    return json_response({"snapshot": render(req, snap, extended=False)}, 202)


async def show(req: ApiRequest[VolumeService]) -> Response:
    snap = await _load(req, "volume:snapshots:get")
    return json_response({"snapshot": render(req, snap)})


async def update(req: ApiRequest[VolumeService]) -> Response:
    await _load(req, "volume:snapshots:update")
    b = req.body.snapshot
    changes: dict[str, Any] = {}
    if b.name is not None or b.display_name is not None:
        changes["name"] = p.name_of(b)
    if b.description is not None or b.display_description is not None:
        changes["description"] = p.description_of(b)
    if not changes:
        raise BadRequest("Invalid input received: the snapshot update names nothing to change.")
    snap = await p.svc(req).snapshots.update(req.ctx, req.params["snapshot_id"], changes)
    return json_response({"snapshot": render(req, snap, extended=False)})


async def delete(req: ApiRequest[VolumeService]) -> Response:
    snap = await _load(req, "volume:snapshots:delete")
    await p.svc(req).snapshots.delete(req.ctx, snap.id)
    return empty_response(202)


async def action(req: ApiRequest[VolumeService]) -> Response:
    snap = await _load(req, "volume:snapshots:get")
    name, target = req.body.name, {"project_id": snap.project_id}
    args = getattr(req.body, next(iter(req.body.model_fields_set))).model_dump(exclude_unset=True)
    svc = p.svc(req).snapshots
    if name == "os-reset_status":
        req.authorize("volume:snapshots:reset_status", target)
        await svc.reset_status(req.ctx, snap.id, args["status"])
    elif name == "os-force_delete":
        req.authorize("volume:snapshots:force_delete", target)
        await svc.delete(req.ctx, snap.id, force=True)
    else:
        req.authorize("volume:snapshots:update_status", target)
        await svc.update_status(req.ctx, snap.id, args["status"], args.get("progress"))
    return empty_response(202)


async def metadata_index(req: ApiRequest[VolumeService]) -> Response:
    snap = await _load(req, "volume:snapshots:get")
    return json_response({"metadata": dict(snap.metadata_)})


async def metadata_update(req: ApiRequest[VolumeService]) -> Response:
    snap = await _load(req, "volume:snapshots:update")
    meta = await p.svc(req).snapshots.set_metadata(
        req.ctx, snap.id, req.body.metadata, replace=False
    )
    return json_response({"metadata": meta})


async def metadata_replace(req: ApiRequest[VolumeService]) -> Response:
    snap = await _load(req, "volume:snapshots:update")
    meta = await p.svc(req).snapshots.set_metadata(
        req.ctx, snap.id, req.body.metadata, replace=True
    )
    return json_response({"metadata": meta})


async def metadata_show(req: ApiRequest[VolumeService]) -> Response:
    snap = await _load(req, "volume:snapshots:get")
    key = req.params["key"]
    if key not in snap.metadata_:
        raise NotFound(f"Snapshot {snap.id} has no metadata with key {key}.")
    return json_response({"meta": {key: snap.metadata_[key]}})


async def metadata_set(req: ApiRequest[VolumeService]) -> Response:
    snap = await _load(req, "volume:snapshots:update")
    if req.params["key"] not in req.body.meta:
        raise BadRequest("Request body and URI mismatch")
    await p.svc(req).snapshots.set_metadata(req.ctx, snap.id, req.body.meta, replace=False)
    return json_response({"meta": req.body.meta})


async def metadata_delete(req: ApiRequest[VolumeService]) -> Response:
    snap = await _load(req, "volume:snapshots:update")
    await p.svc(req).snapshots.delete_metadata(req.ctx, snap.id, req.params["key"])
    return empty_response(200)
