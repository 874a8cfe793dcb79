"""Tags of any taggable resource: ``/v2.0/{collection}/{id}/tags[/{tag}]``."""

from __future__ import annotations

from starlette.responses import Response

from stratus.common.api import ApiRequest, empty_response, json_response
from stratus.network.api.common import authorize, svc
from stratus.network.errors import NotFound
from stratus.network.service import NetworkService

SINGULAR = {
    "networks": "network",
    "subnets": "subnet",
    "ports": "port",
    "routers": "router",
    "floatingips": "floatingip",
    "security_groups": "security_group",
    "subnetpools": "subnetpool",
}


async def _target(req: ApiRequest[NetworkService], verb: str) -> tuple[str, str]:
    kind, rid = req.params["resources"], req.params["resource_id"]
    if kind not in SINGULAR:
        raise NotFound()
    owner = await svc(req).tags.owner(req.ctx, kind, rid)
    authorize(
        req, f"network:{verb}_{SINGULAR[kind]}", {"project_id": owner, "network_project_id": owner}
    )
    return kind, rid


async def index(req: ApiRequest[NetworkService]) -> Response:
    kind, rid = await _target(req, "get")
    return json_response({"tags": await svc(req).tags.find(req.ctx, kind, rid)})


async def show(req: ApiRequest[NetworkService]) -> Response:
    kind, rid = await _target(req, "get")
    await svc(req).tags.check(req.ctx, kind, rid, req.params["tag"])
    return empty_response()


async def replace(req: ApiRequest[NetworkService]) -> Response:
    kind, rid = await _target(req, "update")
    tags = await svc(req).tags.replace(req.ctx, kind, rid, req.body.tags)
    return json_response({"tags": tags})


async def add_many(req: ApiRequest[NetworkService]) -> Response:
    kind, rid = await _target(req, "update")
    tags = await svc(req).tags.add(req.ctx, kind, rid, req.body.tags)
    return json_response({"tags": tags}, 201)


async def add(req: ApiRequest[NetworkService]) -> Response:
    kind, rid = await _target(req, "update")
    await svc(req).tags.add(req.ctx, kind, rid, [req.params["tag"]])
    return empty_response(201)


async def clear(req: ApiRequest[NetworkService]) -> Response:
    kind, rid = await _target(req, "update")
    await svc(req).tags.clear(req.ctx, kind, rid)
    return empty_response()


async def remove(req: ApiRequest[NetworkService]) -> Response:
    kind, rid = await _target(req, "update")
    await svc(req).tags.remove(req.ctx, kind, rid, req.params["tag"])
    return empty_response()
