"""Instances: the collection, one instance and its actions."""

from __future__ import annotations

from starlette.responses import Response

from stratus.common.api import ApiRequest, empty_response, json_response
from stratus.database.api import views
from stratus.database.api.common import base, check_project, svc, truthy
from stratus.database.errors import BadRequest
from stratus.database.service import DatabaseService
from stratus.database.service.new_instances import NewInstance, NewUser

MAX_REPLICAS = 16  # replicas one create makes (replica_count); quotas bound them too


async def index(req: ApiRequest[DatabaseService]) -> Response:
    check_project(req)
    req.authorize("database:instance:index", {"project_id": req.ctx.project_id})
    everyone = truthy(req.query.all_projects)
    if everyone:
        req.authorize("database:instance:all_projects")
    rows = await svc(req).instances.list(req.ctx, everyone)
    replicas = await svc(req).instances.replicas([i.id for i in rows])
    return json_response(
        {"instances": [views.instance(i, base(req), False, replicas.get(i.id)) for i in rows]}
    )


def _network(body: object) -> str | None:
    nics = getattr(body, "nics", [])
    if len(nics) > 1:
        raise BadRequest("An instance takes one NIC here.")
    for nic in nics:
        if nic.subnet_id or nic.ip_address:
            raise BadRequest("A NIC is given by its network (net-id) only.")
        if nic.net_id and nic.network_id and nic.net_id != nic.network_id:
            raise BadRequest("A NIC names two networks.")
        return str(nic.net_id or nic.network_id) if (nic.net_id or nic.network_id) else None
    return None


async def create(req: ApiRequest[DatabaseService]) -> Response:
    check_project(req)
    req.authorize("database:instance:create", {"project_id": req.ctx.project_id})
    b = req.body.instance
    if b.locality is not None:
        raise BadRequest("'locality' is not supported by this cloud yet.")
    if b.modules:
        raise BadRequest("Modules are not supported by this cloud yet.")
    if b.replica_of is None and b.replica_count not in (None, 0, 1):
        raise BadRequest(f"Replica count only valid when creating replicas. Cannot create "
                         f"{b.replica_count} instances.")  # fmt: skip
    count = 1 if b.replica_count is None else b.replica_count
    if b.replica_of is not None and not 1 <= count <= MAX_REPLICAS:
        raise BadRequest(f"Replica count must be 1 to {MAX_REPLICAS}, not {count}.")
    if b.flavorRef is None and b.replica_of is None:
        raise BadRequest("A flavor (flavorRef) is required.")
    if b.volume is not None and b.volume.type:
        raise BadRequest("Volume types are not supported for database volumes.")
    new = NewInstance(
        name=b.name,
        flavor_ref=b.flavorRef or "",
        volume_size=b.volume.size if b.volume else None,
        datastore=b.datastore.type if b.datastore else None,
        datastore_version=(b.datastore.version or b.datastore.version_number)
        if b.datastore
        else None,
        databases=[(d.name, d.character_set, d.collate) for d in b.databases],
        users=[
            NewUser(u.name, u.password, u.host or "%", [d.name for d in u.databases])
            for u in b.users
        ],
        network_id=_network(b),
        availability_zone=b.availability_zone,
        is_public=b.access.is_public if b.access else False,
        allowed_cidrs=list(b.access.allowed_cidrs) if b.access else [],
        backup_ref=b.restorePoint.backupRef if b.restorePoint else None,
        configuration_id=b.configuration,
        replica_of=b.replica_of,
        replica_count=count,
    )
    inst = await svc(req).instances.create(req.ctx, new)
    return json_response({"instance": views.instance(inst, base(req))})


async def _authorized(req: ApiRequest[DatabaseService], action: str) -> None:
    check_project(req)
    inst = await svc(req).instances.get(req.ctx, req.params["instance_id"])
    req.authorize(action, {"project_id": inst.project_id})


async def show(req: ApiRequest[DatabaseService]) -> Response:
    check_project(req)
    inst = await svc(req).instances.get(req.ctx, req.params["instance_id"])
    req.authorize("database:instance:show", {"project_id": inst.project_id})
    replicas = (await svc(req).instances.replicas([inst.id])).get(inst.id)
    return json_response({"instance": views.instance(inst, base(req), True, replicas)})


async def update(req: ApiRequest[DatabaseService]) -> Response:
    """PATCH and PUT: a new name, (PUT, as troveclient sends) a
    configuration group attached, or detached when given as null, and a
    replica detached from its source (``replica_of`` or ``slave_of`` null)."""
    await _authorized(req, "database:instance:update")
    b = req.body.instance
    detach = bool({"replica_of", "slave_of"} & b.model_fields_set)
    if b.replica_of is not None or b.slave_of is not None:
        raise BadRequest("A replica's source can only be removed (replica_of: null).")
    if b.access is not None:
        raise BadRequest("The access of an instance is set when it is created, here.")
    iid = req.params["instance_id"]
    if b.name is not None:
        await svc(req).instances.rename(req.ctx, iid, b.name)
    if "configuration" in b.model_fields_set:
        await svc(req).configurations.attach(req.ctx, iid, b.configuration)
    if detach:
        await svc(req).instances.detach(req.ctx, iid)
    return empty_response(202)


async def delete(req: ApiRequest[DatabaseService]) -> Response:
    await _authorized(req, "database:instance:delete")
    await svc(req).instances.delete(req.ctx, req.params["instance_id"])
    return empty_response(202)


async def restart(req: ApiRequest[DatabaseService]) -> Response:
    await _authorized(req, "database:instance:action")
    await svc(req).instances.restart(req.ctx, req.params["instance_id"])
    return empty_response(202)


async def resize(req: ApiRequest[DatabaseService]) -> Response:
    await _authorized(req, "database:instance:action")
    r = req.body.resize
    if (r.volume is None) == (r.flavorRef is None):
        raise BadRequest("A resize names either a volume size or a flavor.")
    if r.volume is not None:
        await svc(req).instances.resize_volume(req.ctx, req.params["instance_id"], r.volume.size)
    else:
        await svc(req).instances.resize_flavor(req.ctx, req.params["instance_id"], r.flavorRef)
    return empty_response(202)


async def promote_to_replica_source(req: ApiRequest[DatabaseService]) -> Response:
    await _authorized(req, "database:instance:action")
    await svc(req).instances.promote(req.ctx, req.params["instance_id"])
    return empty_response(202)


async def eject_replica_source(req: ApiRequest[DatabaseService]) -> Response:
    await _authorized(req, "database:instance:action")
    await svc(req).instances.eject(req.ctx, req.params["instance_id"])
    return empty_response(202)
