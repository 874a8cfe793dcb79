"""Octavia's "fully populated load balancer": a load balancer's tree given
in its create request (listeners with their default pool and L7 policies,
pools with their members and health monitor), made in the transaction of
the load balancer's row, so a bad part refuses the whole request and
nothing is left behind.

Pools are named: a listener's ``default_pool`` or a policy's
``redirect_pool`` that holds only a name refers to a pool given in full
elsewhere in the request (in ``pools``, or inline under another listener
or policy)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from stratus.common.context import RequestContext
from stratus.loadbalancer import models as m
from stratus.loadbalancer.errors import ValidationException
from stratus.loadbalancer.service.objects import Objects

TREE_KEYS = ("listeners", "pools")


def _owned(attrs: dict[str, Any]) -> dict[str, Any]:
    """The children are the load balancer's project's: given ones are dropped."""
    return {k: v for k, v in attrs.items() if k not in ("project_id", "tenant_id")}


def _full(pool: dict[str, Any]) -> bool:
    return any(k != "name" for k in pool)


def _named(pool: dict[str, Any]) -> str:
    name = pool.get("name")
    if not name:
        raise ValidationException("Pools must be named when creating a fully populated loadbalancer.")
    return str(name)


def flatten(
    listeners: list[dict[str, Any]], pools: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(listeners, pools): every pool given in full moved to the pools,
    each reference left as ``{"name": ...}``; names unique, references met."""
    listeners = [dict(x) for x in listeners]
    pools = [dict(p) for p in pools]
    wanted: set[str] = set()
    for listener in listeners:
        refs = [(listener, "default_pool")]
        listener["l7policies"] = [dict(p) for p in listener.get("l7policies") or []]
        refs += [(policy, "redirect_pool") for policy in listener["l7policies"]]
        for holder, key in refs:
            pool = holder.get(key)
            if not pool:
                continue
            name = _named(pool)
            if _full(pool):
                pools.append(pool)
                holder[key] = {"name": name}
            else:
                wanted.add(name)
    names = [_named(p) for p in pools]
    if len(set(names)) != len(names):
        raise ValidationException(
            "Pool names must be unique when creating a fully populated loadbalancer."
        )
    for name in sorted(wanted - set(names)):
        raise ValidationException(
            f"Pool '{name}' was referenced but no full definition was found."
        )
    for pool in pools:
        for attr in ("protocol", "lb_algorithm"):
            if not pool.get(attr):
                raise ValidationException(
                    f"Pool definition for '{pool['name']}' missing required attribute: {attr}"
                )
    return listeners, pools


async def build(
    objects: Objects,
    s: AsyncSession,
    ctx: RequestContext,
    lb: m.LoadBalancer,
    listeners: list[dict[str, Any]],
    pools: list[dict[str, Any]],
) -> None:
    """The tree's rows, PENDING_CREATE, under the new load balancer (its
    row flushed in this session)."""
    listeners, pools = flatten(listeners, pools)
    ids: dict[str, str] = {}
    for spec in pools:
        spec = _owned(spec)
        members = spec.pop("members", None) or []
        monitor = spec.pop("healthmonitor", None)
        pool = await objects.add(s, ctx, lb, "pool", spec)
        ids[spec["name"]] = pool.id
        for member in members:
            await objects.add(s, ctx, lb, "member", {**_owned(member), "pool_id": pool.id})
        if monitor:
            await objects.add(s, ctx, lb, "healthmonitor", {**_owned(monitor), "pool_id": pool.id})
    for spec in listeners:
        spec = _owned(spec)
        policies = spec.pop("l7policies", None) or []
        if spec.get("default_pool"):
            spec["default_pool_id"] = ids[spec.pop("default_pool")["name"]]
        listener = await objects.add(s, ctx, lb, "listener", spec)
        for policy in policies:
            policy = _owned(policy)
            rules = policy.pop("rules", None) or []
            if policy.get("redirect_pool"):
                policy["redirect_pool_id"] = ids[policy.pop("redirect_pool")["name"]]
            policy["listener_id"] = listener.id
            made = await objects.add(s, ctx, lb, "l7policy", policy)
            for rule in rules:
                await objects.add(s, ctx, lb, "l7rule", {**_owned(rule), "l7policy_id": made.id})
