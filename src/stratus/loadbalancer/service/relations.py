"""The ids each object's view lists (a load balancer's listeners and
pools, a pool's members...), read in one query per relation."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from stratus.loadbalancer import models as m

Related = dict[str, dict[str, list[str]]]  # relation -> object id -> ids


async def _group(s: AsyncSession, column: Any, key: Any, ids: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = defaultdict(list)
    if not ids:
        return out
    model = column.class_
    rows = await s.execute(
        select(key, column)
        .where(key.in_(ids), model.provisioning_status != m.DELETED)
        .order_by(model.created_at, model.id)
    )
    for owner, ident in rows:
        if owner:
            out[owner].append(ident)
    return out


async def related(s: AsyncSession, kind: str, ids: list[str]) -> Related:
    if kind == "loadbalancer":
        return {
            "listeners": await _group(s, m.Listener.id, m.Listener.loadbalancer_id, ids),
            "pools": await _group(s, m.Pool.id, m.Pool.loadbalancer_id, ids),
        }
    if kind == "listener":
        return {"l7policies": await _group(s, m.L7Policy.id, m.L7Policy.listener_id, ids)}
    if kind == "pool":
        listeners = await _group(s, m.Listener.id, m.Listener.default_pool_id, ids)
        redirects = await _group(s, m.L7Policy.listener_id, m.L7Policy.redirect_pool_id, ids)
        for pool_id, more in redirects.items():
            listeners[pool_id] = list(dict.fromkeys([*listeners[pool_id], *more]))
        return {
            "listeners": listeners,
            "members": await _group(s, m.Member.id, m.Member.pool_id, ids),
            "monitor": await _group(s, m.HealthMonitor.id, m.HealthMonitor.pool_id, ids),
        }
    if kind == "l7policy":
        return {"rules": await _group(s, m.L7Rule.id, m.L7Rule.l7policy_id, ids)}
    return {}
