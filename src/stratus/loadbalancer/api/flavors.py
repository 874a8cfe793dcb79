"""Octavia's flavors and flavor profiles: profiles are the admins' only;
flavors are listed and shown to every user, made and changed by admins."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.responses import Response

from stratus.common.api import ApiRequest, empty_response, json_response
from stratus.loadbalancer import models as m
from stratus.loadbalancer.api.resources import authorize, svc
from stratus.loadbalancer.service import LoadBalancerService


def flavor_view(f: m.Flavor) -> dict[str, Any]:
    return {"id": f.id, "name": f.name, "description": f.description, "enabled": f.enabled,
            "flavor_profile_id": f.flavor_profile_id}  # fmt: skip


def profile_view(p: m.FlavorProfile) -> dict[str, Any]:
    return {"id": p.id, "name": p.name, "provider_name": p.provider_name,
            "flavor_data": p.flavor_data}  # fmt: skip


# (model, body key, collection key, path parameter, view, the policy to read it)
KINDS: dict[str, tuple[Any, str, str, str, Callable[[Any], dict[str, Any]], str]] = {
    "flavor": (m.Flavor, "flavor", "flavors", "flavor_id", flavor_view, "get_flavor"),
    "flavorprofile": (m.FlavorProfile, "flavorprofile", "flavorprofiles", "flavorprofile_id",
                      profile_view, "manage_flavor"),
}  # fmt: skip


def handlers(name: str) -> dict[str, Callable[[ApiRequest[LoadBalancerService]], Any]]:
    model, key, collection, param, view, read = KINDS[name]

    async def index(req: ApiRequest[LoadBalancerService]) -> Response:
        authorize(req, read, None)
        rows = await svc(req).flavors.find(model)
        return json_response({collection: [view(r) for r in rows], f"{collection}_links": []})

    async def show(req: ApiRequest[LoadBalancerService]) -> Response:
        authorize(req, read, None)
        return json_response({key: view(await svc(req).flavors.get(model, req.params[param]))})

    async def create(req: ApiRequest[LoadBalancerService]) -> Response:
        authorize(req, "manage_flavor", None)
        row = await svc(req).flavors.create(model, getattr(req.body, key).attrs())
        return json_response({key: view(row)}, 201)

    async def update(req: ApiRequest[LoadBalancerService]) -> Response:
        authorize(req, "manage_flavor", None)
        attrs = getattr(req.body, key).attrs()
        row = await svc(req).flavors.update(model, req.params[param], attrs)
        return json_response({key: view(row)})

    async def delete(req: ApiRequest[LoadBalancerService]) -> Response:
        authorize(req, "manage_flavor", None)
        await svc(req).flavors.delete(model, req.params[param])
        return empty_response(204)

    return {"index": index, "show": show, "create": create, "update": update, "delete": delete}
