"""A stack's snapshots: take, list, show, delete, restore."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from stratus.common.api import ApiRequest, empty_response, json_response
from stratus.orchestration import models as m
from stratus.orchestration.api.common import svc, visible
from stratus.orchestration.api.views import when
from stratus.orchestration.service import OrchestrationService


def view(snap: m.Snapshot) -> dict[str, Any]:
    return {"id": snap.id, "name": snap.name, "stack_id": snap.stack_id,
            "action": m.SNAPSHOT, "status": snap.status, "status_reason": snap.status_reason,
            "data": snap.data, "creation_time": when(snap.created_at)}  # fmt: skip


async def create(req: ApiRequest[OrchestrationService]) -> Response:
    stack = await visible(req, "orchestration:stacks:update")
    snap = await svc(req).snapshots.create(req.ctx, stack, req.body.name)
    return json_response(view(snap))


async def index(req: ApiRequest[OrchestrationService]) -> Response:
    stack = await visible(req, "orchestration:stacks:show")
    rows = await svc(req).snapshots.index(stack)
    return json_response({"snapshots": [view(r) for r in rows]})


async def show(req: ApiRequest[OrchestrationService]) -> Response:
    stack = await visible(req, "orchestration:stacks:show")
    snap = await svc(req).snapshots.get(stack, req.params["snapshot_id"])
    return json_response({"snapshot": view(snap)})


async def delete(req: ApiRequest[OrchestrationService]) -> Response:
    stack = await visible(req, "orchestration:stacks:update")
    await svc(req).snapshots.delete(stack, req.params["snapshot_id"])
    return empty_response(204)


async def restore(req: ApiRequest[OrchestrationService]) -> Response:
    stack = await visible(req, "orchestration:stacks:update")
    await svc(req).snapshots.restore(req.ctx, stack, req.params["snapshot_id"])
    return empty_response(202)
