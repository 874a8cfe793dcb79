"""Instance logs (Trove's guest logs): list, and one log shown or acted on."""

from __future__ import annotations

from starlette.responses import Response

from stratus.common.api import ApiRequest, json_response
from stratus.database.api import views
from stratus.database.api.common import check_project, svc
from stratus.database.service import DatabaseService
from stratus.database.service.logs import ACTIONS


async def index(req: ApiRequest[DatabaseService]) -> Response:
    check_project(req)
    inst = await svc(req).instances.get(req.ctx, req.params["instance_id"])
    req.authorize("database:instance:logs", {"project_id": inst.project_id})
    logs = await svc(req).logs.list(req.ctx, inst.id)
    return json_response({"logs": [views.log(v) for v in logs]})


async def action(req: ApiRequest[DatabaseService]) -> Response:
    """``{"name": ..., "enable"|"disable"|"publish"|"discard": 1}``; none of
    them: the log shown (as troveclient's ``log show`` sends it)."""
    check_project(req)
    inst = await svc(req).instances.get(req.ctx, req.params["instance_id"])
    b = req.body
    actions = [a for a in ACTIONS if getattr(b, a)]
    req.authorize("database:instance:log_action" if actions else "database:instance:logs",
                  {"project_id": inst.project_id})  # fmt: skip
    log = await svc(req).logs.act(req.ctx, inst.id, b.name, actions)
    return json_response({"log": views.log(log)})
