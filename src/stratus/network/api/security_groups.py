"""Security groups and security group rules."""

from __future__ import annotations

from starlette.responses import Response

from stratus.common.api import ApiRequest, empty_response
from stratus.network.api import listing, views
from stratus.network.api.common import authorize, if_match, many, one, svc
from stratus.network.service import NetworkService


async def index(req: ApiRequest[NetworkService]) -> Response:
    q = listing.parse(req, views.SECURITY_GROUP_KINDS)
    authorize(req, "network:get_security_group", {"project_id": req.ctx.project_id})
    rows = await svc(req).groups.find(req.ctx, q.strings())
    return listing.respond(
        req,
        "security_groups",
        [views.security_group(r) for r in rows],
        q,
        views.SECURITY_GROUP_KINDS,
    )


async def show(req: ApiRequest[NetworkService]) -> Response:
    rec = await svc(req).groups.get(req.ctx, req.params["security_group_id"])
    authorize(req, "network:get_security_group", {"project_id": rec.row.project_id})
    return one(req, "security_group", views.security_group(rec))


async def create(req: ApiRequest[NetworkService]) -> Response:
    attrs = req.body.security_group.attrs()
    authorize(
        req,
        "network:create_security_group",
        {"project_id": attrs.get("project_id") or req.ctx.project_id},
    )
    rec = await svc(req).groups.create(req.ctx, attrs)
    return one(req, "security_group", views.security_group(rec), status=201)


async def _owner(req: ApiRequest[NetworkService], action: str) -> str:
    group_id = req.params["security_group_id"]
    rec = await svc(req).groups.get(req.ctx, group_id)
    authorize(req, action, {"project_id": rec.row.project_id})
    return group_id


async def update(req: ApiRequest[NetworkService]) -> Response:
    group_id = await _owner(req, "network:update_security_group")
    rec = await svc(req).groups.update(
        req.ctx, group_id, req.body.security_group.attrs(), if_match(req)
    )
    return one(req, "security_group", views.security_group(rec))


async def delete(req: ApiRequest[NetworkService]) -> Response:
    group_id = await _owner(req, "network:delete_security_group")
    await svc(req).groups.delete(req.ctx, group_id, if_match(req))
    return empty_response()


async def rule_index(req: ApiRequest[NetworkService]) -> Response:
    q = listing.parse(req, views.RULE_KINDS)
    authorize(req, "network:get_security_group_rule", {"project_id": req.ctx.project_id})
    rows = await svc(req).groups.list_rules(req.ctx, q.strings())
    return listing.respond(
        req,
        "security_group_rules",
        [views.security_group_rule(r) for r in rows],
        q,
        views.RULE_KINDS,
    )


async def rule_show(req: ApiRequest[NetworkService]) -> Response:
    rule = await svc(req).groups.get_rule(req.ctx, req.params["rule_id"])
    authorize(req, "network:get_security_group_rule", {"project_id": rule.project_id})
    return one(req, "security_group_rule", views.security_group_rule(rule))


async def rule_create(req: ApiRequest[NetworkService]) -> Response:
    items = [item.attrs() for item in req.body.items()]
    for attrs in items:
        group = await svc(req).groups.group_of_rule(req.ctx, attrs)
        authorize(req, "network:create_security_group_rule", {"project_id": group.project_id})
    rules = await svc(req).groups.create_rules(req.ctx, items)
    if req.body.security_group_rule is not None:
        return one(req, "security_group_rule", views.security_group_rule(rules[0]), status=201)
    return many(req, "security_group_rules", [views.security_group_rule(r) for r in rules])


async def rule_delete(req: ApiRequest[NetworkService]) -> Response:
    rule = await svc(req).groups.get_rule(req.ctx, req.params["rule_id"])
    authorize(req, "network:delete_security_group_rule", {"project_id": rule.project_id})
    await svc(req).groups.delete_rule(req.ctx, rule.id)
    return empty_response()
