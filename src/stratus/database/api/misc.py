"""Versions, flavors and datastores."""

from __future__ import annotations

from starlette.responses import Response

from stratus.common.api import ApiRequest, json_response
from stratus.database.api import views
from stratus.database.api.common import base, check_project, svc
from stratus.database.errors import NotFound
from stratus.database.service import DatabaseService
from stratus.database.service.datastores import PARAMETERS


async def versions(req: ApiRequest[DatabaseService]) -> Response:
    return json_response(
        {
            "versions": [
                {
                    "id": "v1.0",
                    "status": "CURRENT",
                    "updated": "2012-08-01T00:00:00Z",
                    "links": [{"href": f"{req.base_url}/v1.0/", "rel": "self"}],
                }
            ]
        }
    )


async def flavors(req: ApiRequest[DatabaseService]) -> Response:
    check_project(req)
    req.authorize("database:datastores")
    rows = await svc(req).instances.flavors()
    return json_response({"flavors": [views.flavor(f, base(req)) for f in rows]})


async def flavor(req: ApiRequest[DatabaseService]) -> Response:
    check_project(req)
    req.authorize("database:datastores")
    f = await svc(req).instances.flavor(req.params["flavor_id"])
    if f.id != req.params["flavor_id"]:  # by id only, as Trove (clients then list by name)
        raise NotFound(f"Flavor '{req.params['flavor_id']}' could not be found.")
    return json_response({"flavor": views.flavor(f, base(req))})


async def datastores(req: ApiRequest[DatabaseService]) -> Response:
    check_project(req)
    req.authorize("database:datastores")
    rows = await svc(req).datastores.all()
    return json_response({"datastores": [views.datastore(d, base(req)) for d in rows]})


async def datastore(req: ApiRequest[DatabaseService]) -> Response:
    check_project(req)
    req.authorize("database:datastores")
    d = await svc(req).datastores.find(req.params["datastore_id"])
    return json_response({"datastore": views.datastore(d, base(req))})


async def datastore_versions(req: ApiRequest[DatabaseService]) -> Response:
    check_project(req)
    req.authorize("database:datastores")
    d = await svc(req).datastores.find(req.params["datastore_id"])
    return json_response({"versions": [views.version(v, base(req)) for v in d.versions]})


async def datastore_version(req: ApiRequest[DatabaseService]) -> Response:
    check_project(req)
    req.authorize("database:datastores")
    v = await svc(req).datastores.version(req.params["datastore_id"], req.params["version_id"])
    return json_response({"version": views.version(v, base(req))})


async def version_by_id(req: ApiRequest[DatabaseService]) -> Response:
    check_project(req)
    req.authorize("database:datastores")
    v = await svc(req).datastores.find_version(req.params["version_id"])
    return json_response({"version": views.version(v, base(req))})


async def parameters(req: ApiRequest[DatabaseService]) -> Response:
    check_project(req)
    req.authorize("database:datastores")
    v = await svc(req).datastores.version(req.params["datastore_id"], req.params["version_id"])
    return json_response(
        {"configuration-parameters": [views.parameter(p, v) for p in PARAMETERS[v.datastore]]}
    )
