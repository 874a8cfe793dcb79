"""Trove's quota management: ``/mgmt/quotas/{project}``, shown to the
project's own members and to admins, changed by admins."""

from __future__ import annotations

from starlette.responses import Response

from stratus.common.api import ApiRequest, json_response
from stratus.database.api.common import check_project, svc
from stratus.database.service import DatabaseService


async def show(req: ApiRequest[DatabaseService]) -> Response:
    check_project(req)
    project = req.params["user_project"]
    req.authorize("database:quota:show", {"project_id": project})
    rows = await svc(req).quotas.show(req.ctx, project)
    return json_response({"quotas": [
        {"resource": u.resource, "in_use": u.in_use, "reserved": 0, "limit": u.limit}
        for u in rows
    ]})  # fmt: skip


async def update(req: ApiRequest[DatabaseService]) -> Response:
    check_project(req)
    project = req.params["user_project"]
    req.authorize("database:quota:update", {"project_id": project})
    done = await svc(req).quotas.update(req.ctx, project, dict(req.body.quotas))
    return json_response({"quotas": done})
