"""Get me a network: ``/v2.0/auto-allocated-topology/{project_id}``."""

from __future__ import annotations

from starlette.responses import Response

from stratus.common.api import ApiRequest, empty_response, json_response
from stratus.network.api import listing
from stratus.network.api.common import authorize, svc
from stratus.network.service import NetworkService


def _project(req: ApiRequest[NetworkService], action: str) -> str:
    project_id = req.params["project_id"]
    authorize(req, action, {"project_id": project_id})
    return project_id


async def show(req: ApiRequest[NetworkService]) -> Response:
    project_id = _project(req, "network:get_auto_allocated_topology")
    dry_run = "dry-run" in listing.fields_of(req)
    network_id = await svc(req).topologies.get(req.ctx, project_id, dry_run=dry_run)
    body = (
        {"id": network_id}
        if dry_run
        else {"id": network_id, "tenant_id": project_id, "project_id": project_id}
    )
    return json_response({"auto_allocated_topology": body})


async def delete(req: ApiRequest[NetworkService]) -> Response:
    project_id = _project(req, "network:delete_auto_allocated_topology")
    await svc(req).topologies.delete(req.ctx, project_id)
    return empty_response()
