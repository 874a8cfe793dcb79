"""Servers: list, show, update, delete and actions; create (validate,
claim quota, record desired state) is ``server_create.py``.  The API
records what is wanted; the scheduler picks a host and the host's agent
does the work."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from stratus.common.context import RequestContext
from stratus.common.db import Database, utcnow
from stratus.compute import models as m
from stratus.compute.drivers.base import Capability
from stratus.compute.errors import BadRequest, Conflict, Forbidden, NotFound
from stratus.compute.service.actions import start_action
from stratus.compute.service.flavors import Flavors
from stratus.compute.service.images import ImageClient
from stratus.compute.service.keypairs import KeyPairs
from stratus.compute.service.nics import ServerNics
from stratus.compute.service.quotas import Quotas
from stratus.compute.service.server_create import (
    CreateRequest,
    PlanBoot,
    ServerCreation,
    hostname_for,
)

# action -> (vm_states it is allowed from, task_state it starts)
TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    "stop": (frozenset({m.ACTIVE, m.ERROR}), "powering-off"),
    "start": (frozenset({m.STOPPED}), "powering-on"),
    "reboot": (frozenset({m.ACTIVE}), "reboot_started"),
    "reboot_hard": (
        frozenset({m.ACTIVE, m.STOPPED, m.PAUSED, m.SUSPENDED, m.ERROR}),
        "reboot_started_hard",
    ),
    "pause": (frozenset({m.ACTIVE}), "pausing"),
    "unpause": (frozenset({m.PAUSED}), "unpausing"),
    "suspend": (frozenset({m.ACTIVE}), "suspending"),
    "resume": (frozenset({m.SUSPENDED}), "resuming"),
    "rebuild": (frozenset({m.ACTIVE, m.STOPPED, m.ERROR}), "rebuilding"),
}
ACTION_NAMES = {
    "stop": "stop",
    "start": "start",
    "reboot": "reboot",
    "reboot_hard": "reboot",
    "pause": "pause",
    "unpause": "unpause",
    "suspend": "suspend",
    "resume": "resume",
    "rebuild": "rebuild",
}
# action -> the driver capability it needs on the server's host
NEEDS: dict[str, Capability] = {
    "pause": Capability.PAUSE,
    "unpause": Capability.PAUSE,
    "suspend": Capability.SUSPEND,
    "resume": Capability.SUSPEND,
}
STATUS_FILTER = {
    "ACTIVE": m.ACTIVE,
    "BUILD": m.BUILDING,
    "SHUTOFF": m.STOPPED,
    "PAUSED": m.PAUSED,
    "SUSPENDED": m.SUSPENDED,
    "ERROR": m.ERROR,
    "DELETED": m.DELETED,
    "SHELVED": m.SHELVED,
    "SHELVED_OFFLOADED": m.SHELVED_OFFLOADED,
    "RESCUE": m.RESCUED,
    "VERIFY_RESIZE": m.RESIZED,
}


@dataclass
class ListFilter:
    name: str | None = None
    status: str | None = None
    changes_since: datetime | None = None
    ip: str | None = None
    host: str | None = None
    all_projects: bool = False
    project_id: str | None = None
    flavor: str | None = None
    image: str | None = None
    locked: bool | None = None
    limit: int | None = None
    marker: str | None = None
    deleted: bool = False


async def visible_server(s: AsyncSession, ctx: RequestContext, server_id: str) -> m.Server:
    """The server if the caller may see it (404 otherwise, as Nova)."""
    server = await s.get(m.Server, server_id)
    if (
        server is None
        or server.deleted_at is not None
        or (not ctx.is_admin and server.project_id != ctx.project_id)
    ):
        raise NotFound(f"Instance {server_id} could not be found.")
    return server


class Servers:
    def __init__(
        self,
        db: Database,
        flavors: Flavors,
        keypairs: KeyPairs,
        quotas: Quotas,
        images: ImageClient,
        wake: Callable[[str | None], None],
        nics: ServerNics,
        plan_boot: PlanBoot,
    ):
        self.nics = nics
        self.db = db
        self.quotas = quotas
        self.wake = wake  # wake the agent of a host (None: the scheduler)
        # POST /servers: its checks need the flavors, key pairs and images too.
        self.creation = ServerCreation(db, flavors, keypairs, quotas, images, wake, nics, plan_boot)

    # -- reads ---------------------------------------------------------------------------

    async def get(self, ctx: RequestContext, server_id: str) -> m.Server:
        """The server if the caller may see it (404 otherwise, as Nova)."""
        async with self.db.session() as s:
            return await visible_server(s, ctx, server_id)

    async def list_servers(self, ctx: RequestContext, f: ListFilter) -> list[m.Server]:
        stmt = select(m.Server)
        if not (ctx.is_admin and f.all_projects):
            stmt = stmt.where(m.Server.project_id == ctx.project_id)
        elif f.project_id:
            stmt = stmt.where(m.Server.project_id == f.project_id)
        if not (ctx.is_admin and f.deleted):
            if f.changes_since is None:
                stmt = stmt.where(m.Server.deleted_at.is_(None))
        if f.changes_since is not None:
            stmt = stmt.where(m.Server.updated_at >= f.changes_since)
        if f.status:
            vm_state = STATUS_FILTER.get(f.status.upper())
            if vm_state is None:
                return []
            stmt = stmt.where(m.Server.vm_state == vm_state)
        if f.host and ctx.is_admin:
            stmt = stmt.where(m.Server.host == f.host)
        if f.flavor:
            stmt = stmt.where(m.Server.flavor_id == f.flavor)
        if f.image:
            stmt = stmt.where(m.Server.image_ref == f.image)
        if f.locked is not None:
            stmt = stmt.where(m.Server.locked.is_(f.locked))
        async with self.db.session() as s:
            rows = list(
                (
                    await s.scalars(stmt.order_by(m.Server.created_at.desc(), m.Server.id.desc()))
                ).all()
            )
        if f.name:
            try:
                pattern = re.compile(f.name)
            except re.error as exc:
                raise BadRequest(f"Invalid name filter {f.name!r}: {exc}") from exc
            rows = [r for r in rows if pattern.search(r.name)]
        if f.ip:
            try:
                ip = re.compile(f.ip)
            except re.error as exc:
                raise BadRequest(f"Invalid ip filter {f.ip!r}: {exc}") from exc
            ports = await self.nics.ports_of(r.id for r in rows)

            def addresses(r: m.Server) -> list[str]:
                if r.id in ports:
                    return [
                        a
                        for p in ports[r.id]
                        for a in [*(f.ip_address for f in p.fixed_ips), *p.floating_ips]
                    ]
                return [] if r.networks == "none" else ["10.0.2.15", "127.0.0.1"]

            rows = [r for r in rows if any(ip.search(a) for a in addresses(r))]
        if f.marker:
            ids = [r.id for r in rows]
            if f.marker not in ids:
                raise BadRequest(f"marker [{f.marker}] not found")
            rows = rows[ids.index(f.marker) + 1 :]
        return rows[: f.limit] if f.limit is not None else rows  # limit=0: none, as Nova

    # -- create ------------------------------------------------------------------------------

    # -- create (service/server_create.py) ------------------------------------------------------

    async def create(self, ctx: RequestContext, req: CreateRequest) -> tuple[list[m.Server], str]:
        """The servers and their admin password (``ServerCreation.create``)."""
        return await self.creation.create(ctx, req)

    # -- update, delete, actions ---------------------------------------------------------------

    @staticmethod
    async def check_capability(
        s: AsyncSession, server: m.Server, capability: Capability, verb: str
    ) -> None:
        """409 when the driver of the server's host cannot do ``verb``."""
        if server.host is None:
            return
        host = await s.scalar(select(m.ComputeHost).where(m.ComputeHost.host == server.host))
        if host is not None and capability.value not in host.capabilities:
            raise Conflict(
                f"Cannot '{verb}' instance {server.id}: the {host.driver} driver of host "
                f"{host.host} does not support {capability.value.replace('_', ' ')}"
            )

    @staticmethod
    def check_lock(ctx: RequestContext, server: m.Server) -> None:
        if server.locked and not ctx.is_admin:
            raise Conflict(f"Instance {server.id} is locked")

    async def update(self, ctx: RequestContext, server_id: str, attrs: dict[str, Any]) -> m.Server:
        async with self.db.transaction() as s:
            server = await visible_server(s, ctx, server_id)
            if "name" in attrs:
                server.name = attrs["name"]
            if "description" in attrs:
                server.description = attrs["description"]
            if "hostname" in attrs:
                server.hostname = hostname_for(attrs["hostname"])
            if "accessIPv4" in attrs:
                server.access_ip_v4 = attrs["accessIPv4"]
            if "accessIPv6" in attrs:
                server.access_ip_v6 = attrs["accessIPv6"]
            server.updated_at = utcnow()
        return server

    async def request(
        self, ctx: RequestContext, server_id: str, action: str, **values: Any
    ) -> m.Server:
        """Record a wanted change (compare-and-swap on the states) and wake
        the server's agent."""
        allowed, task = TRANSITIONS[action]
        async with self.db.transaction() as s:
            server = await visible_server(s, ctx, server_id)
            self.check_lock(ctx, server)
            verb = ACTION_NAMES[action]
            if server.task_state is not None:
                raise Conflict(
                    f"Cannot '{verb}' instance {server_id} while it is in task_state {server.task_state}"
                )
            if server.vm_state not in allowed:
                raise Conflict(
                    f"Cannot '{verb}' instance {server_id} while it is in vm_state {server.vm_state}"
                )
            if action in NEEDS:
                await self.check_capability(s, server, NEEDS[action], verb)
            server.task_state = task
            server.generation += 1
            for key, value in values.items():
                setattr(server, key, value)
            start_action(s, server.id, verb, ctx.request_id, ctx.user_id, ctx.project_id)
        self.wake(server.host)
        return server

    async def delete(self, ctx: RequestContext, server_id: str) -> None:
        async with self.db.transaction() as s:
            server = await visible_server(s, ctx, server_id)
            self.check_lock(ctx, server)
            start_action(s, server.id, "delete", ctx.request_id, ctx.user_id, ctx.project_id)
            if server.host is None:
                # Never reached a host: nothing to clean up anywhere.
                server.vm_state, server.task_state = m.DELETED, None
                server.deleted_at = server.terminated_at = utcnow()
            else:
                server.task_state = "deleting"
                server.generation += 1
            host = server.host
        if host is None and self.nics.enabled:
            await self.nics.release(server)
        self.wake(host)

    async def reset_state(self, ctx: RequestContext, server_id: str, vm_state: str) -> None:
        async with self.db.transaction() as s:
            server = await visible_server(s, ctx, server_id)
            server.vm_state, server.task_state = vm_state, None
            server.generation += 1
            server.updated_at = utcnow()
            start_action(s, server.id, "resetState", ctx.request_id, ctx.user_id, ctx.project_id)

    async def set_lock(
        self, ctx: RequestContext, server_id: str, locked: bool, reason: str | None
    ) -> None:
        async with self.db.transaction() as s:
            server = await visible_server(s, ctx, server_id)
            if not locked and server.locked and server.locked_by == "admin" and not ctx.is_admin:
                raise Forbidden("The server was locked by an administrator.")
            server.locked = locked
            server.locked_reason = reason if locked else None
            server.locked_by = ("admin" if ctx.is_admin else "owner") if locked else None
            start_action(
                s,
                server.id,
                "lock" if locked else "unlock",
                ctx.request_id,
                ctx.user_id,
                ctx.project_id,
            )

    # -- metadata ---------------------------------------------------------------------------------

    async def set_metadata(
        self, ctx: RequestContext, server_id: str, items: dict[str, str], replace: bool
    ) -> dict[str, str]:
        limits = await self.quotas.limits(ctx.project_id)
        async with self.db.transaction() as s:
            server = await visible_server(s, ctx, server_id)
            self.check_lock(ctx, server)
            merged = dict(items) if replace else {**server.metadata_, **items}
            limit = limits["metadata_items"]
            if limit >= 0 and len(merged) > limit:
                raise Forbidden(
                    f"Quota exceeded for metadata_items: Requested {len(merged)}, but already used 0 of {limit} metadata_items"
                )
            server.metadata_ = merged
            server.updated_at = utcnow()
        return merged

    async def delete_metadata(self, ctx: RequestContext, server_id: str, key: str) -> None:
        async with self.db.transaction() as s:
            server = await visible_server(s, ctx, server_id)
            self.check_lock(ctx, server)
            if key not in server.metadata_:
                raise NotFound(f"Metadata item was not found: {key}")
            items = dict(server.metadata_)
            del items[key]
            server.metadata_ = items
