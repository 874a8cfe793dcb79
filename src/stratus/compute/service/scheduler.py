"""The scheduler: filters, then weighers, over the hosts agents report, and
an atomic claim so that concurrent requests never overcommit a host."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from stratus.common.config import ComputeConfig
from stratus.common.db import Database, utcnow
from stratus.compute import models as m

log = logging.getLogger(__name__)


def move_claims(server: m.Server) -> list[tuple[str, dict[str, Any]]]:
    """The (host, flavor) a server's move (``service/moves.py``) holds
    besides its own host's."""
    move = (server.system_metadata or {}).get("move")
    if not isinstance(move, dict) or move.get("kind") == "evacuation":
        return []
    if server.host == move.get("source"):
        return [(str(move["dest"]), dict(move["new_flavor"]))]
    return [(str(move["source"]), dict(move["old_flavor"]))]


@dataclass
class Usage:
    vcpus: int = 0
    memory_mb: int = 0
    disk_gb: int = 0
    servers: int = 0


@dataclass
class Candidate:
    host: m.ComputeHost
    used: Usage
    group_members: int = 0


class NoValidHost(Exception):
    pass


class NoHostsYet(NoValidHost):
    """No agent has registered at all (yet: the cloud may be starting)."""


class Scheduler:
    def __init__(self, db: Database, cfg: ComputeConfig, wake_host: Callable[[str], None]):
        self.db = db
        self.cfg = cfg
        self.wake_host = wake_host

    def capacity(self, host: m.ComputeHost) -> tuple[float, float, float]:
        return (
            host.vcpus * self.cfg.cpu_allocation_ratio,
            max(host.memory_mb - self.cfg.reserved_host_memory_mb, 0)
            * self.cfg.ram_allocation_ratio,
            host.local_gb * self.cfg.disk_allocation_ratio,
        )

    def alive(self, host: m.ComputeHost) -> bool:
        if host.forced_down or host.heartbeat is None:
            return False
        return utcnow() - host.heartbeat < timedelta(seconds=self.cfg.service_down_time)

    async def usage(self, s: AsyncSession, exclude: str | None = None) -> dict[str, Usage]:
        rows = (
            await s.scalars(
                select(m.Server).where(m.Server.host.is_not(None), m.Server.deleted_at.is_(None))
            )
        ).all()
        out: dict[str, Usage] = {}
        for server in rows:
            if server.id == exclude or server.host is None:
                continue
            u = out.setdefault(server.host, Usage())
            u.vcpus += int(server.flavor.get("vcpus", 0))
            u.memory_mb += int(server.flavor.get("ram", 0))
            u.disk_gb += int(server.flavor.get("disk", 0))
            u.servers += 1
            # A move under way also holds room on its other host.
            for host, flavor in move_claims(server):
                c = out.setdefault(host, Usage())
                c.vcpus += int(flavor.get("vcpus", 0))
                c.memory_mb += int(flavor.get("ram", 0))
                c.disk_gb += int(flavor.get("disk", 0))
        return out

    async def _group(self, s: AsyncSession, server: m.Server) -> tuple[str | None, dict[str, int]]:
        if not server.group_id:
            return None, {}
        group = await s.get(m.ServerGroup, server.group_id)
        if group is None:
            return None, {}
        members = (
            await s.scalars(
                select(m.Server.host).where(
                    m.Server.group_id == group.id,
                    m.Server.id != server.id,
                    m.Server.deleted_at.is_(None),
                    m.Server.host.is_not(None),
                )
            )
        ).all()
        per_host: dict[str, int] = {}
        for host in members:
            if host is not None:
                per_host[host] = per_host.get(host, 0) + 1
        return group.policy, per_host

    async def select_host(
        self, s: AsyncSession, server: m.Server, exclude: str | None = None
    ) -> m.ComputeHost:
        """Filters, then weighers; raises NoValidHost saying why.  ``exclude``
        is a host never chosen (a move's source)."""
        hosts = list((await s.scalars(select(m.ComputeHost).order_by(m.ComputeHost.host))).all())
        if not hosts:
            raise NoHostsYet("There are no compute hosts.")
        used = await self.usage(s, exclude=server.id)
        policy, members = await self._group(s, server)
        reasons: list[str] = []
        candidates: list[Candidate] = []
        zone, _, forced_host = (server.requested_zone or "").partition(":")
        for host in hosts:
            if forced_host and host.host != forced_host:
                continue
            u = used.get(host.host, Usage())
            count = members.get(host.host, 0)
            why = self._refusal(host, server.flavor, u, exclude, zone, policy, bool(members), count)
            if why is None:
                candidates.append(Candidate(host, u, count))
            else:
                reasons.append(f"{host.host}: {why}")
        if not candidates:
            detail = "; ".join(reasons) if reasons else f"no host named {forced_host}"
            raise NoValidHost(f"No valid host was found. {detail}")

        def weight(c: Candidate) -> tuple[float, float]:
            _, ram, _ = self.capacity(c.host)
            free_ram = ram - c.used.memory_mb
            group = 0.0
            if policy == "soft-affinity":
                group = c.group_members
            elif policy == "soft-anti-affinity":
                group = -c.group_members
            return (group, free_ram)

        return max(candidates, key=weight).host

    def _refusal(
        self,
        host: m.ComputeHost,
        flavor: dict[str, Any],
        u: Usage,
        exclude: str | None,
        zone: str,
        policy: str | None,
        grouped: bool,
        count: int,
    ) -> str | None:
        """Why the filters refuse ``host`` (None: they take it); ``count``
        is how many members of the server's group it holds."""
        if host.host == exclude:
            return "the server's own host"
        if host.disabled:
            return "disabled"
        if not self.alive(host):
            return "its agent is down"
        if zone and host.availability_zone != zone:
            return f"not in availability zone {zone}"
        cpus, ram, disk = self.capacity(host)
        if u.vcpus + int(flavor.get("vcpus", 0)) > cpus:
            return "not enough vCPUs"
        if u.memory_mb + int(flavor.get("ram", 0)) > ram:
            return "not enough RAM"
        if u.disk_gb + int(flavor.get("disk", 0)) > disk:
            return "not enough disk"
        if policy == "affinity" and grouped and count == 0:
            return "affinity with the server group's other members"
        if policy == "anti-affinity" and count > 0:
            return "anti-affinity with a member of the server group"
        return None

    async def schedule_pending(self) -> None:
        async with self.db.session() as s:
            pending = list(
                (
                    await s.scalars(
                        select(m.Server.id)
                        .where(
                            m.Server.task_state == "scheduling",
                            m.Server.host.is_(None),
                            m.Server.deleted_at.is_(None),
                        )
                        .order_by(m.Server.created_at)
                    )
                ).all()
            )
        for server_id in pending:
            await self.schedule(server_id)

    async def schedule(self, server_id: str) -> None:
        """Pick a host and claim its resources in one transaction."""
        host_name = None
        async with self.db.transaction() as s:
            # Claims run one at a time (PostgreSQL: the host rows are locked;
            # SQLite: writers are serialized anyway).
            await s.execute(select(m.ComputeHost.id).with_for_update())
            server = await s.get(m.Server, server_id)
            if server is None or server.task_state != "scheduling" or server.host is not None:
                return
            try:
                host = await self.select_host(s, server)
            except NoHostsYet:
                # Right after a start the agent may not have registered yet:
                # wait for it a while before giving up.
                if (utcnow() - server.created_at).total_seconds() < self.cfg.service_down_time:
                    return
                exc_message = "No valid host was found. There are no compute hosts."
                log.info("compute: server %s: %s", server.id, exc_message)
                server.vm_state, server.task_state = m.ERROR, None
                server.fault = {
                    "code": 500,
                    "message": exc_message,
                    "created": utcnow().strftime("%Y-%m-%dT%H:%M:%SZ"),
                }
                return
            except NoValidHost as exc:
                log.info("compute: server %s: %s", server.id, exc)
                server.vm_state, server.task_state = m.ERROR, None
                server.fault = {
                    "code": 500,
                    "message": str(exc),
                    "created": utcnow().strftime("%Y-%m-%dT%H:%M:%SZ"),
                }
                return
            server.host = host_name = host.host
            server.availability_zone = host.availability_zone  # its aggregate's zone
            server.task_state = "spawning"
            server.generation += 1
        if host_name:
            self.wake_host(host_name)
