"""Databases, users and root of an instance."""

from __future__ import annotations

from urllib.parse import unquote

from starlette.responses import Response

from stratus.common.api import ApiRequest, empty_response, json_response
from stratus.database.api import views
from stratus.database.api.common import check_project, svc
from stratus.database.service import DatabaseService


async def _authorized(req: ApiRequest[DatabaseService], action: str) -> str:
    check_project(req)
    inst = await svc(req).instances.get(req.ctx, req.params["instance_id"])
    req.authorize(action, {"project_id": inst.project_id})
    return inst.id


async def databases(req: ApiRequest[DatabaseService]) -> Response:
    iid = await _authorized(req, "database:instance:databases")
    rows = await svc(req).accounts.databases(req.ctx, iid)
    return json_response({"databases": [views.database(d) for d in rows]})


async def create_databases(req: ApiRequest[DatabaseService]) -> Response:
    iid = await _authorized(req, "database:instance:databases")
    dbs = [(d.name, d.character_set, d.collate) for d in req.body.databases]
    await svc(req).accounts.create_databases(req.ctx, iid, dbs)
    return empty_response(202)


async def delete_database(req: ApiRequest[DatabaseService]) -> Response:
    iid = await _authorized(req, "database:instance:databases")
    await svc(req).accounts.delete_database(req.ctx, iid, unquote(req.params["name"]))
    return empty_response(202)


async def users(req: ApiRequest[DatabaseService]) -> Response:
    iid = await _authorized(req, "database:instance:users")
    rows = await svc(req).accounts.users(req.ctx, iid)
    return json_response({"users": [views.user(u) for u in rows]})


async def user(req: ApiRequest[DatabaseService]) -> Response:
    iid = await _authorized(req, "database:instance:users")
    row = await svc(req).accounts.user(req.ctx, iid, unquote(req.params["name"]))
    return json_response({"user": views.user(row)})


async def create_users(req: ApiRequest[DatabaseService]) -> Response:
    iid = await _authorized(req, "database:instance:users")
    new = [
        (u.name, u.host or "%", u.password, [d.name for d in u.databases]) for u in req.body.users
    ]
    await svc(req).accounts.create_users(req.ctx, iid, new)
    return empty_response(202)


async def change_passwords(req: ApiRequest[DatabaseService]) -> Response:
    iid = await _authorized(req, "database:instance:users")
    changes = [(u.name, u.host or "%", u.password) for u in req.body.users]
    await svc(req).accounts.change_passwords(req.ctx, iid, changes)
    return empty_response(202)


async def delete_user(req: ApiRequest[DatabaseService]) -> Response:
    iid = await _authorized(req, "database:instance:users")
    await svc(req).accounts.delete_user(req.ctx, iid, unquote(req.params["name"]))
    return empty_response(202)


async def user_databases(req: ApiRequest[DatabaseService]) -> Response:
    iid = await _authorized(req, "database:instance:users")
    row = await svc(req).accounts.user(req.ctx, iid, unquote(req.params["name"]))
    return json_response({"databases": [{"name": d} for d in row.databases]})


async def grant(req: ApiRequest[DatabaseService]) -> Response:
    iid = await _authorized(req, "database:instance:users")
    dbs = [d.name for d in req.body.databases]
    await svc(req).accounts.grant(req.ctx, iid, unquote(req.params["name"]), dbs)
    return empty_response(202)


async def revoke(req: ApiRequest[DatabaseService]) -> Response:
    iid = await _authorized(req, "database:instance:users")
    name, db = unquote(req.params["name"]), unquote(req.params["database"])
    await svc(req).accounts.revoke(req.ctx, iid, name, db)
    return empty_response(202)


async def enable_root(req: ApiRequest[DatabaseService]) -> Response:
    iid = await _authorized(req, "database:instance:root")
    name, password = await svc(req).accounts.enable_root(req.ctx, iid)
    return json_response({"user": {"name": name, "password": password}})


async def root_show(req: ApiRequest[DatabaseService]) -> Response:
    iid = await _authorized(req, "database:instance:root")
    return json_response({"rootEnabled": await svc(req).accounts.root_enabled(req.ctx, iid)})
