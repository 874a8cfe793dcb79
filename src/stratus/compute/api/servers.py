"""Servers, their actions, metadata and action history."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Any

from starlette.responses import Response

from stratus.common.api import ApiRequest, empty_response, json_response
from stratus.common.microversion import Version
from stratus.compute import models as m
from stratus.compute.api import migrations, server_images, server_migrations, views
from stratus.compute.api.schemas import ServerCreateBody, ServerListQuery
from stratus.compute.errors import BadRequest, Conflict, NotFound
from stratus.compute.service import ComputeService
from stratus.compute.service.servers import CreateRequest, ListFilter

V = Version.parse


def _svc(req: ApiRequest) -> ComputeService:
    return req.service  # type: ignore[no-any-return]


def _v(req: ApiRequest) -> Version:
    assert req.version is not None
    return req.version


def _image_base(req: ApiRequest) -> str:
    return req.base_url.rsplit("/v2.1", 1)[0]


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on", "")


def _count(value: int | str | None, what: str) -> int | None:
    if value is None:
        return None
    try:
        number = int(value)
    except ValueError as exc:
        raise BadRequest(f"Invalid input for field/attribute {what}. Value: {value}.") from exc
    if number < 1:
        raise BadRequest(f"Invalid input for field/attribute {what}: it must be at least 1.")
    return number


def _ref(value: str) -> str:
    """An id, also when given as the resource's URL (Nova takes both)."""
    return value.rstrip("/").rsplit("/", 1)[-1] if "/" in value else value


def render(req: ApiRequest, server: m.Server, host_status: str | None = None) -> dict[str, Any]:
    admin = req.allowed("compute:servers:show:admin_fields", {"project_id": server.project_id})
    return views.server(
        server,
        _v(req),
        req.base_url,
        admin=admin,
        image_base=_image_base(req),
        host_status=host_status,
    )


async def _load(req: ApiRequest, action: str) -> m.Server:
    server = await _svc(req).servers.get(req.ctx, req.params["server_id"])
    req.authorize(action, {"project_id": server.project_id})
    return server


# -- collection -----------------------------------------------------------------------------


def _filter(req: ApiRequest) -> ListFilter:
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
    req: ApiRequest, rows: list[m.Server], limit: int | None, detail: bool
) -> dict[str, Any]:
    if not limit or len(rows) < limit:
        return {}
    query = [(k, v) for k, v in req.raw.query_params.multi_items() if k != "marker"]
    query.append(("marker", rows[-1].id))
    from urllib.parse import urlencode

    path = "servers/detail" if detail else "servers"
    return {"servers_links": [{"rel": "next", "href": f"{req.base_url}/{path}?{urlencode(query)}"}]}


async def index(req: ApiRequest) -> Response:
    req.authorize("compute:servers:index")
    rows = await _svc(req).servers.list_servers(req.ctx, _filter(req))
    return json_response(
        {
            "servers": [views.server_brief(s, req.base_url) for s in rows],
            **_page_links(req, rows, req.query.limit, False),
        }
    )


async def detail(req: ApiRequest) -> Response:
    req.authorize("compute:servers:index")
    svc = _svc(req)
    rows = await svc.servers.list_servers(req.ctx, _filter(req))
    statuses = {}
    if req.ctx.is_admin:
        statuses = {h.host.host: _host_status(h) for h in await svc.hosts.list_hosts()}
    return json_response(
        {
            "servers": [render(req, s, statuses.get(s.host or "")) for s in rows],
            **_page_links(req, rows, req.query.limit, True),
        }
    )


def _host_status(h: Any) -> str:
    if h.host.disabled:
        return "MAINTENANCE"
    return "UP" if h.alive else "DOWN"


async def show(req: ApiRequest) -> Response:
    server = await _load(req, "compute:servers:show")
    host_status = None
    if req.ctx.is_admin and server.host:
        try:
            host_status = _host_status(await _svc(req).hosts.find(server.host))
        except NotFound:
            host_status = "UNKNOWN"
    return json_response({"server": render(req, server, host_status)})


async def create(req: ApiRequest) -> Response:
    body: ServerCreateBody = req.body
    b = body.server
    v = _v(req)
    req.authorize("compute:servers:create", {"project_id": req.ctx.project_id})
    if b.networks is None:
        if v >= V("2.37"):
            raise BadRequest(
                "Invalid input for field/attribute networks: it is required since microversion 2.37."
            )
        networks = "auto"
    elif isinstance(b.networks, str):
        if b.networks not in ("auto", "none") or v < V("2.37"):
            raise BadRequest(f"Invalid input for field/attribute networks. Value: {b.networks}.")
        networks = b.networks
    else:
        for ref in b.networks:
            raise BadRequest(
                f"Network {ref.uuid or ref.port} could not be found: this cloud has no network service."
            )
        networks = "auto"
    image_ref = _ref(b.imageRef or "")
    for bdm in b.block_device_mapping_v2 or []:
        local_image = bdm.source_type == "image" and bdm.destination_type in (None, "local")
        if not local_image or (bdm.uuid and image_ref and bdm.uuid != image_ref):
            raise BadRequest(
                "Only an image booted to local disk is supported: this cloud has no block storage."
            )
        image_ref = image_ref or bdm.uuid or ""
    if not image_ref:
        raise BadRequest("An image is required (imageRef).")
    hints = body.scheduler_hints or body.legacy_hints or {}
    group = hints.get("group")
    zone = b.availability_zone
    if zone and ":" in zone:
        req.authorize("compute:servers:create:forced_host")
    if b.host or b.hypervisor_hostname:
        req.authorize("compute:servers:create:forced_host")
        zone = f"{(zone or 'nova').split(':')[0]}:{b.host or b.hypervisor_hostname}"
    min_count = _count(b.min_count, "min_count") or 1
    max_count = _count(b.max_count, "max_count") or min_count
    if b.user_data is not None:
        try:
            base64.b64decode(b.user_data, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise BadRequest(
                "Invalid input for field/attribute user_data: it must be base64."
            ) from exc
    if b.config_drive not in (None, True, False, "True", "true", "False", "false", ""):
        raise BadRequest(
            f"Invalid input for field/attribute config_drive. Value: {b.config_drive}."
        )
    servers, admin_pass = await _svc(req).servers.create(
        req.ctx,
        CreateRequest(
            name=b.name,
            image_ref=image_ref,
            flavor_ref=_ref(str(b.flavorRef)),
            key_name=b.key_name,
            user_data=b.user_data,
            config_drive=True,
            metadata=dict(b.metadata),
            networks=networks,
            min_count=min_count,
            max_count=max_count,
            availability_zone=zone,
            group_id=str(group) if group else None,
            description=b.description,
            hostname=b.hostname,
            tags=list(b.tags or []),
            admin_pass=b.adminPass,
        ),
    )
    first = servers[0]
    if b.return_reservation_id:
        return json_response({"reservation_id": f"r-{first.id[:8]}"}, status=202)
    out: dict[str, Any] = {
        "id": first.id,
        "links": views.links(req.base_url, "servers", first.id),
        "OS-DCF:diskConfig": "MANUAL",
        "adminPass": admin_pass,
    }
    if networks != "none":
        out["security_groups"] = [{"name": "default"}]
    return json_response(
        {"server": out}, status=202, headers={"Location": f"{req.base_url}/servers/{first.id}"}
    )


async def update(req: ApiRequest) -> Response:
    server = await _load(req, "compute:servers:update")
    attrs = req.body.server.model_dump(exclude_unset=True, by_alias=False)
    if "description" in attrs and _v(req) < V("2.19"):
        raise BadRequest(
            "Invalid input for field/attribute server: description needs microversion 2.19."
        )
    if "hostname" in attrs and _v(req) < V("2.90"):
        raise BadRequest(
            "Invalid input for field/attribute server: hostname needs microversion 2.90."
        )
    updated = await _svc(req).servers.update(req.ctx, server.id, attrs)
    return json_response({"server": render(req, updated)})


async def delete(req: ApiRequest) -> Response:
    server = await _load(req, "compute:servers:delete")
    await _svc(req).servers.delete(req.ctx, server.id)
    await _svc(req).server_images.forget_shelved_image(server)
    return empty_response()


# -- actions ---------------------------------------------------------------------------------


async def action(req: ApiRequest) -> Response:
    body = req.body
    name = body.name
    svc = _svc(req)
    if name == "console":
        server = await _load(req, "compute:servers:console_output")
        length: int | None = None
        if body.console.length is not None:
            try:
                length = int(body.console.length)
            except ValueError as exc:
                raise BadRequest("Invalid input for field/attribute length.") from exc
            if length < -1:
                raise BadRequest("Invalid input for field/attribute length: it must be -1 or more.")
            if length == -1:
                length = None
        if server.vm_state == m.BUILDING or server.host is None:
            raise Conflict(f"Instance {server.id} is not ready yet.")
        output = await svc.console_output(server, length)
        return json_response({"output": output})
    if name in server_images.ACTIONS:
        return await server_images.act(req, name)
    server = await _load(req, "compute:servers:action")
    if name in migrations.ACTIONS:
        return await migrations.action(req, server)
    if name == "migrate_live":
        return await server_migrations.migrate_live(req, server)
    if name in ("lock", "unlock"):
        reason = body.lock.locked_reason if name == "lock" and body.lock else None
        if reason and _v(req) < V("2.73"):
            raise BadRequest("locked_reason needs microversion 2.73.")
        await svc.servers.set_lock(req.ctx, server.id, name == "lock", reason)
        return empty_response(202)
    if name == "reboot":
        kind = body.reboot.type.upper()
        if kind not in ("SOFT", "HARD"):
            raise BadRequest(f"Invalid reboot type {body.reboot.type!r}: SOFT or HARD.")
        await svc.servers.request(req.ctx, server.id, "reboot_hard" if kind == "HARD" else "reboot")
        return empty_response(202)
    if name == "rebuild":
        r = body.rebuild
        image = await svc.images.get(req.ctx, r.imageRef)
        image.check_fits(int(server.flavor.get("disk", 0)))
        values: dict[str, Any] = {"image_ref": image.id, "vm_state": server.vm_state}
        if r.name:
            values["name"] = r.name
        if r.metadata is not None:
            values["metadata_"] = dict(r.metadata)
        if r.user_data is not None:
            values["user_data"] = r.user_data
        updated = await svc.servers.request(req.ctx, server.id, "rebuild", **values)
        return json_response({"server": render(req, updated)}, status=202)
    simple = {
        "os_stop": "stop",
        "os_start": "start",
        "pause": "pause",
        "unpause": "unpause",
        "suspend": "suspend",
        "resume": "resume",
    }
    await svc.servers.request(req.ctx, server.id, simple[name])
    return empty_response(202)


# -- metadata ---------------------------------------------------------------------------------


async def metadata_index(req: ApiRequest) -> Response:
    server = await _load(req, "compute:servers:show")
    return json_response({"metadata": dict(server.metadata_)})


async def metadata_replace(req: ApiRequest) -> Response:
    server = await _load(req, "compute:servers:update")
    items = await _svc(req).servers.set_metadata(
        req.ctx, server.id, req.body.metadata, replace=True
    )
    return json_response({"metadata": items})


async def metadata_update(req: ApiRequest) -> Response:
    server = await _load(req, "compute:servers:update")
    items = await _svc(req).servers.set_metadata(
        req.ctx, server.id, req.body.metadata, replace=False
    )
    return json_response({"metadata": items})


async def metadata_show(req: ApiRequest) -> Response:
    server = await _load(req, "compute:servers:show")
    key = req.params["key"]
    if key not in server.metadata_:
        raise NotFound(f"Metadata item was not found: {key}")
    return json_response({"meta": {key: server.metadata_[key]}})


async def metadata_set(req: ApiRequest) -> Response:
    server = await _load(req, "compute:servers:update")
    key = req.params["key"]
    meta = req.body.meta
    if list(meta) != [key]:
        raise BadRequest("The request body and the URI must name the same single key.")
    await _svc(req).servers.set_metadata(req.ctx, server.id, meta, replace=False)
    return json_response({"meta": meta})


async def metadata_delete(req: ApiRequest) -> Response:
    server = await _load(req, "compute:servers:update")
    await _svc(req).servers.delete_metadata(req.ctx, server.id, req.params["key"])
    return empty_response()


# -- instance actions ---------------------------------------------------------------------------


async def actions_index(req: ApiRequest) -> Response:
    server = await _load(req, "compute:servers:show")
    rows = await _svc(req).actions.list_actions(server.id)
    return json_response({"instanceActions": [views.action(a, _v(req)) for a in rows]})


async def actions_show(req: ApiRequest) -> Response:
    server = await _load(req, "compute:servers:show")
    found = await _svc(req).actions.get(server.id, req.params["request_id"])
    if found is None:
        raise NotFound(
            f"Action {req.params['request_id']} on instance {server.id} could not be found."
        )
    act, events = found
    body = views.action(act, _v(req))
    body["events"] = [views.event(e, _v(req), req.ctx.is_admin) for e in events]
    return json_response({"instanceAction": body})
