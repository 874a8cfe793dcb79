"""A load balancer's whole tree: read for its agent (as the driver's
dataclasses), settled after the agent applied it (PENDING_* to ACTIVE, or
gone), its operating statuses from HAProxy's health, and the ``status``
tree users see."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from stratus.common.db import utcnow
from stratus.loadbalancer import models as m
from stratus.loadbalancer.drivers import base as d


@dataclass
class Tree:
    lb: m.LoadBalancer
    listeners: list[m.Listener] = field(default_factory=list)
    pools: list[m.Pool] = field(default_factory=list)
    members: list[m.Member] = field(default_factory=list)
    monitors: list[m.HealthMonitor] = field(default_factory=list)
    policies: list[m.L7Policy] = field(default_factory=list)
    rules: list[m.L7Rule] = field(default_factory=list)

    def rows(self) -> list[Any]:
        return [*self.listeners, *self.pools, *self.members, *self.monitors,
                *self.policies, *self.rules]  # fmt: skip


async def load(s: AsyncSession, lb: m.LoadBalancer) -> Tree:
    tree = Tree(lb)
    tree.listeners = list(
        (await s.scalars(select(m.Listener).where(m.Listener.loadbalancer_id == lb.id))).all()
    )
    tree.pools = list(
        (await s.scalars(select(m.Pool).where(m.Pool.loadbalancer_id == lb.id))).all()
    )
    pool_ids = [p.id for p in tree.pools]
    listener_ids = [x.id for x in tree.listeners]
    tree.members = list(
        (await s.scalars(select(m.Member).where(m.Member.pool_id.in_(pool_ids)))).all()
    )
    tree.monitors = list(
        (
            await s.scalars(select(m.HealthMonitor).where(m.HealthMonitor.pool_id.in_(pool_ids)))
        ).all()
    )
    tree.policies = list(
        (await s.scalars(select(m.L7Policy).where(m.L7Policy.listener_id.in_(listener_ids)))).all()
    )
    policy_ids = [p.id for p in tree.policies]
    tree.rules = list(
        (await s.scalars(select(m.L7Rule).where(m.L7Rule.l7policy_id.in_(policy_ids)))).all()
    )
    return tree


async def drop(s: AsyncSession, lb: m.LoadBalancer) -> None:
    """Delete a load balancer with every row of its tree and its statistics."""
    for child in (await load(s, lb)).rows():
        await s.delete(child)
    stats = await s.scalars(select(m.ListenerStats).where(m.ListenerStats.loadbalancer_id == lb.id))
    for st in stats.all():
        await s.delete(st)
    await s.delete(lb)


def _live(row: Any) -> bool:
    return bool(row.provisioning_status not in (m.PENDING_DELETE, m.DELETED))


def spec(tree: Tree) -> d.LoadBalancerSpec:
    """The tree as the driver runs it: what is being deleted left out."""
    lb = tree.lb
    listeners = [x for x in tree.listeners if _live(x)]
    owners = {x.default_pool_id: x for x in listeners if x.default_pool_id}
    pools = [_pool_spec(tree, pool, owners.get(pool.id)) for pool in tree.pools if _live(pool)]
    live_pools = {p.id for p in pools}
    return d.LoadBalancerSpec(
        id=lb.id,
        vip_address=lb.vip_address,
        vip_port_id=lb.vip_port_id,
        listeners=tuple(_listener_spec(tree, x, live_pools) for x in listeners),
        pools=tuple(pools),
        admin_state_up=lb.admin_state_up,
    )


def _pool_spec(tree: Tree, pool: m.Pool, owner: m.Listener | None) -> d.PoolSpec:
    """A pool with its live members and monitor; its member timeouts are
    those of the listener whose default pool it is."""
    monitor = next((h for h in tree.monitors if h.pool_id == pool.id and _live(h)), None)
    return d.PoolSpec(
        id=pool.id,
        protocol=pool.protocol,
        lb_algorithm=pool.lb_algorithm,
        session_persistence=pool.session_persistence,
        admin_state_up=pool.admin_state_up,
        member_connect_timeout=owner.timeout_member_connect if owner else 5000,
        member_data_timeout=owner.timeout_member_data if owner else 50000,
        members=tuple(
            d.MemberSpec(
                id=x.id,
                address=x.address,
                protocol_port=x.protocol_port,
                weight=x.weight,
                backup=x.backup,
                admin_state_up=x.admin_state_up,
                monitor_address=x.monitor_address,
                monitor_port=x.monitor_port,
            )  # fmt: skip
            for x in tree.members
            if x.pool_id == pool.id and _live(x)
        ),
        monitor=None if monitor is None else _monitor_spec(monitor),
    )


def _monitor_spec(monitor: m.HealthMonitor) -> d.MonitorSpec:
    return d.MonitorSpec(
        id=monitor.id,
        type=monitor.type,
        delay=monitor.delay,
        timeout=monitor.timeout,
        max_retries=monitor.max_retries,
        max_retries_down=monitor.max_retries_down,
        http_method=monitor.http_method or "GET",
        url_path=monitor.url_path or "/",
        expected_codes=monitor.expected_codes or "200",
        admin_state_up=monitor.admin_state_up,
    )


def _listener_spec(tree: Tree, x: m.Listener, live_pools: set[str]) -> d.ListenerSpec:
    """A listener with its enabled L7 policies and their enabled rules;
    references to pools being deleted left out."""
    policies = tuple(
        d.PolicySpec(
            id=p.id,
            action=p.action,
            position=p.position,
            redirect_pool_id=p.redirect_pool_id if p.redirect_pool_id in live_pools else None,
            redirect_url=p.redirect_url,
            redirect_prefix=p.redirect_prefix,
            redirect_http_code=p.redirect_http_code,
            rules=tuple(
                d.RuleSpec(
                    id=r.id,
                    type=r.type,
                    compare_type=r.compare_type,
                    value=r.value,
                    key=r.key,
                    invert=r.invert,
                )
                for r in tree.rules
                if r.l7policy_id == p.id and _live(r) and r.admin_state_up
            ),
        )  # fmt: skip
        for p in tree.policies
        if p.listener_id == x.id and _live(p) and p.admin_state_up
    )
    return d.ListenerSpec(
        id=x.id,
        protocol=x.protocol,
        protocol_port=x.protocol_port,
        connection_limit=x.connection_limit,
        default_pool_id=x.default_pool_id if x.default_pool_id in live_pools else None,
        timeout_client_data=x.timeout_client_data,
        timeout_tcp_inspect=x.timeout_tcp_inspect,
        insert_headers=dict(x.insert_headers or {}),
        allowed_cidrs=tuple(x.allowed_cidrs or ()),
        policies=policies,
        admin_state_up=x.admin_state_up,
    )  # fmt: skip


async def settle(s: AsyncSession, tree: Tree) -> None:
    """After the agent applied the tree: PENDING_DELETE rows go, the rest
    is ACTIVE; references to what went are cleared."""
    gone = {row.id for row in tree.rows() if row.provisioning_status == m.PENDING_DELETE}
    for row in tree.rows():
        if row.id in gone:
            await s.delete(row)
            continue
        if row.provisioning_status in m.PENDING:
            row.provisioning_status = m.ACTIVE
            if row.operating_status == m.OFFLINE:
                row.operating_status = m.ONLINE
        if not row.admin_state_up:
            row.operating_status = m.OFFLINE
        elif row.operating_status == m.OFFLINE:
            row.operating_status = m.ONLINE
        if isinstance(row, m.Listener) and row.default_pool_id in gone:
            row.default_pool_id = None
        if isinstance(row, m.L7Policy) and row.redirect_pool_id in gone:
            row.redirect_pool_id = None
    monitored = {h.pool_id for h in tree.monitors if h.id not in gone and h.admin_state_up}
    for member in tree.members:
        if member.id not in gone and member.pool_id not in monitored and member.admin_state_up:
            member.operating_status = m.NO_MONITOR
    lb = tree.lb
    lb.provisioning_status = m.ACTIVE
    lb.operating_status = m.ONLINE if lb.admin_state_up else m.OFFLINE
    lb.task = None
    lb.error = None
    lb.updated_at = utcnow()


_MEMBER = {"UP": m.ONLINE, "DOWN": "ERROR", "MAINT": m.OFFLINE, "DRAIN": m.DRAINING,
           "NOLB": m.DRAINING}  # fmt: skip


def record_health(tree: Tree, health: d.Health) -> bool:
    """Operating statuses from HAProxy's view; True when one changed."""
    changed = False

    def put(row: Any, status: str) -> None:
        nonlocal changed
        if row.operating_status != status and row.provisioning_status not in m.PENDING:
            row.operating_status = status
            changed = True

    lb = tree.lb
    if not lb.admin_state_up:
        return False
    servers = {srv.member_id: srv for srv in health.servers}
    monitored = {h.pool_id for h in tree.monitors if h.admin_state_up}
    worst = m.ONLINE
    for pool in tree.pools:
        if not pool.admin_state_up:
            continue
        members = [x for x in tree.members if x.pool_id == pool.id and x.admin_state_up]
        statuses = []
        for member in members:
            srv = servers.get(member.id)
            if pool.id not in monitored:
                status = m.NO_MONITOR
            elif srv is None:
                status = member.operating_status
            else:
                status = _MEMBER.get(
                    srv.status, m.ONLINE if srv.status.startswith("UP") else "ERROR"
                )
                if srv.status.startswith("DOWN"):
                    status = "ERROR"
            put(member, status)
            statuses.append(status)
        errors = statuses.count("ERROR")
        if not health.running:
            pool_status = "ERROR"
        elif statuses and errors == len(statuses):
            pool_status = "ERROR"
        elif errors:
            pool_status = m.DEGRADED
        else:
            pool_status = m.ONLINE
        put(pool, pool_status)
        if pool_status != m.ONLINE:
            worst = m.DEGRADED
    for listener in tree.listeners:
        if listener.admin_state_up:
            put(listener, m.ONLINE if health.running else "ERROR")
    put(lb, worst if health.running else "ERROR")
    return changed


def status_tree(tree: Tree) -> dict[str, Any]:
    """Octavia's ``GET /loadbalancers/{id}/status``."""

    def st(row: Any, **more: Any) -> dict[str, Any]:
        return {"id": row.id, "name": row.name, "provisioning_status": row.provisioning_status,
                "operating_status": row.operating_status, **more}  # fmt: skip

    def pool(p: m.Pool) -> dict[str, Any]:
        monitor = next((h for h in tree.monitors if h.pool_id == p.id), None)
        extra: dict[str, Any] = {
            "members": [
                st(x, address=x.address, protocol_port=x.protocol_port)
                for x in tree.members
                if x.pool_id == p.id
            ]
        }
        if monitor is not None:
            extra["health_monitor"] = st(monitor, type=monitor.type)
        return st(p, **extra)

    listeners = []
    for x in tree.listeners:
        used = {x.default_pool_id} | {
            pol.redirect_pool_id for pol in tree.policies if pol.listener_id == x.id
        }
        policies = [
            st(
                pol,
                action=pol.action,
                rules=[
                    st(r, type=r.type) | {"name": ""} for r in tree.rules if r.l7policy_id == pol.id
                ],
            )  # fmt: skip
            for pol in tree.policies
            if pol.listener_id == x.id
        ]
        listeners.append(
            st(x, pools=[pool(p) for p in tree.pools if p.id in used], l7policies=policies)
        )
    return {"statuses": {"loadbalancer": st(tree.lb, listeners=listeners)}}
