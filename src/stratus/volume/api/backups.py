"""Backups and volume transfers."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from stratus.common.api import ApiRequest, empty_response, json_response
from stratus.volume import models as m
from stratus.volume.api import params as p
from stratus.volume.api import views
from stratus.volume.errors import BadRequest
from stratus.volume.service import VolumeService
from stratus.volume.service.backups import BackupFilter, BackupRequest

SORT_KEYS = {"id", "name", "status", "size", "created_at", "updated_at", "volume_id", "container"}


async def _render(req: ApiRequest[VolumeService], rows: list[m.Backup]) -> list[dict[str, Any]]:
    parents = await p.svc(req).backups.children([b.id for b in rows])
    return [
        views.backup(
            b, p.version(req), p.base(req), admin=req.ctx.is_admin, has_children=b.id in parents
        )
        for b in rows
    ]


async def _load(req: ApiRequest[VolumeService], action: str) -> m.Backup:
    p.check_project(req)
    backup = await p.svc(req).backups.get(req.ctx, req.params["backup_id"])
    req.authorize(action, {"project_id": backup.project_id})
    return backup


async def _list(req: ApiRequest[VolumeService], detail: bool) -> Response:
    p.check_project(req)
    req.authorize("volume:get_all", {"project_id": req.ctx.project_id})
    q = req.query
    exact = {k: getattr(q, k) for k in ("status", "volume_id", "name") if getattr(q, k)}
    rows = await p.svc(req).backups.list_backups(
        req.ctx,
        BackupFilter(
            all_projects=p.all_projects(req),
            project_id=q.project_id,
            exact=exact,
            sort=p.sort(q, SORT_KEYS),
            limit=p.limit(q.limit),
            marker=q.marker,
            offset=p.offset(q.offset),
        ),
    )
    if detail:
        return json_response({"backups": await _render(req, rows)})
    return json_response(
        {
            "backups": [
                {
                    "id": b.id,
                    "name": b.name,
                    "links": views.links(p.base(req), "backups", b.id, b.project_id),
                }
                for b in rows
            ]
        }
    )


async def index(req: ApiRequest[VolumeService]) -> Response:
    return await _list(req, False)


async def detail(req: ApiRequest[VolumeService]) -> Response:
    return await _list(req, True)


async def create(req: ApiRequest[VolumeService]) -> Response:
    p.check_project(req)
    req.authorize("volume:backups:create", {"project_id": req.ctx.project_id})
    b = req.body.backup
    backup = await p.svc(req).backups.create(
        req.ctx,
        BackupRequest(
            volume_id=b.volume_id,
            name=b.name,
            description=b.description,
            container=b.container,
            incremental=p.flag(b.incremental, "incremental")
            if b.incremental is not None
            else False,
            force=p.flag(b.force, "force") if b.force is not None else False,
            snapshot_id=b.snapshot_id,
            metadata=dict(b.metadata or {}) if p.version(req).at_least("3.43") else {},
        ),
    )
    return json_response(
        {"backup": {"id": backup.id, "name": backup.name,
                    "links": views.links(p.base(req), "backups", backup.id, backup.project_id)}},
        202,
    )  # fmt: skip


async def show(req: ApiRequest[VolumeService]) -> Response:
    backup = await _load(req, "volume:backups:get")
    return json_response({"backup": (await _render(req, [backup]))[0]})


async def update(req: ApiRequest[VolumeService]) -> Response:
    if not p.version(req).at_least("3.9"):
        raise BadRequest("Updating a backup needs microversion 3.9.")
    await _load(req, "volume:backups:update")
    changes = req.body.backup.model_dump(exclude_unset=True)
    if "metadata" in changes:
        changes["metadata_"] = changes.pop("metadata") or {}
    backup = await p.svc(req).backups.update(req.ctx, req.params["backup_id"], changes)
    return json_response({"backup": (await _render(req, [backup]))[0]})


async def delete(req: ApiRequest[VolumeService]) -> Response:
    backup = await _load(req, "volume:backups:delete")
    await p.svc(req).backups.delete(req.ctx, backup.id)
    return empty_response(202)


async def restore(req: ApiRequest[VolumeService]) -> Response:
    backup = await _load(req, "volume:backups:restore")
    r = req.body.restore
    if r.volume_id is None:
        req.authorize("volume:create", {"project_id": req.ctx.project_id})
    out = await p.svc(req).backups.restore(req.ctx, backup.id, r.volume_id, r.name)
    return json_response({"restore": out}, 202)


async def action(req: ApiRequest[VolumeService]) -> Response:
    backup = await _load(req, "volume:backups:get")
    target = {"project_id": backup.project_id}
    if req.body.name == "os-reset_status":
        req.authorize("volume:backups:reset_status", target)
        await p.svc(req).backups.reset_status(req.ctx, backup.id, req.body.reset_status.status)
    else:
        req.authorize("volume:backups:force_delete", target)
        await p.svc(req).backups.delete(req.ctx, backup.id, force=True)
    return empty_response(202)


async def export_record(req: ApiRequest[VolumeService]) -> Response:
    await _load(req, "volume:backups:export_import")
    record = await p.svc(req).backups.export_record(req.ctx, req.params["backup_id"])
    return json_response({"backup-record": record})


async def import_record(req: ApiRequest[VolumeService]) -> Response:
    p.check_project(req)
    req.authorize("volume:backups:export_import")
    r = req.body.backup_record
    backup = await p.svc(req).backups.import_record(req.ctx, r.backup_service, r.backup_url)
    return json_response(
        {"backup": {"id": backup.id, "name": backup.name,
                    "links": views.links(p.base(req), "backups", backup.id, backup.project_id)}},
        201,
    )  # fmt: skip


# -- transfers --------------------------------------------------------------------------------


async def transfer_index(req: ApiRequest[VolumeService]) -> Response:
    return await _transfers(req, False)


async def transfer_detail(req: ApiRequest[VolumeService]) -> Response:
    return await _transfers(req, True)


async def _transfers(req: ApiRequest[VolumeService], detail: bool) -> Response:
    p.check_project(req)
    req.authorize("volume:transfers:get", {"project_id": req.ctx.project_id})
    rows = await p.svc(req).transfers.list_transfers(req.ctx, p.all_projects(req))
    return json_response(
        {"transfers": [views.transfer(t, p.base(req), p.version(req), detail=detail) for t in rows]}
    )


async def transfer_create(req: ApiRequest[VolumeService]) -> Response:
    p.check_project(req)
    req.authorize("volume:transfers:create", {"project_id": req.ctx.project_id})
    b = req.body.transfer
    no_snapshots = p.flag(b.no_snapshots, "no_snapshots") if b.no_snapshots is not None else False
    transfer, key = await p.svc(req).transfers.create(req.ctx, b.volume_id, b.name, no_snapshots)
    body = views.transfer(transfer, p.base(req), p.version(req), detail=True)
    body["auth_key"] = key
    return json_response({"transfer": body}, 202)


async def transfer_show(req: ApiRequest[VolumeService]) -> Response:
    p.check_project(req)
    transfer = await p.svc(req).transfers.get(req.ctx, req.params["transfer_id"])
    req.authorize("volume:transfers:get", {"project_id": transfer.project_id})
    return json_response(
        {"transfer": views.transfer(transfer, p.base(req), p.version(req), detail=True)}
    )


async def transfer_delete(req: ApiRequest[VolumeService]) -> Response:
    p.check_project(req)
    transfer = await p.svc(req).transfers.get(req.ctx, req.params["transfer_id"])
    req.authorize("volume:transfers:delete", {"project_id": transfer.project_id})
    await p.svc(req).transfers.delete(req.ctx, transfer.id)
    return empty_response(202)


async def transfer_accept(req: ApiRequest[VolumeService]) -> Response:
    p.check_project(req)
    req.authorize("volume:transfers:accept", {"project_id": req.ctx.project_id})
    transfer = await p.svc(req).transfers.accept(
        req.ctx, req.params["transfer_id"], req.body.accept.auth_key
    )
    return json_response(
        {"transfer": {"id": transfer.id, "name": transfer.name, "volume_id": transfer.volume_id,
                      "links": views.links(p.base(req), "os-volume-transfer", transfer.id,
                                           req.ctx.project_id or "")}},
        202,
    )  # fmt: skip
