"""Volumes: the collection, one volume, its metadata and its actions."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from stratus.common.api import ApiRequest, empty_response, json_response
from stratus.volume import models as m
from stratus.volume.api import params as p
from stratus.volume.api import views
from stratus.volume.api.schemas import VolumeActionBody
from stratus.volume.errors import BadRequest, NotFound
from stratus.volume.service import VolumeService
from stratus.volume.service.common import VolumeDetail
from stratus.volume.service.volumes import SORT_KEYS, CreateVolume, ListFilter

FILTER_COLUMNS = {"status": "status", "availability_zone": "availability_zone"}


def render(req: ApiRequest[VolumeService], d: VolumeDetail, extended: bool = True) -> dict[str, Any]:
    admin = req.allowed("volume:admin_fields", {"project_id": d.volume.project_id})
    return views.volume(d, p.base(req), p.version(req), admin=admin, extended=extended)


async def _load(req: ApiRequest[VolumeService], action: str) -> m.Volume:
    p.check_project(req)
    volume = await p.svc(req).volumes.row(req.ctx, req.params["volume_id"])
    req.authorize(action, {"project_id": volume.project_id})
    return volume


# -- collection -------------------------------------------------------------------------------


def _filter(req: ApiRequest[VolumeService]) -> ListFilter:
    q = req.query
    exact: dict[str, Any] = {}
    for key, column in FILTER_COLUMNS.items():
        if getattr(q, key):
            exact[column] = getattr(q, key)
    name = q.name or q.display_name
    if name:
        exact["name"] = name
    if q.bootable is not None:
        exact["bootable"] = p.flag(q.bootable, "bootable")
    return ListFilter(
        all_projects=p.all_projects(req),
        project_id=q.project_id,
        exact=exact,
        metadata=p.metadata_filter(q.metadata),
        name_contains=q.name_contains,
        sort=p.sort(q, SORT_KEYS),
        limit=p.limit(q.limit),
        marker=q.marker,
        offset=p.offset(q.offset),
    )


async def _list(req: ApiRequest[VolumeService], detail: bool) -> Response:
    p.check_project(req)
    req.authorize("volume:get_all", {"project_id": req.ctx.project_id})
    f = _filter(req)
    if f.all_projects:
        req.authorize("volume:all_tenants")
    rows, count = await p.svc(req).volumes.list_volumes(req.ctx, f)
    body: dict[str, Any] = {
        "volumes": [
            render(req, d) if detail else views.volume_summary(d, p.base(req)) for d in rows
        ]
    }
    if f.limit and len(rows) == f.limit:
        path = "volumes/detail" if detail else "volumes"
        body["volumes_links"] = [
            {
                "rel": "next",
                "href": f"{p.base(req)}/{path}?limit={f.limit}&marker={rows[-1].volume.id}",
            }
        ]
    if p.version(req).at_least("3.45") and p.truthy(req.query.with_count):
        body["count"] = count
    return json_response(body)


async def index(req: ApiRequest[VolumeService]) -> Response:
    return await _list(req, False)


async def detail(req: ApiRequest[VolumeService]) -> Response:
    return await _list(req, True)


async def summary(req: ApiRequest[VolumeService]) -> Response:
    p.check_project(req)
    req.authorize("volume:get_all", {"project_id": req.ctx.project_id})
    rows, _ = await p.svc(req).volumes.list_volumes(
        req.ctx, ListFilter(all_projects=p.all_projects(req))
    )
    body: dict[str, Any] = {
        "total_size": sum(d.volume.size for d in rows),
        "total_count": len(rows),
    }
    if p.version(req).at_least("3.36"):
        meta: dict[str, set[str]] = {}
        for d in rows:
            for k, v in d.volume.metadata_.items():
                meta.setdefault(k, set()).add(v)
        body["metadata"] = {k: sorted(v) for k, v in meta.items()}
    return json_response({"volume-summary": body})


async def create(req: ApiRequest[VolumeService]) -> Response:
    p.check_project(req)
    req.authorize("volume:create", {"project_id": req.ctx.project_id})
    v = req.body.volume
    size = p.size(v.size) if v.size is not None else None
    if size is None and not (v.snapshot_id or v.source_volid or v.backup_id):
        raise BadRequest("Missing required element 'size' in request body.")
    if v.backup_id and not p.version(req).at_least("3.47"):
        raise BadRequest("Creating a volume from a backup needs microversion 3.47.")
    detail_ = await p.svc(req).volumes.create(
        req.ctx,
        CreateVolume(
            size=size,
            name=p.name_of(v),
            description=p.description_of(v),
            metadata=dict(v.metadata or {}),
            availability_zone=v.availability_zone,
            volume_type=v.volume_type,
            snapshot_id=v.snapshot_id,
            source_volid=v.source_volid,
            image_id=v.imageRef or v.image_id,
            backup_id=v.backup_id,
            multiattach=p.flag(v.multiattach, "multiattach")
            if v.multiattach is not None
            else False,
        ),
    )
    return json_response({"volume": render(req, detail_, extended=False)}, 202)


# -- one volume -------------------------------------------------------------------------------


async def show(req: ApiRequest[VolumeService]) -> Response:
    await _load(req, "volume:get")
    d = await p.svc(req).volumes.get(req.ctx, req.params["volume_id"])
    return json_response({"volume": render(req, d)})


async def update(req: ApiRequest[VolumeService]) -> Response:
    await _load(req, "volume:update")
    v = req.body.volume
    changes: dict[str, Any] = {}
    if v.name is not None or v.display_name is not None:
        changes["name"] = p.name_of(v)
    if v.description is not None or v.display_description is not None:
        changes["description"] = p.description_of(v)
    if v.metadata is not None:
        changes["metadata"] = v.metadata
    d = await p.svc(req).volumes.update(req.ctx, req.params["volume_id"], changes)
    return json_response({"volume": render(req, d, extended=False)})


async def delete(req: ApiRequest[VolumeService]) -> Response:
    volume = await _load(req, "volume:delete")
    force = p.truthy(req.query.force)
    if force:
        req.authorize("volume:force_delete", {"project_id": volume.project_id})
    await p.svc(req).volumes.delete(
        req.ctx, volume.id, cascade=p.truthy(req.query.cascade), force=force
    )
    return empty_response(202)


# -- metadata ---------------------------------------------------------------------------------


async def metadata_index(req: ApiRequest[VolumeService]) -> Response:
    volume = await _load(req, "volume:get")
    return json_response({"metadata": dict(volume.metadata_)})


async def metadata_update(req: ApiRequest[VolumeService]) -> Response:
    await _load(req, "volume:update")
    meta = await p.svc(req).volumes.set_metadata(
        req.ctx, req.params["volume_id"], req.body.metadata, replace=False
    )
    return json_response({"metadata": meta})


async def metadata_replace(req: ApiRequest[VolumeService]) -> Response:
    await _load(req, "volume:update")
    meta = await p.svc(req).volumes.set_metadata(
        req.ctx, req.params["volume_id"], req.body.metadata, replace=True
    )
    return json_response({"metadata": meta})


async def metadata_show(req: ApiRequest[VolumeService]) -> Response:
    volume = await _load(req, "volume:get")
    key = req.params["key"]
    if key not in volume.metadata_:
        raise NotFound(f"Volume {volume.id} has no metadata with key {key}.")
    return json_response({"meta": {key: volume.metadata_[key]}})


async def metadata_set(req: ApiRequest[VolumeService]) -> Response:
    await _load(req, "volume:update")
    key = req.params["key"]
    if key not in req.body.meta:
        raise BadRequest("Request body and URI mismatch")
    await p.svc(req).volumes.set_metadata(
        req.ctx, req.params["volume_id"], req.body.meta, replace=False
    )
    return json_response({"meta": req.body.meta})


async def metadata_delete(req: ApiRequest[VolumeService]) -> Response:
    await _load(req, "volume:update")
    await p.svc(req).volumes.delete_metadata(req.ctx, req.params["volume_id"], req.params["key"])
    return empty_response(200)


# -- actions ----------------------------------------------------------------------------------

LEGACY = {
    "os-reserve": "reserve",
    "os-unreserve": "unreserve",
    "os-begin_detaching": "begin_detaching",
    "os-roll_detaching": "roll_detaching",
    "os-initialize_connection": "initialize_connection",
    "os-terminate_connection": "terminate_connection",
    "os-attach": "attach",
    "os-detach": "detach_action",
}


async def action(req: ApiRequest[VolumeService]) -> Response:
    volume = await _load(req, "volume:action")
    body: VolumeActionBody = req.body
    name = body.name
    args = getattr(body, next(iter(body.model_fields_set))).model_dump(exclude_unset=True)
    svc, ctx, target = p.svc(req), req.ctx, {"project_id": volume.project_id}
    if name in LEGACY:
        result = await svc.attachments.legacy(ctx, volume.id, LEGACY[name], args)
        if name == "os-initialize_connection":
            return json_response({"connection_info": result})
        return empty_response(202)
    if name == "os-extend":
        await svc.actions.extend(
            ctx, volume.id, p.size(args["new_size"], "new_size"), p.version(req)
        )
    elif name == "os-reset_status":
        req.authorize("volume:reset_status", target)
        await svc.actions.reset_status(ctx, volume.id, args)
    elif name == "os-force_delete":
        req.authorize("volume:force_delete", target)
        await svc.volumes.delete(ctx, volume.id, cascade=True, force=True)
    elif name == "os-force_detach":
        req.authorize("volume:force_detach", target)
        await svc.attachments.legacy(ctx, volume.id, "force_detach", args)
    elif name == "os-set_bootable":
        await svc.actions.set_flag(ctx, volume.id, bootable=p.flag(args["bootable"], "bootable"))
        return empty_response(200)
    elif name == "os-update_readonly_flag":
        await svc.actions.set_flag(ctx, volume.id, readonly=p.flag(args["readonly"], "readonly"))
    elif name == "os-retype":
        await svc.actions.retype(
            ctx, volume.id, args["new_type"], args.get("migration_policy") or "never"
        )
    elif name == "revert":
        if not p.version(req).at_least("3.40"):
            raise BadRequest("Reverting to a snapshot needs microversion 3.40.")
        await svc.actions.revert(ctx, volume.id, args["snapshot_id"])
    elif name == "os-volume_upload_image":
        out = await svc.actions.upload_image(ctx, volume.id, args, p.version(req))
        return json_response({"os-volume_upload_image": out}, 202)
    else:
        return await _image_metadata(req, volume, name, args)
    return empty_response(202)


async def _image_metadata(
    req: ApiRequest[VolumeService], volume: m.Volume, name: str, args: dict[str, Any]
) -> Response:
    svc = p.svc(req)
    if name == "os-set_image_metadata":
        meta = await svc.volumes.set_metadata(
            req.ctx, volume.id, args["metadata"], replace=False, field_name="image_metadata"
        )
        return json_response({"metadata": meta})
    if name == "os-unset_image_metadata":
        await svc.volumes.delete_metadata(
            req.ctx, volume.id, args["key"], field_name="image_metadata"
        )
        return empty_response(200)
    return json_response({"metadata": dict(volume.image_metadata)})
