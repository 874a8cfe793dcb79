"""Volume types (extra specs, access) and QoS specs."""

from __future__ import annotations

from starlette.responses import Response

from stratus.common.api import ApiRequest, empty_response, json_response
from stratus.volume.api import params as p
from stratus.volume.api import views
from stratus.volume.errors import BadRequest, NotFound
from stratus.volume.service import VolumeService


def _admin(req: ApiRequest[VolumeService]) -> bool:
    return req.allowed("volume:types:manage")


def _manage(req: ApiRequest[VolumeService]) -> None:
    p.check_project(req)
    req.authorize("volume:types:manage")


async def index(req: ApiRequest[VolumeService]) -> Response:
    p.check_project(req)
    req.authorize("volume:types:get")
    rows = await p.svc(req).types.list_types(req.ctx, req.query.is_public)
    return json_response({"volume_types": [views.volume_type(t, admin=_admin(req)) for t in rows]})


async def show(req: ApiRequest[VolumeService]) -> Response:
    p.check_project(req)
    req.authorize("volume:types:get")
    vtype = await p.svc(req).types.get(req.ctx, req.params["type_id"])
    return json_response({"volume_type": views.volume_type(vtype, admin=_admin(req))})


async def create(req: ApiRequest[VolumeService]) -> Response:
    _manage(req)
    b = req.body.volume_type
    vtype = await p.svc(req).types.create(
        b.name.strip(), b.description, p.flag(b.is_public, "is_public"), dict(b.extra_specs)
    )
    return json_response({"volume_type": views.volume_type(vtype, admin=True)})


async def update(req: ApiRequest[VolumeService]) -> Response:
    _manage(req)
    b = req.body.volume_type
    changes = b.model_dump(exclude_unset=True)
    if "is_public" in changes and changes["is_public"] is not None:
        changes["is_public"] = p.flag(changes["is_public"], "is_public")
    if not changes:
        raise BadRequest(
            "Invalid input received: Specify volume type name, description, is_public."
        )
    vtype = await p.svc(req).types.update(req.params["type_id"], changes)
    return json_response({"volume_type": views.volume_type(vtype, admin=True)})


async def delete(req: ApiRequest[VolumeService]) -> Response:
    _manage(req)
    await p.svc(req).types.delete(req.params["type_id"])
    return empty_response(202)


async def specs_index(req: ApiRequest[VolumeService]) -> Response:
    p.check_project(req)
    req.authorize("volume:types:get")
    vtype = await p.svc(req).types.get(req.ctx, req.params["type_id"])
    return json_response(
        {"extra_specs": views.volume_type(vtype, admin=_admin(req))["extra_specs"]}
    )


async def specs_create(req: ApiRequest[VolumeService]) -> Response:
    _manage(req)
    specs = await p.svc(req).types.set_specs(req.params["type_id"], dict(req.body.extra_specs))
    return json_response({"extra_specs": {k: specs[k] for k in req.body.extra_specs}})


async def spec_show(req: ApiRequest[VolumeService]) -> Response:
    p.check_project(req)
    req.authorize("volume:types:get")
    vtype = await p.svc(req).types.get(req.ctx, req.params["type_id"])
    specs = views.volume_type(vtype, admin=_admin(req))["extra_specs"]
    key = req.params["key"]
    if key not in specs:
        raise NotFound(f"Volume Type {vtype.id} has no extra specs with key {key}.")
    return json_response({key: specs[key]})


async def spec_update(req: ApiRequest[VolumeService]) -> Response:
    _manage(req)
    key = req.params["key"]
    if key not in req.body.spec:
        raise BadRequest("Request body and URI mismatch")
    await p.svc(req).types.set_specs(req.params["type_id"], dict(req.body.spec))
    return json_response(dict(req.body.spec))


async def spec_delete(req: ApiRequest[VolumeService]) -> Response:
    _manage(req)
    await p.svc(req).types.delete_spec(req.params["type_id"], req.params["key"])
    return empty_response(202)


async def access_index(req: ApiRequest[VolumeService]) -> Response:
    _manage(req)
    projects = await p.svc(req).types.access(req.params["type_id"])
    return json_response(
        {
            "volume_type_access": [
                {"volume_type_id": req.params["type_id"], "project_id": project}
                for project in projects
            ]
        }
    )


async def action(req: ApiRequest[VolumeService]) -> Response:
    _manage(req)
    body = req.body
    ref = body.add or body.remove
    await p.svc(req).types.change_access(req.params["type_id"], ref.project, body.add is not None)
    return empty_response(202)


async def default_type(req: ApiRequest[VolumeService]) -> Response:
    p.check_project(req)
    req.authorize("volume:types:get")
    vtype = await p.svc(req).types.get(req.ctx, "default")
    return json_response({"volume_type": views.volume_type(vtype, admin=_admin(req))})


# -- QoS specs --------------------------------------------------------------------------------


def _qos(req: ApiRequest[VolumeService]) -> None:
    p.check_project(req)
    req.authorize("volume:qos")


async def qos_index(req: ApiRequest[VolumeService]) -> Response:
    _qos(req)
    return json_response({"qos_specs": [views.qos(q) for q in await p.svc(req).qos.list_specs()]})


async def qos_create(req: ApiRequest[VolumeService]) -> Response:
    _qos(req)
    specs = dict(req.body.qos_specs)
    name = specs.pop("name")
    row = await p.svc(req).qos.create(name, specs)
    return json_response({"qos_specs": views.qos(row)})


async def qos_show(req: ApiRequest[VolumeService]) -> Response:
    _qos(req)
    return json_response({"qos_specs": views.qos(await p.svc(req).qos.get(req.params["qos_id"]))})


async def qos_update(req: ApiRequest[VolumeService]) -> Response:
    _qos(req)
    specs = await p.svc(req).qos.set_keys(req.params["qos_id"], dict(req.body.qos_specs))
    return json_response({"qos_specs": specs})


async def qos_delete(req: ApiRequest[VolumeService]) -> Response:
    _qos(req)
    await p.svc(req).qos.delete(req.params["qos_id"], p.truthy(req.query.force))
    return empty_response(202)


async def qos_delete_keys(req: ApiRequest[VolumeService]) -> Response:
    _qos(req)
    await p.svc(req).qos.delete_keys(req.params["qos_id"], list(req.body.keys))
    return empty_response(202)


async def qos_associations(req: ApiRequest[VolumeService]) -> Response:
    _qos(req)
    types = await p.svc(req).qos.associations(req.params["qos_id"])
    return json_response(
        {
            "qos_associations": [
                {"association_type": "volume_type", "name": t.name, "id": t.id} for t in types
            ]
        }
    )


async def qos_associate(req: ApiRequest[VolumeService]) -> Response:
    _qos(req)
    await p.svc(req).qos.associate(req.params["qos_id"], req.query.vol_type_id, True)
    return empty_response(202)


async def qos_disassociate(req: ApiRequest[VolumeService]) -> Response:
    _qos(req)
    await p.svc(req).qos.associate(req.params["qos_id"], req.query.vol_type_id, False)
    return empty_response(202)


async def qos_disassociate_all(req: ApiRequest[VolumeService]) -> Response:
    _qos(req)
    await p.svc(req).qos.disassociate_all(req.params["qos_id"])
    return empty_response(202)
