"""Flavors, extra specs and flavor access."""

from __future__ import annotations

from starlette.responses import Response

from stratus.common.api import ApiRequest, empty_response, json_response
from stratus.common.microversion import Version
from stratus.compute.api import views
from stratus.compute.errors import BadRequest, NotFound
from stratus.compute.service import ComputeService


def _v(req: ApiRequest[ComputeService]) -> Version:
    assert req.version is not None
    return req.version


def _is_public(value: str | None, admin: bool) -> bool | None:
    if value is None:
        return True if not admin else None
    lowered = value.strip().lower()
    if lowered == "none":
        return None
    if lowered in ("true", "1", "yes", "t", "y", "on"):
        return True
    if lowered in ("false", "0", "no", "f", "n", "off"):
        return False
    raise BadRequest(f"Invalid is_public filter [{value}]")


async def _list(req: ApiRequest[ComputeService], detail: bool) -> Response:
    req.authorize("compute:flavors:index")
    q = req.query
    rows = await req.service.flavors.list_flavors(
        req.ctx,
        is_public=_is_public(q.is_public, req.ctx.is_admin),
        min_ram=q.minRam,
        min_disk=q.minDisk,
        limit=q.limit,
        marker=q.marker,
    )
    return json_response(
        {"flavors": [views.flavor(f, _v(req), req.base_url, detail=detail) for f in rows]}
    )


async def index(req: ApiRequest[ComputeService]) -> Response:
    return await _list(req, False)


async def detail(req: ApiRequest[ComputeService]) -> Response:
    return await _list(req, True)


async def show(req: ApiRequest[ComputeService]) -> Response:
    req.authorize("compute:flavors:index")
    flavor = await req.service.flavors.get(req.ctx, req.params["flavor_id"])
    return json_response({"flavor": views.flavor(flavor, _v(req), req.base_url)})


async def create(req: ApiRequest[ComputeService]) -> Response:
    req.authorize("compute:flavors:manage")
    attrs = req.body.flavor.model_dump(exclude_none=True, by_alias=True)
    if "description" in attrs and _v(req) < Version.parse("2.55"):
        raise BadRequest("A flavor description needs microversion 2.55.")
    if isinstance(attrs.get("swap"), str):
        if attrs["swap"] != "":
            raise BadRequest("Invalid input for field/attribute swap.")
        attrs["swap"] = 0
    flavor = await req.service.flavors.create(attrs)
    return json_response({"flavor": views.flavor(flavor, _v(req), req.base_url)})


async def update(req: ApiRequest[ComputeService]) -> Response:
    req.authorize("compute:flavors:manage")
    if _v(req) < Version.parse("2.55"):
        raise BadRequest("Updating a flavor needs microversion 2.55.")
    flavor = await req.service.flavors.update_description(
        req.params["flavor_id"], req.body.flavor.description
    )
    return json_response({"flavor": views.flavor(flavor, _v(req), req.base_url)})


async def delete(req: ApiRequest[ComputeService]) -> Response:
    req.authorize("compute:flavors:manage")
    await req.service.flavors.delete(req.params["flavor_id"])
    return empty_response(202)


async def specs_index(req: ApiRequest[ComputeService]) -> Response:
    req.authorize("compute:flavors:index")
    flavor = await req.service.flavors.get(req.ctx, req.params["flavor_id"])
    return json_response({"extra_specs": dict(flavor.extra_specs)})


async def specs_create(req: ApiRequest[ComputeService]) -> Response:
    req.authorize("compute:flavors:manage")
    specs = {k: str(v) for k, v in req.body.extra_specs.items()}
    await req.service.flavors.set_extra_specs(req.params["flavor_id"], specs)
    return json_response({"extra_specs": specs})


async def spec_show(req: ApiRequest[ComputeService]) -> Response:
    req.authorize("compute:flavors:index")
    flavor = await req.service.flavors.get(req.ctx, req.params["flavor_id"])
    key = req.params["key"]
    if key not in flavor.extra_specs:
        raise NotFound(f"Flavor {flavor.id} has no extra specs with key {key}.")
    return json_response({key: flavor.extra_specs[key]})


async def spec_update(req: ApiRequest[ComputeService]) -> Response:
    req.authorize("compute:flavors:manage")
    key = req.params["key"]
    body = req.body.item
    if list(body) != [key]:
        raise BadRequest("The request body and the URI must name the same single key.")
    specs = {key: str(body[key])}
    await req.service.flavors.set_extra_specs(req.params["flavor_id"], specs)
    return json_response(specs)


async def spec_delete(req: ApiRequest[ComputeService]) -> Response:
    req.authorize("compute:flavors:manage")
    await req.service.flavors.delete_extra_spec(req.params["flavor_id"], req.params["key"])
    return empty_response(200)


async def access_index(req: ApiRequest[ComputeService]) -> Response:
    req.authorize("compute:flavors:manage")
    projects = await req.service.flavors.access(req.params["flavor_id"])
    flavor_id = req.params["flavor_id"]
    return json_response(
        {"flavor_access": [{"flavor_id": flavor_id, "tenant_id": p} for p in projects]}
    )


async def action(req: ApiRequest[ComputeService]) -> Response:
    req.authorize("compute:flavors:manage")
    flavor_id = req.params["flavor_id"]
    body = req.body
    if (body.add is None) == (body.remove is None):
        raise BadRequest("Give exactly one of addTenantAccess or removeTenantAccess.")
    svc = req.service.flavors
    if body.add is not None:
        projects = await svc.add_access(flavor_id, body.add.tenant)
    else:
        projects = await svc.remove_access(flavor_id, body.remove.tenant)
    return json_response(
        {"flavor_access": [{"flavor_id": flavor_id, "tenant_id": p} for p in projects]}
    )
