"""Task records of imports."""

from __future__ import annotations

from starlette.responses import Response

from stratus.common.api import ApiRequest, json_response
from stratus.image.api import views
from stratus.image.service import ImageService


async def index(req: ApiRequest[ImageService]) -> Response:
    req.authorize("image:get_tasks")
    rows = await req.service.imports.tasks(req.ctx)
    return json_response(
        {
            "tasks": [views.task(t) for t in rows],
            "first": "/v2/tasks",
            "schema": "/v2/schemas/tasks",
        }
    )


async def show(req: ApiRequest[ImageService]) -> Response:
    task = await req.service.imports.task(req.ctx, req.params["task_id"])
    req.authorize("image:get_task", {"project_id": task.owner})
    return json_response(views.task(task))


async def image_tasks(req: ApiRequest[ImageService]) -> Response:
    rows = await req.service.imports.tasks(req.ctx, req.params["image_id"])
    return json_response({"tasks": [views.task(t) for t in rows]})
