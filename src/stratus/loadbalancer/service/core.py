"""What every part of the load-balancing service shares: loading an object
the caller may see, the load balancer's lock for a change (Octavia's
"immutable while PENDING_*" rule), quotas, and waking the agent."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from stratus.common import logs
from stratus.common.config import Config
from stratus.common.context import RequestContext
from stratus.common.db import Database, serialize, utcnow
from stratus.loadbalancer import models as m
from stratus.loadbalancer.errors import ImmutableObject, NotFound, QuotaExceeded

log = logging.getLogger(__name__)

T = TypeVar("T")

# Octavia's names of each kind in its messages, and the model.
KINDS: dict[str, tuple[str, Any]] = {
    "loadbalancer": ("Load Balancer", m.LoadBalancer),
    "listener": ("Listener", m.Listener),
    "pool": ("Pool", m.Pool),
    "member": ("Member", m.Member),
    "healthmonitor": ("Health Monitor", m.HealthMonitor),
    "l7policy": ("L7 Policy", m.L7Policy),
    "l7rule": ("L7 Rule", m.L7Rule),
}
QUOTA_KINDS = ("loadbalancer", "listener", "pool", "member", "healthmonitor", "l7policy", "l7rule")


def immutable(lb: m.LoadBalancer) -> None:
    if lb.provisioning_status in m.PENDING:
        raise ImmutableObject("loadbalancer", lb.id, lb.provisioning_status)


class Core:
    def __init__(self, cfg: Config, db: Database):
        self.cfg = cfg
        self.db = db
        self._wake: list[Callable[[], None]] = []

    def subscribe(self, callback: Callable[[], None]) -> None:
        """The agents of this process: woken after every change."""
        self._wake.append(callback)

    def wake(self) -> None:
        for callback in self._wake:
            try:
                callback()
            except Exception:
                log.exception("loadbalancer: waking the agent failed")

    async def read(self, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        async with self.db.session() as s:
            return await work(s)

    async def write(self, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        async with self.db.transaction() as s:
            result = await work(s)
            await s.flush()
        self.wake()
        return result

    async def load(self, s: AsyncSession, ctx: RequestContext, kind: str, ident: str) -> Any:
        """One object the caller may see (404 otherwise, and when deleted)."""
        name, model = KINDS[kind]
        row = await s.get(model, ident)
        if row is None or row.provisioning_status == m.DELETED:
            raise NotFound(name, ident)
        if not ctx.is_admin and row.project_id != ctx.project_id:
            raise NotFound(name, ident)
        return row

    async def lock(self, s: AsyncSession, lb_id: str) -> m.LoadBalancer:
        """The load balancer a change goes through: locked for the
        transaction, refused (409) while it is PENDING_*."""
        await serialize(s, "lb", lb_id)
        lb = await s.get(m.LoadBalancer, lb_id, populate_existing=True)
        if lb is None:
            raise NotFound("Load Balancer", lb_id)
        immutable(lb)
        return lb

    def changed(self, lb: m.LoadBalancer, task: str = m.T_APPLY) -> None:
        """Hand the load balancer to its agent: PENDING_UPDATE and a new generation."""
        if lb.provisioning_status != m.PENDING_CREATE:
            lb.provisioning_status = m.PENDING_DELETE if task == m.T_DELETE else m.PENDING_UPDATE
        lb.task = task
        lb.generation += 1
        lb.request_id = logs.current_request_id() or ""
        lb.updated_at = utcnow()

    # -- quotas -------------------------------------------------------------------

    def default_quota(self, kind: str) -> int:
        return int(getattr(self.cfg.loadbalancer, f"quota_{kind}"))

    async def limits_in(self, s: AsyncSession, project_id: str) -> dict[str, int]:
        row = await s.get(m.Quota, project_id)
        out = {}
        for kind in QUOTA_KINDS:
            value = getattr(row, kind) if row is not None else None
            out[kind] = self.default_quota(kind) if value is None else int(value)
        return out

    async def used_in(self, s: AsyncSession, project_id: str, kind: str) -> int:
        model = KINDS[kind][1]
        stmt = select(func.count()).select_from(model).where(model.project_id == project_id)
        return int(await s.scalar(stmt.where(model.provisioning_status != m.DELETED)) or 0)

    async def check_quota(self, s: AsyncSession, project_id: str, kind: str) -> None:
        await serialize(s, "lb-quota", project_id)
        limit = (await self.limits_in(s, project_id))[kind]
        if limit >= 0 and await self.used_in(s, project_id, kind) + 1 > limit:
            raise QuotaExceeded(kind)
