"""Servers: create (validate, claim quota, record desired state), list,
show, update, delete and actions.  The API records what is wanted; the
scheduler picks a host and the host's agent does the work."""

from __future__ import annotations

import dataclasses
import re
import secrets
import uuid
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
from stratus.compute.service.flavors import Flavors, flavor_snapshot
from stratus.compute.service.image_mappings import image_volumes, merged
from stratus.compute.service.images import ImageClient, ImageInfo
from stratus.compute.service.keypairs import KeyPairs
from stratus.compute.service.network import NicRequest
from stratus.compute.service.nics import ServerNics, nic_metadata
from stratus.compute.service.quotas import Quotas

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
MAX_USER_DATA = 65535


@dataclass
class CreateRequest:
    name: str
    image_ref: str
    flavor_ref: str
    key_name: str | None
    user_data: str | None
    config_drive: bool
    metadata: dict[str, str]
    networks: str  # "auto", "none", "list" (``nics``) or "legacy" (nothing asked)
    min_count: int
    max_count: int
    availability_zone: str | None
    group_id: str | None
    description: str | None
    hostname: str | None
    tags: list[str]
    admin_pass: str | None
    nics: tuple[NicRequest, ...] = ()
    access_ip_v4: str | None = None
    access_ip_v6: str | None = None
    security_groups: tuple[str, ...] = ()
    # block_device_mapping_v2 entries with destination "volume" (service/volumes.BootVolume)
    block_devices: tuple[Any, ...] = ()


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


def _hostname(name: str) -> str:
    host = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")[:63]
    return host or "server"


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
    ):
        self.nics = nics
        self.db = db
        self.flavors = flavors
        self.keypairs = keypairs
        self.quotas = quotas
        self.images = images
        self.wake = wake  # wake the agent of a host (None: the scheduler)

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

    async def create(
        self, ctx: RequestContext, req: CreateRequest
    ) -> tuple[list[m.Server], str, tuple[Any, ...]]:
        """The servers, their admin password, and the volumes they boot
        with (the request's and the image's: ``ServerVolumes.plan_boot``)."""
        if req.min_count < 1 or req.max_count < req.min_count:
            raise BadRequest("min_count must be at least 1 and no more than max_count.")
        if req.user_data is not None and len(req.user_data) > MAX_USER_DATA:
            raise BadRequest(f"User data is too long: at most {MAX_USER_DATA} bytes of base64.")
        try:
            flavor = await self.flavors.get(ctx, req.flavor_ref)
        except NotFound as exc:
            raise BadRequest(f"Flavor {req.flavor_ref} could not be found.") from exc
        if flavor.disabled:
            raise BadRequest(f"Flavor {flavor.id} is disabled.")
        req, image = await self._boot_source(ctx, req, flavor)
        key_data = None
        if req.key_name:
            try:
                key_data = (await self.keypairs.get(ctx.user_id or "", req.key_name)).public_key
            except NotFound as exc:
                raise BadRequest(f"Invalid key_name provided: {req.key_name}.") from exc
        if req.group_id:
            await self._check_group(ctx, req.group_id)
        zone = req.availability_zone
        if zone and zone.split(":")[0] not in await self._zones():
            raise BadRequest(f"The requested availability zone {zone!r} is not available.")
        nics = await self._plan_nics(ctx, req)
        groups = await self._security_group_ids(ctx, req) if nics else []
        admin_pass = req.admin_pass or secrets.token_urlsafe(9)
        servers = []
        async with self.db.transaction() as s:
            # The quota check and the inserts it allows are one step: two
            # creates of one project at once cannot both pass.
            count = await self._quota_count(s, ctx, req, flavor)
            for i in range(count):
                name = req.name if count == 1 else f"{req.name}-{i + 1}"
                server = m.Server(
                    id=str(uuid.uuid4()),
                    name=name,
                    hostname=_hostname(req.hostname or name),
                    description=req.description,
                    project_id=ctx.project_id or "",
                    user_id=ctx.user_id or "",
                    image_ref="" if image is None else image.id,
                    flavor_id=flavor.id,
                    flavor=flavor_snapshot(flavor),
                    key_name=req.key_name,
                    key_data=key_data,
                    user_data=req.user_data,
                    config_drive=True,
                    metadata_=dict(req.metadata),
                    availability_zone=zone.split(":")[0] if zone else "nova",
                    access_ip_v4=req.access_ip_v4,
                    access_ip_v6=req.access_ip_v6,
                    requested_zone=zone,
                    vm_state=m.BUILDING,
                    # the volumes are made first (ServerVolumes.plan_boot)
                    task_state="block_device_mapping" if req.block_devices else "scheduling",
                    networks="none" if req.networks == "none" else "auto",
                    system_metadata=nic_metadata(nics, groups),
                    group_id=req.group_id,
                    tags=list(req.tags),
                )
                s.add(server)
                start_action(s, server.id, "create", ctx.request_id, ctx.user_id, ctx.project_id)
                servers.append(server)
        if not req.block_devices:
            self.wake(None)
        return servers, admin_pass, req.block_devices

    async def _boot_source(
        self, ctx: RequestContext, req: CreateRequest, flavor: m.Flavor
    ) -> tuple[CreateRequest, ImageInfo | None]:
        """The request with the volumes an image maps (a snapshot of a
        volume-backed server), and the image the servers boot from: None
        when they boot from a volume (``boot_index`` 0 in
        block_device_mapping_v2)."""
        from_volume = any(getattr(d, "boot_index", None) == 0 for d in req.block_devices)
        image = None
        if not from_volume:
            image = await self.images.get(ctx, req.image_ref)
            mapped = image_volumes(image)
            if mapped:
                req = dataclasses.replace(req, block_devices=merged(mapped, req.block_devices))
                from_volume = any(d.boot_index == 0 for d in req.block_devices)
        if req.block_devices and req.max_count > 1:
            raise BadRequest("Servers with volumes are created one at a time (max_count 1).")
        if from_volume:
            return req, None
        assert image is not None
        if image.min_ram > flavor.memory_mb:
            raise BadRequest("Flavor's memory is too small for requested image.")
        image.check_fits(flavor.root_gb)
        return req, image

    async def _security_group_ids(self, ctx: RequestContext, req: CreateRequest) -> list[str]:
        """The ids of the groups the request names, for the servers' ports."""
        if self.nics.client is None:
            return []
        groups = []
        for name in dict.fromkeys(req.security_groups):
            try:
                groups.append(await self.nics.client.security_group_id(ctx.project_id or "", name))
            except NotFound as exc:
                raise BadRequest(exc.message) from exc
        return groups

    async def _zones(self) -> set[str]:
        """The zones a server may ask for: its hosts' (the default one while
        no host has registered yet)."""
        async with self.db.session() as s:
            zones = set((await s.scalars(select(m.ComputeHost.availability_zone))).all())
        return zones or {"nova"}

    async def _plan_nics(self, ctx: RequestContext, req: CreateRequest) -> list[NicRequest]:
        """The NICs the servers get, checked against the network service."""
        client = self.nics.client
        if client is None:
            if req.networks == "list":
                ref = req.nics[0]
                raise BadRequest(
                    f"Network {ref.network_id or ref.port_id} could not be found: this cloud "
                    "has no network service."
                )
            return []
        nics = await client.nics_for(
            ctx.project_id or "", ctx.is_admin, req.networks, list(req.nics)
        )
        if req.max_count > 1 and any(n.port_id or n.fixed_ip for n in nics):
            raise BadRequest(
                "Unable to launch multiple instances with a single configured port or fixed IP."
            )
        return nics

    async def _quota_count(
        self, s: AsyncSession, ctx: RequestContext, req: CreateRequest, flavor: m.Flavor
    ) -> int:
        """How many servers of the request the project's quota allows: as
        Nova, max_count if it can, else as many as fit down to min_count."""
        await self.quotas.lock(s, ctx.project_id)
        limits = await self.quotas.limits(ctx.project_id, s)
        if limits["metadata_items"] >= 0 and len(req.metadata) > limits["metadata_items"]:
            raise Forbidden(
                f"Quota exceeded for metadata_items: Requested {len(req.metadata)}, but already used 0 of {limits['metadata_items']} metadata_items"
            )
        used = await self.quotas.usage(ctx.project_id or "", s)
        each = {"instances": 1, "cores": flavor.vcpus, "ram": flavor.memory_mb}
        room = self.quotas.allowed(limits, used, each)
        count = req.max_count if room is None else min(req.max_count, room)
        if count < req.min_count:  # refused, naming the quota that is short
            wanted = {r: (used[r], req.min_count * cost) for r, cost in each.items()}
            await self.quotas.check(ctx.project_id, wanted, limits)
        return count

    async def _check_group(self, ctx: RequestContext, group_id: str) -> None:
        async with self.db.session() as s:
            group = await s.get(m.ServerGroup, group_id)
        if group is None or (group.project_id != ctx.project_id and not ctx.is_admin):
            raise BadRequest(f"Invalid server group {group_id}: it could not be found.")

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
                server.hostname = _hostname(attrs["hostname"])
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
