"""Backups."""

from __future__ import annotations

from starlette.responses import Response

from stratus.common.api import ApiRequest, empty_response, json_response
from stratus.database.api import views
from stratus.database.api.common import base, check_project, svc
from stratus.database.errors import BadRequest
from stratus.database.service import DatabaseService


async def index(req: ApiRequest[DatabaseService]) -> Response:
    check_project(req)
    req.authorize("database:backup:index", {"project_id": req.ctx.project_id})
    rows = await svc(req).backups.list(req.ctx, req.query.instance_id)
    if req.query.datastore:
        rows = [b for b in rows if b.datastore == req.query.datastore]
    return json_response({"backups": [views.backup(b, base(req)) for b in rows]})


async def of_instance(req: ApiRequest[DatabaseService]) -> Response:
    check_project(req)
    req.authorize("database:backup:index", {"project_id": req.ctx.project_id})
    rows = await svc(req).backups.list(req.ctx, req.params["instance_id"])
    return json_response({"backups": [views.backup(b, base(req)) for b in rows]})


async def show(req: ApiRequest[DatabaseService]) -> Response:
    check_project(req)
    b = await svc(req).backups.get(req.ctx, req.params["backup_id"])
    req.authorize("database:backup:show", {"project_id": b.project_id})
    return json_response({"backup": views.backup(b, base(req))})


async def create(req: ApiRequest[DatabaseService]) -> Response:
    check_project(req)
    b = req.body.backup
    inst = await svc(req).instances.get(req.ctx, b.instance)
    req.authorize("database:backup:create", {"project_id": inst.project_id})
    if b.restore_from is not None or b.storage_driver is not None or b.swift_container:
        raise BadRequest("Backups are kept in the cloud's own container here.")
    backup = await svc(req).backups.create(req.ctx, inst.id, b.name, b.description, b.parent_id,
                                           bool(b.incremental))  # fmt: skip
    return json_response({"backup": views.backup(backup, base(req))}, 202)


async def delete(req: ApiRequest[DatabaseService]) -> Response:
    check_project(req)
    b = await svc(req).backups.get(req.ctx, req.params["backup_id"])
    req.authorize("database:backup:delete", {"project_id": b.project_id})
    await svc(req).backups.delete(req.ctx, b.id)
    return empty_response(202)
