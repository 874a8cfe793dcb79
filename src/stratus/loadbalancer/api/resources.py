"""The handlers of every object of a load balancer's tree: list, show,
create, update, delete, one set written once over a table of kinds."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.responses import Response

from stratus.common.api import ApiRequest, empty_response, json_response
from stratus.loadbalancer.api import views
from stratus.loadbalancer.errors import Forbidden
from stratus.loadbalancer.service import LoadBalancerService
from stratus.loadbalancer.service.relations import Related


def svc(req: ApiRequest[LoadBalancerService]) -> LoadBalancerService:
    return req.service  # type: ignore[no-any-return]


def authorize(req: ApiRequest[LoadBalancerService], action: str, project_id: str | None) -> None:
    if not req.allowed(f"load-balancer:{action}", {"project_id": project_id or ""}):
        raise Forbidden()


@dataclass(frozen=True)
class Kind:
    name: str  # the policy's and the service's name: "healthmonitor"
    member: str  # the body's key: "healthmonitor"
    collection: str  # the list's key: "healthmonitors"
    render: Callable[[Any, Related], dict[str, Any]]
    parent: str | None = None  # the path parameter naming the parent (members, rules)
    parent_attr: str | None = None


def _rel(related: Related, name: str, ident: str) -> list[str]:
    return related.get(name, {}).get(ident, [])


KINDS: dict[str, Kind] = {
    "loadbalancer": Kind(
        "loadbalancer", "loadbalancer", "loadbalancers",
        lambda r, rel: views.loadbalancer(r, _rel(rel, "listeners", r.id), _rel(rel, "pools", r.id)),
    ),
    "listener": Kind(
        "listener", "listener", "listeners",
        lambda r, rel: views.listener(r, _rel(rel, "l7policies", r.id)),
    ),
    "pool": Kind(
        "pool", "pool", "pools",
        lambda r, rel: views.pool(
            r, _rel(rel, "listeners", r.id), _rel(rel, "members", r.id),
            next(iter(_rel(rel, "monitor", r.id)), None),
        ),
    ),
    "member": Kind("member", "member", "members", lambda r, rel: views.member(r),
                   parent="pool_id", parent_attr="pool_id"),
    "healthmonitor": Kind(
        "healthmonitor", "healthmonitor", "healthmonitors", lambda r, rel: views.healthmonitor(r)
    ),
    "l7policy": Kind(
        "l7policy", "l7policy", "l7policies", lambda r, rel: views.l7policy(r, _rel(rel, "rules", r.id))
    ),
    "l7rule": Kind("l7rule", "rule", "rules", lambda r, rel: views.l7rule(r),
                   parent="l7policy_id", parent_attr="l7policy_id"),
}  # fmt: skip


def _matches(item: dict[str, Any], filters: dict[str, Any]) -> bool:
    for key, wanted in filters.items():
        if key in ("fields", "limit", "marker", "sort", "sort_key", "sort_dir", "page_reverse"):
            continue
        if key not in item or isinstance(item[key], (list, dict)):
            continue
        have = item[key]
        text = str(have).lower() if isinstance(have, bool) else str(have)
        want = str(wanted).lower() if isinstance(have, bool) else str(wanted)
        if text != want:
            return False
    return True


def _fields(item: dict[str, Any], fields: Any) -> dict[str, Any]:
    if not fields:
        return item
    names = fields if isinstance(fields, list) else str(fields).split(",")
    return {k: v for k, v in item.items() if k in names}


async def rendered(req: ApiRequest[LoadBalancerService], kind: Kind, rows: list[Any]) -> list[dict[str, Any]]:
    related = await svc(req).related(kind.name, [r.id for r in rows])
    return [kind.render(r, related) for r in rows]


def index_of(name: str) -> Callable[[ApiRequest[LoadBalancerService]], Any]:
    kind = KINDS[name]

    async def index(req: ApiRequest[LoadBalancerService]) -> Response:
        authorize(req, f"get_{kind.name}", req.ctx.project_id)
        parent = None
        if kind.parent:
            await svc(req).objects.get(req.ctx, "pool" if name == "member" else "l7policy",
                                       req.params[kind.parent])  # fmt: skip
            parent = (str(kind.parent_attr), req.params[kind.parent])
        if name == "loadbalancer":
            rows = await svc(req).loadbalancers.find(req.ctx)
        else:
            rows = await svc(req).objects.find(req.ctx, name, parent)
        filters = dict(req.query.model_extra or {}) if req.query is not None else {}
        items = [i for i in await rendered(req, kind, rows) if _matches(i, filters)]
        items = [_fields(i, filters.get("fields")) for i in items]
        return json_response({kind.collection: items, f"{kind.collection}_links": []})

    return index


async def _load(req: ApiRequest[LoadBalancerService], name: str) -> Any:
    kind = KINDS[name]
    ident = (
        req.params[f"{name}_id"]
        if name not in ("member", "l7rule")
        else req.params["member_id" if name == "member" else "l7rule_id"]
    )
    if kind.parent:
        # The parent must be visible and the object must be its child.
        row = await svc(req).objects.get(req.ctx, name, ident)
        if getattr(row, str(kind.parent_attr)) != req.params[kind.parent]:
            from stratus.loadbalancer.errors import NotFound

            raise NotFound({"member": "Member", "l7rule": "L7 Rule"}[name], ident)
        return row
    if name == "loadbalancer":
        return await svc(req).loadbalancers.get(req.ctx, ident)
    return await svc(req).objects.get(req.ctx, name, ident)


async def one(req: ApiRequest[LoadBalancerService], name: str, row: Any, status: int = 200) -> Response:
    kind = KINDS[name]
    item = (await rendered(req, kind, [row]))[0]
    return json_response({kind.member: item}, status)


def show_of(name: str) -> Callable[[ApiRequest[LoadBalancerService]], Any]:
    async def show(req: ApiRequest[LoadBalancerService]) -> Response:
        row = await _load(req, name)
        authorize(req, f"get_{name}", row.project_id)
        fields = (req.query.model_extra or {}).get("fields") if req.query is not None else None
        item = (await rendered(req, KINDS[name], [row]))[0]
        return json_response({KINDS[name].member: _fields(item, fields)})

    return show


def _attrs(req: ApiRequest[LoadBalancerService], name: str) -> dict[str, Any]:
    attrs: dict[str, Any] = getattr(req.body, KINDS[name].member).attrs()
    if attrs.get("tenant_id") and not attrs.get("project_id"):
        attrs["project_id"] = attrs["tenant_id"]
    attrs.pop("tenant_id", None)
    if isinstance(attrs.get("session_persistence"), dict):
        attrs["session_persistence"] = {
            k: v for k, v in attrs["session_persistence"].items() if v is not None
        }
    return attrs


def create_of(name: str) -> Callable[[ApiRequest[LoadBalancerService]], Any]:
    kind = KINDS[name]

    async def create(req: ApiRequest[LoadBalancerService]) -> Response:
        attrs = _attrs(req, name)
        if kind.parent:
            attrs[str(kind.parent_attr)] = req.params[kind.parent]
        project = attrs.get("project_id") or req.ctx.project_id
        authorize(req, f"create_{name}", project)
        if attrs.get("project_id") and attrs["project_id"] != req.ctx.project_id:
            authorize(req, "failover", None)  # another project's: admins only
        if name == "loadbalancer":
            row = await svc(req).loadbalancers.create(req.ctx, attrs)
            if attrs.get("listeners") or attrs.get("pools"):
                item = (await rendered(req, kind, [row]))[0]
                return json_response({"loadbalancer": await full_tree(req, item)}, 201)
        else:
            row = await svc(req).objects.create(req.ctx, name, attrs)
        return await one(req, name, row, 201)

    return create


async def _full(req: ApiRequest[LoadBalancerService], name: str, refs: list[dict[str, str]]) -> list[dict[str, Any]]:
    rows = [await svc(req).objects.get(req.ctx, name, ref["id"]) for ref in refs]
    return await rendered(req, KINDS[name], rows)


async def full_tree(req: ApiRequest[LoadBalancerService], item: dict[str, Any]) -> dict[str, Any]:
    """A load balancer made with its tree, as Octavia answers it: every
    object of the tree in full rather than its id."""
    listeners = await _full(req, "listener", item["listeners"])
    for listener in listeners:
        listener["l7policies"] = await _full(req, "l7policy", listener["l7policies"])
        for policy in listener["l7policies"]:
            policy["rules"] = await _full(req, "l7rule", policy["rules"])
    pools = await _full(req, "pool", item["pools"])
    for pool in pools:
        pool["members"] = await _full(req, "member", pool["members"])
        monitor = pool["healthmonitor_id"]
        found = await _full(req, "healthmonitor", [{"id": monitor}] if monitor else [])
        pool["healthmonitor"] = found[0] if found else None
    return {**item, "listeners": listeners, "pools": pools}


async def replace_members(req: ApiRequest[LoadBalancerService]) -> Response:
    """PUT /pools/{pool_id}/members: the pool's members become the list."""
    pool = await svc(req).objects.get(req.ctx, "pool", req.params["pool_id"])
    authorize(req, "update_member", pool.project_id)
    members = [
        {k: v for k, v in x.attrs().items() if k not in ("project_id", "tenant_id")}
        for x in req.body.members
    ]
    additive = bool(req.query.additive_only) if req.query is not None else False
    await svc(req).objects.replace_members(req.ctx, pool.id, members, additive)
    return empty_response(202)


def update_of(name: str) -> Callable[[ApiRequest[LoadBalancerService]], Any]:
    async def update(req: ApiRequest[LoadBalancerService]) -> Response:
        row = await _load(req, name)
        authorize(req, f"update_{name}", row.project_id)
        attrs = _attrs(req, name)
        if name == "loadbalancer":
            row = await svc(req).loadbalancers.update(req.ctx, row.id, attrs)
        else:
            row = await svc(req).objects.update(req.ctx, name, row.id, attrs)
        return await one(req, name, row)

    return update


def delete_of(name: str) -> Callable[[ApiRequest[LoadBalancerService]], Any]:
    async def delete(req: ApiRequest[LoadBalancerService]) -> Response:
        row = await _load(req, name)
        authorize(req, f"delete_{name}", row.project_id)
        if name == "loadbalancer":
            cascade = bool(req.query.cascade) if req.query is not None else False
            await svc(req).loadbalancers.delete(req.ctx, row.id, cascade)
        else:
            await svc(req).objects.delete(req.ctx, name, row.id)
        return empty_response(204)

    return delete
