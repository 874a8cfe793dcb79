"""What every part of the network service shares: write transactions that
retry a lost uniqueness race, the hosts a change concerns (woken after the
commit), visibility of rows to a caller, and revision constraints."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import Select, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from stratus.common.config import Config
from stratus.common.context import RequestContext
from stratus.common.db import Database
from stratus.network import models as m
from stratus.network.errors import RevisionNumberConstraintFailed
from stratus.network.service.nova import NovaNotifier, ServerEvent, port_event

log = logging.getLogger(__name__)

T = TypeVar("T")
ATTEMPTS = 6  # a transaction that lost a race is tried this many times in all


def network_host(cfg: Config) -> str:
    """The host serving every network's DHCP and every router."""
    import socket

    return cfg.network.host or cfg.compute.host or socket.gethostname()


@dataclass
class Changes:
    """What a write touched, so that the hosts holding it are woken."""

    networks: set[str] = field(default_factory=set)
    groups: set[str] = field(default_factory=set)
    hosts: set[str] = field(default_factory=set)
    events: list[ServerEvent] = field(default_factory=list)  # for compute, after commit

    def server_event(self, port: m.Port, name: str) -> None:
        event = port_event(port.device_owner, port.device_id, port.id, name)
        if event is not None:
            self.events.append(event)

    def port(self, port: m.Port) -> None:
        self.networks.add(port.network_id)
        if port.binding_host:
            self.hosts.add(port.binding_host)

    async def settle(self, s: AsyncSession) -> None:
        """Before rows go: note the hosts that hold them now."""
        self.hosts |= await self.resolve(s)

    async def resolve(self, s: AsyncSession) -> set[str]:
        """The hosts holding anything on the touched networks or in the
        touched security groups (directly or as a rule's remote group)."""
        hosts = set(self.hosts)
        if self.networks:
            nets = list(self.networks)
            hosts.update(
                await s.scalars(
                    select(m.Port.binding_host).where(
                        m.Port.network_id.in_(nets), m.Port.binding_host != ""
                    )
                )
            )
            hosts.update(
                h
                for h in await s.scalars(select(m.Network.dhcp_host).where(m.Network.id.in_(nets)))
                if h
            )
            routers = select(m.Port.device_id).where(
                m.Port.network_id.in_(nets),
                m.Port.device_owner.in_((m.ROUTER_INTERFACE, m.ROUTER_GATEWAY)),
            )
            hosts.update(
                h
                for h in await s.scalars(select(m.Router.host).where(m.Router.id.in_(routers)))
                if h
            )
        if self.groups:
            groups = set(self.groups)
            groups.update(
                await s.scalars(
                    select(m.SecurityGroupRule.security_group_id).where(
                        m.SecurityGroupRule.remote_group_id.in_(list(self.groups))
                    )
                )
            )
            hosts.update(
                await s.scalars(
                    select(m.Port.binding_host)
                    .join(m.PortSecurityGroup, m.PortSecurityGroup.port_id == m.Port.id)
                    .where(
                        m.PortSecurityGroup.security_group_id.in_(list(groups)),
                        m.Port.binding_host != "",
                    )
                )
            )
        return hosts


Callback = Callable[[], None]


class Notifier:
    """Wakes the agents of the hosts a change concerns.  Agents in this
    process subscribe with a callback; agents elsewhere poll."""

    def __init__(self) -> None:
        self._subscribers: dict[str | None, list[Callback]] = {}

    def subscribe(self, host: str | None, callback: Callback) -> Callable[[], None]:
        """Call ``callback`` whenever something host ``host`` holds changes
        (every change when ``host`` is None).  Returns the unsubscriber."""
        self._subscribers.setdefault(host, []).append(callback)

        def unsubscribe() -> None:
            callbacks = self._subscribers.get(host, [])
            if callback in callbacks:
                callbacks.remove(callback)

        return unsubscribe

    def wake(self, hosts: Iterable[str]) -> None:
        targets = set(hosts)
        callbacks = list(self._subscribers.get(None, []))
        for host in targets:
            callbacks.extend(self._subscribers.get(host, []))
        for callback in callbacks:
            try:
                callback()
            except Exception:  # an agent's wake-up never fails a request
                log.exception("network: waking an agent failed")


class Core:
    def __init__(self, cfg: Config, db: Database):
        self.cfg = cfg
        self.net = cfg.network
        self.db = db
        self.host = network_host(cfg)
        self.notifier = Notifier()
        self.nova = NovaNotifier()  # its target is set where compute is known

    async def write(self, work: Callable[[AsyncSession, Changes], Awaitable[T]]) -> T:
        """Run ``work`` in one transaction; a uniqueness race lost to a
        concurrent request (an address, a MAC, a VXLAN id taken meanwhile)
        runs it again, so it sees the winner's rows.  After the commit the
        agents of the hosts concerned are woken."""
        for attempt in range(ATTEMPTS):
            changes = Changes()
            try:
                async with self.db.transaction() as s:
                    result = await work(s, changes)
                    await s.flush()
                    hosts = await changes.resolve(s)
            except IntegrityError:
                if attempt == ATTEMPTS - 1:
                    raise
                await asyncio.sleep(random.uniform(0.005, 0.05) * (attempt + 1))
                continue
            self.notifier.wake(hosts)
            self.nova.send(changes.events)
            return result
        raise AssertionError("unreachable")

    async def read(self, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        async with self.db.session() as s:
            return await work(s)


def check_revision(row: Any, expected: int | None) -> None:
    """``If-Match: revision_number=N``: refuse (412) when the row moved on."""
    if expected is not None and row.revision_number != expected:
        raise RevisionNumberConstraintFailed(expected, row.revision_number)


def visible_networks(ctx: RequestContext, stmt: Select[Any]) -> Select[Any]:
    """Networks a caller sees: their project's, shared ones, external ones."""
    if ctx.is_admin:
        return stmt
    return stmt.where(
        or_(
            m.Network.project_id == (ctx.project_id or ""),
            m.Network.shared.is_(True),
            m.Network.external.is_(True),
        )
    )


def owned(ctx: RequestContext, column: Any, stmt: Select[Any]) -> Select[Any]:
    """Rows of the caller's project (every row for an admin)."""
    if ctx.is_admin:
        return stmt
    return stmt.where(column == (ctx.project_id or ""))


def sees_network(ctx: RequestContext, net: m.Network) -> bool:
    return ctx.is_admin or net.project_id == ctx.project_id or net.shared or net.external


def uses_network(ctx: RequestContext, net: m.Network) -> bool:
    """May put ports on it: own or shared (an external network takes only
    router gateways and floating IPs, which the service makes)."""
    return ctx.is_admin or net.project_id == ctx.project_id or net.shared


def chunks(items: list[T], size: int = 500) -> Iterable[list[T]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def push_filters(
    stmt: Select[Any], columns: dict[str, Any], filters: dict[str, list[str]] | None
) -> Select[Any]:
    """Narrow a list query by the filters on plain string columns (the API
    applies every filter again on what it renders, so this only saves work)."""
    for name, values in (filters or {}).items():
        column = columns.get(name)
        if column is not None and values:
            stmt = stmt.where(column.in_(values))
    return stmt
