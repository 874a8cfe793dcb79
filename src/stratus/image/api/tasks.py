"""Task records of imports."""

from __future__ import annotations

from starlette.responses import Response

from stratus.common.api import ApiRequest, json_response
from stratus.image.api import views
from stratus.image.service import ImageService


def _svc(req: ApiRequest) -> ImageService:
    return req.service  # type: ignore[no-any-return]


async def index(req: ApiRequest) -> Response:
    req.authorize("image:get_tasks")
    rows = await _svc(req).imports.tasks(req.ctx)
    return json_response(
        {
            "tasks": [views.task(t) for t in rows],
            "first": "/v2/tasks",
            "schema": "/v2/schemas/tasks",
        }
    )


async def show(req: ApiRequest) -> Response:
    task = await _svc(req).imports.task(req.ctx, req.params["task_id"])
    req.authorize("image:get_task", {"project_id": task.owner})
    return json_response(views.task(task))


async def image_tasks(req: ApiRequest) -> Response:
    rows = await _svc(req).imports.tasks(req.ctx, req.params["image_id"])
    return json_response({"tasks": [views.task(t) for t in rows]})
