"""Configuration groups."""

from __future__ import annotations

from starlette.responses import Response

from stratus.common.api import ApiRequest, empty_response, json_response
from stratus.database.api import views
from stratus.database.api.common import check_project, svc
from stratus.database.service import DatabaseService


def _allowed(req: ApiRequest[DatabaseService], action: str) -> None:
    check_project(req)
    req.authorize(action, {"project_id": req.ctx.project_id})


async def index(req: ApiRequest[DatabaseService]) -> Response:
    _allowed(req, "database:configuration:index")
    rows = await svc(req).configurations.groups(req.ctx)
    out = []
    for g, count in rows:
        view = views.configuration(g, count)
        view.pop("values")
        out.append(view)
    return json_response({"configurations": out})


async def show(req: ApiRequest[DatabaseService]) -> Response:
    _allowed(req, "database:configuration:index")
    g = await svc(req).configurations.get(req.ctx, req.params["configuration_id"])
    count = len(await svc(req).configurations.instances(req.ctx, g.id))
    return json_response({"configuration": views.configuration(g, count)})


async def create(req: ApiRequest[DatabaseService]) -> Response:
    _allowed(req, "database:configuration:manage")
    b = req.body.configuration
    g = await svc(req).configurations.create(
        req.ctx, b.name, b.description, dict(b.values),
        b.datastore.type if b.datastore else None,
        (b.datastore.version or b.datastore.version_number) if b.datastore else None,
    )  # fmt: skip
    return json_response({"configuration": views.configuration(g, 0)})


async def replace(req: ApiRequest[DatabaseService]) -> Response:
    _allowed(req, "database:configuration:manage")
    b = req.body.configuration
    await svc(req).configurations.set_values(
        req.ctx, req.params["configuration_id"], dict(b.values), replace=True, name=b.name,
        description=b.description,
    )  # fmt: skip
    return empty_response(202)


async def edit(req: ApiRequest[DatabaseService]) -> Response:
    _allowed(req, "database:configuration:manage")
    b = req.body.configuration
    await svc(req).configurations.set_values(
        req.ctx, req.params["configuration_id"], dict(b.values), replace=False
    )
    return empty_response(200)


async def delete(req: ApiRequest[DatabaseService]) -> Response:
    _allowed(req, "database:configuration:manage")
    await svc(req).configurations.delete(req.ctx, req.params["configuration_id"])
    return empty_response(202)


async def instances(req: ApiRequest[DatabaseService]) -> Response:
    _allowed(req, "database:configuration:index")
    rows = await svc(req).configurations.instances(req.ctx, req.params["configuration_id"])
    return json_response({"instances": [{"id": i.id, "name": i.name} for i in rows]})
