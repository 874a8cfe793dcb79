"""The objects of a load balancer's tree: listeners, pools, members, health
monitors, L7 policies and rules (each checked by ``checks.py``).  Each change locks the load balancer (409
while it is PENDING_*), marks the object PENDING_* and the load balancer
PENDING_UPDATE, and wakes its agent."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from stratus.common.context import RequestContext
from stratus.common.db import utcnow
from stratus.loadbalancer import models as m
from stratus.loadbalancer.errors import (
    Conflict,
    DuplicateMember,
    ValidationException,
)
from stratus.loadbalancer.service.checks import ObjectChecks
from stratus.loadbalancer.service.core import KINDS, Core
from stratus.loadbalancer.service.vip import VipNetworking

# (kind, its parent's kind, the attribute naming the parent)
PARENTS: dict[str, tuple[str, str]] = {
    "listener": ("loadbalancer", "loadbalancer_id"),
    "member": ("pool", "pool_id"),
    "healthmonitor": ("pool", "pool_id"),
    "l7policy": ("listener", "listener_id"),
    "l7rule": ("l7policy", "l7policy_id"),
}
FIELDS: dict[str, tuple[str, ...]] = {
    "listener": (
        "protocol", "protocol_port", "connection_limit", "default_pool_id", "timeout_client_data",
        "timeout_member_connect", "timeout_member_data", "timeout_tcp_inspect", "insert_headers",
        "allowed_cidrs",
    ),
    "pool": ("protocol", "lb_algorithm", "session_persistence"),
    "member": (
        "address", "protocol_port", "weight", "backup", "subnet_id", "monitor_address",
        "monitor_port",
    ),
    "healthmonitor": (
        "type", "delay", "timeout", "max_retries", "max_retries_down", "http_method", "url_path",
        "expected_codes", "http_version", "domain_name",
    ),
    "l7policy": (
        "action", "position", "redirect_pool_id", "redirect_url", "redirect_prefix",
        "redirect_http_code",
    ),
    "l7rule": ("type", "compare_type", "key", "value", "invert"),
}  # fmt: skip
COMMON = ("name", "description", "admin_state_up", "tags")


class Objects:
    def __init__(self, core: Core, vips: VipNetworking | None):
        self.core = core
        self.vips = vips
        self.checks = ObjectChecks(core, vips)

    # -- reading ---------------------------------------------------------------------

    async def get(self, ctx: RequestContext, kind: str, ident: str) -> Any:
        return await self.core.read(lambda s: self.core.load(s, ctx, kind, ident))

    async def find(
        self, ctx: RequestContext, kind: str, parent: tuple[str, str] | None = None
    ) -> list[Any]:
        model = KINDS[kind][1]

        async def work(s: AsyncSession) -> list[Any]:
            stmt = select(model).where(model.provisioning_status != m.DELETED)
            if parent is not None:
                stmt = stmt.where(getattr(model, parent[0]) == parent[1])
            if not ctx.is_admin:
                stmt = stmt.where(model.project_id == (ctx.project_id or ""))
            return list((await s.scalars(stmt.order_by(model.created_at, model.id))).all())

        return await self.core.read(work)

    async def lb_of(self, s: AsyncSession, kind: str, row: Any) -> str:
        """The id of the load balancer an object belongs to."""
        while kind not in ("loadbalancer", "listener", "pool"):
            parent_kind, attr = PARENTS[kind]
            row = await s.get(KINDS[parent_kind][1], getattr(row, attr))
            kind = parent_kind
        return str(row.id if kind == "loadbalancer" else row.loadbalancer_id)

    # -- changing --------------------------------------------------------------------

    async def create(self, ctx: RequestContext, kind: str, attrs: dict[str, Any]) -> Any:
        async def work(s: AsyncSession) -> Any:
            if kind == "pool":
                parent, lb_id = await self._pool_parent(s, ctx, attrs)
            else:
                parent_kind, attr = PARENTS[kind]
                parent = await self.core.load(s, ctx, parent_kind, attrs[attr])
                if parent.provisioning_status == m.PENDING_DELETE:
                    raise Conflict(f"{KINDS[parent_kind][0]} {parent.id} is being deleted.")
                lb_id = await self.lb_of(s, parent_kind, parent)
            lb = await self.core.lock(s, lb_id)
            if kind in PARENTS:
                attrs[PARENTS[kind][1]] = parent.id
            row = await self.add(s, ctx, lb, kind, attrs)
            if kind == "pool" and isinstance(parent, m.Listener):
                parent.default_pool_id = row.id
            self.core.changed(lb)
            return row

        return await self.core.write(work)

    async def add(
        self, s: AsyncSession, ctx: RequestContext, lb: m.LoadBalancer, kind: str,
        attrs: dict[str, Any],
    ) -> Any:  # fmt: skip
        """A new object of a locked load balancer's tree, checked and counted
        against the quota; its parent (``attrs``) is the caller's to check."""
        project = attrs.get("project_id") or lb.project_id
        await self.core.check_quota(s, project, kind)
        row = KINDS[kind][1](project_id=project, provisioning_status=m.PENDING_CREATE,
                             operating_status=m.OFFLINE)  # fmt: skip
        for key in COMMON + FIELDS[kind]:
            if attrs.get(key) is not None:
                setattr(row, key, attrs[key])
        if kind in ("listener", "pool"):
            row.loadbalancer_id = lb.id
        elif kind in PARENTS:
            setattr(row, PARENTS[kind][1], attrs[PARENTS[kind][1]])
        await self.checks.check(s, ctx, kind, row, lb, creating=True)
        s.add(row)
        await s.flush()
        return row

    async def replace_members(
        self, ctx: RequestContext, pool_id: str, members: list[dict[str, Any]], additive: bool
    ) -> None:
        """Octavia's batch member update: the pool's members become the
        list (matched by address and port: new ones made, the others
        updated), and those not in it go unless ``additive``."""

        async def work(s: AsyncSession) -> None:
            pool = await self.core.load(s, ctx, "pool", pool_id)
            lb = await self.core.lock(s, pool.loadbalancer_id)
            keys = [(x["address"], x["protocol_port"]) for x in members]
            for i, (address, port) in enumerate(keys):
                if (address, port) in keys[:i]:
                    raise DuplicateMember(address, port)
            rows = await s.scalars(select(m.Member).where(m.Member.pool_id == pool.id))
            have = {(r.address, r.protocol_port): r for r in rows}
            for attrs in members:
                row = have.pop((attrs["address"], attrs["protocol_port"]), None)
                if row is None:
                    await self.add(s, ctx, lb, "member", {**attrs, "pool_id": pool.id})
                    continue
                for field in COMMON + ("weight", "backup", "monitor_address", "monitor_port"):
                    if field in attrs:
                        setattr(row, field, attrs[field])
                await self.checks.check(s, ctx, "member", row, lb, creating=False)
                row.provisioning_status = m.PENDING_UPDATE
                row.updated_at = utcnow()
            if not additive:
                for row in have.values():
                    row.provisioning_status = m.PENDING_DELETE
            self.core.changed(lb)

        await self.core.write(work)

    async def update(
        self, ctx: RequestContext, kind: str, ident: str, attrs: dict[str, Any]
    ) -> Any:
        async def work(s: AsyncSession) -> Any:
            row = await self.core.load(s, ctx, kind, ident)
            lb = await self.core.lock(s, await self.lb_of(s, kind, row))
            for key in COMMON + FIELDS[kind]:
                if key in attrs:
                    setattr(row, key, attrs[key])
            await self.checks.check(s, ctx, kind, row, lb, creating=False)
            row.provisioning_status = m.PENDING_UPDATE
            row.updated_at = utcnow()
            self.core.changed(lb)
            return row

        return await self.core.write(work)

    async def delete(self, ctx: RequestContext, kind: str, ident: str) -> None:
        async def work(s: AsyncSession) -> None:
            row = await self.core.load(s, ctx, kind, ident)
            lb = await self.core.lock(s, await self.lb_of(s, kind, row))
            for child in await self.subtree(s, kind, row):
                child.provisioning_status = m.PENDING_DELETE
            self.core.changed(lb)

        await self.core.write(work)

    async def subtree(self, s: AsyncSession, kind: str, row: Any) -> list[Any]:
        """An object and every object that goes with it."""
        out = [row]
        below: list[tuple[str, Any, str]] = {
            "listener": [("l7policy", m.L7Policy, "listener_id")],
            "pool": [
                ("member", m.Member, "pool_id"),
                ("healthmonitor", m.HealthMonitor, "pool_id"),
            ],
            "l7policy": [("l7rule", m.L7Rule, "l7policy_id")],
        }.get(kind, [])  # type: ignore[assignment]
        for child_kind, model, attr in below:
            for child in (
                await s.scalars(select(model).where(getattr(model, attr) == row.id))
            ).all():
                out += await self.subtree(s, child_kind, child)
        return out

    # -- checks ----------------------------------------------------------------------

    async def _pool_parent(
        self, s: AsyncSession, ctx: RequestContext, attrs: dict[str, Any]
    ) -> tuple[Any, str]:
        if attrs.get("listener_id"):
            listener = await self.core.load(s, ctx, "listener", attrs["listener_id"])
            if listener.default_pool_id:
                raise Conflict(
                    f"Listener {listener.id} already has default pool {listener.default_pool_id}."
                )
            return listener, listener.loadbalancer_id
        if attrs.get("loadbalancer_id"):
            lb = await self.core.load(s, ctx, "loadbalancer", attrs["loadbalancer_id"])
            return lb, lb.id
        raise ValidationException("listener_id or loadbalancer_id must be specified.")
