"""Servers, their actions, metadata and action history."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from starlette.responses import Response

from stratus.common.api import ApiRequest, empty_response, json_response
from stratus.common.microversion import Version
from stratus.compute import models as m
from stratus.compute.api import history_views, views
from stratus.compute.api.server_schemas import ServerCreateBody, ServerListQuery
from stratus.compute.errors import BadRequest, NotFound
from stratus.compute.service import ComputeService
from stratus.compute.service.network import VifPort
from stratus.compute.service.servers import ListFilter

V = Version.parse


def _v(req: ApiRequest[ComputeService]) -> Version:
    assert req.version is not None
    return req.version


def _image_base(req: ApiRequest[ComputeService]) -> str:
    return req.base_url.rsplit("/v2.1", 1)[0]


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on", "")


def render(
    req: ApiRequest[ComputeService],
    server: m.Server,
    host_status: str | None = None,
    ports: list[VifPort] | None = None,
    volumes: list[m.VolumeAttachment] | None = None,
) -> dict[str, Any]:
    admin = req.allowed("compute:servers:show:admin_fields", {"project_id": server.project_id})
    return views.server(
        server,
        _v(req),
        req.base_url,
        admin=admin,
        image_base=_image_base(req),
        host_status=host_status,
        ports=ports,
        volumes=volumes,
    )


async def load(req: ApiRequest[ComputeService], action: str) -> m.Server:
    server = await req.service.servers.get(req.ctx, req.params["server_id"])
    req.authorize(action, {"project_id": server.project_id})
    return server


# -- collection -----------------------------------------------------------------------------


def _filter(req: ApiRequest[ComputeService]) -> ListFilter:
    q: ServerListQuery = req.query
    all_projects = q.all_tenants is not None and _truthy(q.all_tenants)
    if all_projects:
        req.authorize("compute:servers:index:all_tenants")
    changes = None
    if q.changes_since:
        try:
            changes = datetime.fromisoformat(q.changes_since.replace("Z", "+00:00"))
        except ValueError as exc:
            raise BadRequest(f"Invalid changes-since value {q.changes_since!r}.") from exc
    locked = None
    if q.locked is not None:
        locked = _truthy(q.locked)
    return ListFilter(
        name=q.name,
        status=q.status,
        changes_since=changes,
        ip=q.ip,
        host=q.host if req.ctx.is_admin else None,
        all_projects=all_projects,
        project_id=q.project_id or q.tenant_id,
        flavor=q.flavor,
        image=q.image,
        locked=locked,
        limit=q.limit,
        marker=q.marker,
        deleted=q.deleted is not None and _truthy(q.deleted) and req.ctx.is_admin,
    )


def _page_links(
    req: ApiRequest[ComputeService], rows: list[m.Server], limit: int | None, detail: bool
) -> dict[str, Any]:
    if not limit or len(rows) < limit:
        return {}
    query = [(k, v) for k, v in req.raw.query_params.multi_items() if k != "marker"]
    query.append(("marker", rows[-1].id))
    from urllib.parse import urlencode

    path = "servers/detail" if detail else "servers"
    return {"servers_links": [{"rel": "next", "href": f"{req.base_url}/{path}?{urlencode(query)}"}]}


async def index(req: ApiRequest[ComputeService]) -> Response:
    req.authorize("compute:servers:index")
    rows = await req.service.servers.list_servers(req.ctx, _filter(req))
    return json_response(
        {
            "servers": [views.server_brief(s, req.base_url) for s in rows],
            **_page_links(req, rows, req.query.limit, False),
        }
    )


async def detail(req: ApiRequest[ComputeService]) -> Response:
    req.authorize("compute:servers:index")
    svc = req.service
    rows = await svc.servers.list_servers(req.ctx, _filter(req))
    statuses = {}
    if req.ctx.is_admin:
        statuses = {h.host: _status(h, alive) for h, alive in await svc.hosts.alive()}
    ports = await svc.nics.ports_of(s.id for s in rows)
    nics = svc.nics.enabled
    volumes = await svc.server_volumes.of_servers([s.id for s in rows])
    return json_response(
        {
            "servers": [
                render(
                    req,
                    s,
                    statuses.get(s.host or ""),
                    ports.get(s.id, []) if nics else None,
                    volumes.get(s.id),
                )
                for s in rows
            ],
            **_page_links(req, rows, req.query.limit, True),
        }
    )


def _host_status(h: Any) -> str:
    return _status(h.host, h.alive)


def _status(host: Any, alive: bool) -> str:
    if host.disabled:
        return "MAINTENANCE"
    return "UP" if alive else "DOWN"


async def show(req: ApiRequest[ComputeService]) -> Response:
    server = await load(req, "compute:servers:show")
    host_status = None
    if req.ctx.is_admin and server.host:
        try:
            host_status = _host_status(await req.service.hosts.find(server.host))
        except NotFound:
            host_status = "UNKNOWN"
    return json_response({"server": await render_with_ports(req, server, host_status)})


async def render_with_ports(
    req: ApiRequest[ComputeService], server: m.Server, host_status: str | None = None
) -> dict[str, Any]:
    """The server's view with the addresses of its ports and its volumes."""
    nics = req.service.nics
    ports = (await nics.ports_of([server.id])).get(server.id, []) if nics.enabled else None
    volumes = await req.service.server_volumes.of_servers([server.id])
    return render(req, server, host_status, ports, volumes.get(server.id))


async def create(req: ApiRequest[ComputeService]) -> Response:
    body: ServerCreateBody = req.body
    b = body.server
    req.authorize("compute:servers:create", {"project_id": req.ctx.project_id})
    if b.forces_host:
        req.authorize("compute:servers:create:forced_host")
    servers, admin_pass = await req.service.servers.create(req.ctx, body.create_request())
    first = servers[0]
    if b.return_reservation_id:
        return json_response({"reservation_id": f"r-{first.id[:8]}"}, status=202)
    out: dict[str, Any] = {
        "id": first.id,
        "links": views.links(req.base_url, "servers", first.id),
        "OS-DCF:diskConfig": "MANUAL",
        "adminPass": admin_pass,
    }
    if b.network_mode != "none":
        out["security_groups"] = [{"name": "default"}]
    return json_response(
        {"server": out}, status=202, headers={"Location": f"{req.base_url}/servers/{first.id}"}
    )


async def update(req: ApiRequest[ComputeService]) -> Response:
    server = await load(req, "compute:servers:update")
    attrs = req.body.server.model_dump(exclude_unset=True, by_alias=False)
    if "description" in attrs and _v(req) < V("2.19"):
        raise BadRequest(
            "Invalid input for field/attribute server: description needs microversion 2.19."
        )
    if "hostname" in attrs and _v(req) < V("2.90"):
        raise BadRequest(
            "Invalid input for field/attribute server: hostname needs microversion 2.90."
        )
    updated = await req.service.servers.update(req.ctx, server.id, attrs)
    view = await render_with_ports(req, updated)
    return json_response({"server": views.updated_server(view, _v(req))})


async def delete(req: ApiRequest[ComputeService]) -> Response:
    server = await load(req, "compute:servers:delete")
    await req.service.delete_server(req.ctx, server)
    return empty_response()


# -- metadata ---------------------------------------------------------------------------------


async def metadata_index(req: ApiRequest[ComputeService]) -> Response:
    server = await load(req, "compute:servers:show")
    return json_response({"metadata": dict(server.metadata_)})


async def metadata_replace(req: ApiRequest[ComputeService]) -> Response:
    server = await load(req, "compute:servers:update")
    items = await req.service.servers.set_metadata(
        req.ctx, server.id, req.body.metadata, replace=True
    )
    return json_response({"metadata": items})


async def metadata_update(req: ApiRequest[ComputeService]) -> Response:
    server = await load(req, "compute:servers:update")
    items = await req.service.servers.set_metadata(
        req.ctx, server.id, req.body.metadata, replace=False
    )
    return json_response({"metadata": items})


async def metadata_show(req: ApiRequest[ComputeService]) -> Response:
    server = await load(req, "compute:servers:show")
    key = req.params["key"]
    if key not in server.metadata_:
        raise NotFound(f"Metadata item was not found: {key}")
    return json_response({"meta": {key: server.metadata_[key]}})


async def metadata_set(req: ApiRequest[ComputeService]) -> Response:
    server = await load(req, "compute:servers:update")
    key = req.params["key"]
    meta = req.body.meta
    if list(meta) != [key]:
        raise BadRequest("The request body and the URI must name the same single key.")
    await req.service.servers.set_metadata(req.ctx, server.id, meta, replace=False)
    return json_response({"meta": meta})


async def metadata_delete(req: ApiRequest[ComputeService]) -> Response:
    server = await load(req, "compute:servers:update")
    await req.service.servers.delete_metadata(req.ctx, server.id, req.params["key"])
    return empty_response()


# -- instance actions ---------------------------------------------------------------------------


async def actions_index(req: ApiRequest[ComputeService]) -> Response:
    server = await load(req, "compute:servers:show")
    rows = await req.service.actions.list_actions(server.id)
    return json_response({"instanceActions": [history_views.action(a, _v(req)) for a in rows]})


async def actions_show(req: ApiRequest[ComputeService]) -> Response:
    server = await load(req, "compute:servers:show")
    found = await req.service.actions.get(server.id, req.params["request_id"])
    if found is None:
        raise NotFound(
            f"Action {req.params['request_id']} on instance {server.id} could not be found."
        )
    act, events = found
    body = history_views.action(act, _v(req))
    body["events"] = [history_views.event(e, _v(req), req.ctx.is_admin) for e in events]
    return json_response({"instanceAction": body})
