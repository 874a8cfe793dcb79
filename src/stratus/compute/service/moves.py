"""Moving servers between hosts: cold migration, resize (confirm, revert)
and evacuation (the records os-migrations lists: ``migration_list.py``).

The API side validates, picks the destination with the scheduler (its
filters, minus the source host) and records, in one transaction, the move
in the server's ``system_metadata["move"]``, a ``compute_migration`` row and
the first task; the agents do the rest (``compute/agent/moves.py``).  The
scheduler counts a move's claim on the host the server is not on yet (or
still holds), so that concurrent requests never overcommit either host.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select

from stratus.common.config import ComputeConfig
from stratus.common.context import RequestContext
from stratus.common.db import Database
from stratus.compute import models as m
from stratus.compute.drivers.base import Capability
from stratus.compute.errors import BadRequest, Conflict, NotFound
from stratus.compute.service.actions import start_action
from stratus.compute.service.flavors import Flavors, flavor_snapshot
from stratus.compute.service.migration_list import MigrationFilter, list_migrations
from stratus.compute.service.quotas import Quotas
from stratus.compute.service.scheduler import NoValidHost, Scheduler
from stratus.compute.service.servers import Servers, visible_server
from stratus.compute.service.volumes import ServerVolumes

# Tasks of a cold move, as Nova names them (status RESIZE while they run).
RESIZE_TASKS = frozenset({"resize_prep", "resize_migrating", "resize_migrated", "resize_finish"})
# Migration statuses of a move still under way.
IN_PROGRESS = frozenset(
    {
        "accepted",
        "pre-migrating",
        "migrating",
        "post-migrating",
        "queued",
        "preparing",
        "running",
        "finished",
        "confirming",
        "reverting",
    }
)


class Moves:
    def __init__(
        self,
        db: Database,
        cfg: ComputeConfig,
        scheduler: Scheduler,
        flavors: Flavors,
        wake: Callable[[str | None], None],
        volumes: ServerVolumes,
        quotas: Quotas | None = None,
    ):
        self.quotas = quotas
        self.volumes = volumes  # a server booted from a volume resizes to any disk
        self.db = db
        self.cfg = cfg
        self.scheduler = scheduler
        self.flavors = flavors
        self.wake = wake

    # -- migrate and resize ----------------------------------------------------------------------

    async def migrate(
        self,
        ctx: RequestContext,
        server_id: str,
        *,
        host: str | None = None,
        flavor_ref: str | None = None,
    ) -> m.Migration:
        """Cold migration (``flavor_ref`` None) or resize: validate, choose
        the destination, record the move; the source agent starts it.  A
        server booted from a volume may take a flavor of any disk size (its
        root disk is the volume, as in Nova)."""
        kind = "resize" if flavor_ref is not None else "migration"
        verb = "resize" if flavor_ref is not None else "migrate"
        new_flavor: dict[str, Any] | None = None
        volume_backed = False
        if flavor_ref is not None:
            volume_backed = await self.volumes.volume_backed(server_id)
            new_flavor = await self._resize_flavor(ctx, server_id, flavor_ref)
        async with self.db.transaction() as s:
            await s.execute(select(m.ComputeHost.id).with_for_update())
            server = await visible_server(s, ctx, server_id)
            self._check_state(ctx, server, verb, frozenset({m.ACTIVE, m.STOPPED}))
            await Servers.check_capability(s, server, Capability.MIGRATE, verb)
            old = dict(server.flavor)
            if new_flavor is None:
                new_flavor = old
            else:
                _check_resize(server, old, new_flavor, volume_backed)
            source = server.host or ""
            same_host_ok = kind == "resize" and await self._same_host_allowed(s)
            if host is not None:
                await _check_named_host(s, server, host)
            dest = await self._destination(s, server, new_flavor, host, same_host_ok, kind)
            _check_migrate_capable(server, dest, verb)
            migration = await _record_move(s, ctx, server, kind, dest.host, old, new_flavor)
            start_action(s, server.id, verb, ctx.request_id, ctx.user_id, ctx.project_id)
        self.wake(source)
        return migration

    async def _resize_flavor(
        self, ctx: RequestContext, server_id: str, flavor_ref: str
    ) -> dict[str, Any]:
        """The flavor a resize asks for, as the server will keep it; its
        quota checked."""
        try:
            flavor = await self.flavors.get(ctx, flavor_ref)
        except NotFound as exc:
            raise BadRequest(f"Flavor {flavor_ref} could not be found.") from exc
        if flavor.disabled:
            raise BadRequest(f"Flavor {flavor.id} is disabled.")
        new_flavor = flavor_snapshot(flavor)
        await self._check_quota(ctx, server_id, new_flavor)
        return new_flavor

    async def _same_host_allowed(self, s: Any) -> bool:
        """[compute] allow_resize_to_same_host; unset: yes while the cloud has
        one compute host (the all-in-one), where a resize could go nowhere else."""
        if self.cfg.allow_resize_to_same_host is not None:
            return self.cfg.allow_resize_to_same_host
        hosts = await s.scalar(select(func.count()).select_from(m.ComputeHost))
        return int(hosts or 0) <= 1

    async def _check_quota(
        self, ctx: RequestContext, server_id: str, flavor: dict[str, Any]
    ) -> None:
        """An upsize needs quota for the difference (403 otherwise, as Nova)."""
        if self.quotas is None:
            return
        async with self.db.session() as s:
            server = await visible_server(s, ctx, server_id)
        used = await self.quotas.usage(server.project_id)
        cores = int(flavor["vcpus"]) - int(server.flavor.get("vcpus", 0))
        ram = int(flavor["ram"]) - int(server.flavor.get("ram", 0))
        wanted = {}
        if cores > 0:
            wanted["cores"] = (used["cores"], cores)
        if ram > 0:
            wanted["ram"] = (used["ram"], ram)
        if wanted:
            await self.quotas.check(server.project_id, wanted)

    async def _destination(
        self,
        s: Any,
        server: m.Server,
        flavor: dict[str, Any],
        host: str | None,
        same_host_ok: bool,
        kind: str,
    ) -> m.ComputeHost:
        zone = (server.requested_zone or "").partition(":")[0]
        probe = m.Server(
            id=server.id,
            flavor=flavor,
            group_id=server.group_id,
            requested_zone=f"{zone}:{host}" if host else zone or None,
        )
        exclude = None if same_host_ok else server.host
        try:
            return await self.scheduler.select_host(s, probe, exclude=exclude)
        except NoValidHost as exc:
            hint = ""
            if exclude and not host:
                hint = f" The server's own host {server.host} is never a destination" + (
                    " of a resize while [compute] allow_resize_to_same_host is false"
                    " (set it true to let a resize stay on its host)."
                    if flavor is not server.flavor
                    else " of a cold migration."
                )
            raise BadRequest(f"{exc}{hint}") from exc

    @staticmethod
    def _check_state(
        ctx: RequestContext, server: m.Server, verb: str, allowed: frozenset[str]
    ) -> None:
        if server.locked and not ctx.is_admin:
            raise Conflict(f"Instance {server.id} is locked")
        if server.task_state is not None:
            raise Conflict(
                f"Cannot '{verb}' instance {server.id} while it is in task_state {server.task_state}"
            )
        if server.vm_state not in allowed:
            raise Conflict(
                f"Cannot '{verb}' instance {server.id} while it is in vm_state {server.vm_state}"
            )

    async def _answer(self, ctx: RequestContext, server_id: str, confirm: bool) -> None:
        verb = "confirmResize" if confirm else "revertResize"
        async with self.db.transaction() as s:
            server = await visible_server(s, ctx, server_id)
            self._check_state(ctx, server, verb, frozenset({m.RESIZED}))
            move = (server.system_metadata or {}).get("move") or {}
            migration = await s.get(m.Migration, move.get("migration", -1))
            # A failed confirm or revert (an agent unreachable) may be retried.
            if migration is None or migration.status not in ("finished", "confirming", "reverting"):
                raise BadRequest(f"Instance {server.id} has not been resized.")
            migration.status = "confirming" if confirm else "reverting"
            server.task_state = "resize_confirming" if confirm else "resize_reverting"
            server.generation += 1
            start_action(
                s,
                server.id,
                "confirmResize" if confirm else "revertResize",
                ctx.request_id,
                ctx.user_id,
                ctx.project_id,
            )
            host = server.host
        self.wake(host)

    async def confirm(self, ctx: RequestContext, server_id: str) -> None:
        await self._answer(ctx, server_id, True)

    async def revert(self, ctx: RequestContext, server_id: str) -> None:
        await self._answer(ctx, server_id, False)

    # -- evacuate ----------------------------------------------------------------------------------

    async def evacuate(
        self, ctx: RequestContext, server_id: str, host: str | None, stop: bool = False
    ) -> m.Migration:
        """Rebuild a server of a dead host elsewhere; ``stop``: it arrives
        stopped (Nova from 2.95), else as it was (stopped stays stopped)."""
        async with self.db.transaction() as s:
            await s.execute(select(m.ComputeHost.id).with_for_update())
            server = await visible_server(s, ctx, server_id)
            self._check_state(ctx, server, "evacuate", frozenset({m.ACTIVE, m.STOPPED, m.ERROR}))
            source = server.host or ""
            row = await s.scalar(select(m.ComputeHost).where(m.ComputeHost.host == source))
            if row is not None and self.scheduler.alive(row):
                raise Conflict(
                    f"Compute service of {source} is still in use: evacuate only servers "
                    "of a host whose agent is down (or forced down)."
                )
            if host is not None:
                target = await s.scalar(select(m.ComputeHost).where(m.ComputeHost.host == host))
                if target is None:
                    raise NotFound(f"Compute host {host} could not be found.")
                if host == source:
                    raise BadRequest(f"The target host {host} is the instance's own host.")
            dest = await self._destination(
                s, server, dict(server.flavor), host, False, "evacuation"
            )
            migration = m.Migration(
                server_id=server.id,
                project_id=ctx.project_id,
                user_id=ctx.user_id,
                migration_type="evacuation",
                status="accepted",
                source_compute=source,
                dest_compute=dest.host,
                dest_host=dest.host,
                old_flavor_id=server.flavor_id,
                new_flavor_id=server.flavor_id,
            )
            s.add(migration)
            await s.flush()
            state = m.STOPPED if stop or server.vm_state == m.STOPPED else m.ACTIVE
            server.system_metadata = {
                **(server.system_metadata or {}),
                "move": {
                    "kind": "evacuation",
                    "migration": migration.id,
                    "source": source,
                    "dest": dest.host,
                    "vm_state": state,
                },
            }
            server.host = dest.host
            server.availability_zone = dest.availability_zone
            server.task_state = "rebuild_spawning"
            server.generation += 1
            start_action(s, server.id, "evacuate", ctx.request_id, ctx.user_id, ctx.project_id)
        self.wake(dest.host)
        return migration

    # -- listings --------------------------------------------------------------------------------

    async def list_migrations(self, f: MigrationFilter) -> list[m.Migration]:
        """os-migrations (``migration_list.py``)."""
        return await list_migrations(self.db, f)


def _check_resize(
    server: m.Server, old: dict[str, Any], new_flavor: dict[str, Any], volume_backed: bool
) -> None:
    if new_flavor["id"] == server.flavor_id:
        raise BadRequest("When resizing, instances must change flavor!")
    if not volume_backed and int(new_flavor["disk"]) < int(old.get("disk", 0)):
        raise BadRequest(
            f"Resizing to a smaller disk is not possible: flavor {new_flavor['id']} "
            f"has {new_flavor['disk']} GiB, the server has {old.get('disk', 0)} GiB."
        )


async def _check_named_host(s: Any, server: m.Server, host: str) -> None:
    """A host the request names: one that exists, and not the server's own."""
    target = await s.scalar(select(m.ComputeHost).where(m.ComputeHost.host == host))
    if target is None:
        raise BadRequest(f"Compute host {host} could not be found.")
    if host == (server.host or ""):
        raise BadRequest(
            f"Cannot migrate instance {server.id} to its own host {host}: "
            "name another host, or none to let the scheduler choose."
        )


def _check_migrate_capable(server: m.Server, dest: m.ComputeHost, verb: str) -> None:
    """409 when the destination's driver cannot take a migrating guest."""
    if Capability.MIGRATE.value not in dest.capabilities:
        raise Conflict(
            f"Cannot '{verb}' instance {server.id}: the {dest.driver} driver of "
            f"host {dest.host} does not support migrate"
        )


async def _record_move(
    s: Any,
    ctx: RequestContext,
    server: m.Server,
    kind: str,
    dest_host: str,
    old: dict[str, Any],
    new_flavor: dict[str, Any],
) -> m.Migration:
    """Add the migration row and the server's ``move`` record; the server
    enters ``resize_prep`` for its source agent to pick up."""
    source = server.host or ""
    migration = m.Migration(
        server_id=server.id,
        project_id=ctx.project_id,
        user_id=ctx.user_id,
        migration_type=kind,
        status="pre-migrating",
        source_compute=source,
        dest_compute=dest_host,
        dest_host=dest_host,
        old_flavor_id=server.flavor_id,
        new_flavor_id=str(new_flavor["id"]),
    )
    s.add(migration)
    await s.flush()
    server.system_metadata = {
        **(server.system_metadata or {}),
        "move": {
            "kind": kind,
            "migration": migration.id,
            "source": source,
            "dest": dest_host,
            "old_flavor": old,
            "old_flavor_id": server.flavor_id,
            "new_flavor": new_flavor,
            "new_flavor_id": str(new_flavor["id"]),
            "vm_state": server.vm_state,
            "host_port": server.host_port,
        },
    }
    server.task_state = "resize_prep"
    server.generation += 1
    return migration
