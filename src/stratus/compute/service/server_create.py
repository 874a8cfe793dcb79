"""Creating servers: the request checked (flavor, image or boot volume,
key pair, group, zone, NICs, security groups), the quota claimed and the
servers recorded with their desired state in one transaction; the
scheduler (or, for servers with volumes, ``ServerVolumes.plan_boot``)
takes it from there."""

from __future__ import annotations

import dataclasses
import re
import secrets
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from stratus.common.context import RequestContext
from stratus.common.db import Database
from stratus.compute import models as m
from stratus.compute.errors import BadRequest, Forbidden, NotFound
from stratus.compute.service.actions import start_action
from stratus.compute.service.boot_volumes import BootVolume
from stratus.compute.service.flavors import Flavors, flavor_snapshot
from stratus.compute.service.image_mappings import image_volumes, merged
from stratus.compute.service.images import ImageClient, ImageInfo
from stratus.compute.service.keypairs import KeyPairs
from stratus.compute.service.network import NicRequest
from stratus.compute.service.nics import ServerNics, nic_metadata
from stratus.compute.service.quotas import Quotas

MAX_USER_DATA = 65535
# Makes or reserves the volumes a new server boots with (ServerVolumes.plan_boot).
PlanBoot = Callable[[RequestContext, m.Server, list[BootVolume]], Awaitable[None]]


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


@dataclass(frozen=True)
class _Checked:
    """What the checks of a create found, for the rows it writes."""

    flavor: m.Flavor
    image: ImageInfo | None
    key_data: str | None
    zone: str | None
    nics: list[NicRequest]
    groups: list[str]


def hostname_for(name: str) -> str:
    """A server's host name from its name (or the one it asks for)."""
    host = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")[:63]
    return host or "server"


class ServerCreation:
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
        self.plan_boot = plan_boot
        self.flavors = flavors
        self.keypairs = keypairs
        self.quotas = quotas
        self.images = images
        self.wake = wake  # wake the agent of a host (None: the scheduler)

    async def create(self, ctx: RequestContext, req: CreateRequest) -> tuple[list[m.Server], str]:
        """The servers and their admin password.  Servers that boot with
        volumes (the request's and the image's) have them made or reserved
        before they are scheduled (``ServerVolumes.plan_boot``)."""
        _check_counts(req)
        req, checked = await self._check(ctx, req)
        admin_pass = req.admin_pass or secrets.token_urlsafe(9)
        servers = []
        async with self.db.transaction() as s:
            # The quota check and the inserts it allows are one step: two
            # creates of one project at once cannot both pass.
            count = await self._quota_count(s, ctx, req, checked.flavor)
            for i in range(count):
                name = req.name if count == 1 else f"{req.name}-{i + 1}"
                server = _server_row(ctx, req, name, checked)
                s.add(server)
                start_action(s, server.id, "create", ctx.request_id, ctx.user_id, ctx.project_id)
                servers.append(server)
        if req.block_devices:
            await self.plan_boot(ctx, servers[0], list(req.block_devices))
        else:
            self.wake(None)
        return servers, admin_pass

    async def _check(
        self, ctx: RequestContext, req: CreateRequest
    ) -> tuple[CreateRequest, _Checked]:
        """Everything a create names, checked in Nova's order; the request
        comes back with the volumes its image maps."""
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
        return req, _Checked(flavor, image, key_data, zone, nics, groups)

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


def _check_counts(req: CreateRequest) -> None:
    if req.min_count < 1 or req.max_count < req.min_count:
        raise BadRequest("min_count must be at least 1 and no more than max_count.")
    if req.user_data is not None and len(req.user_data) > MAX_USER_DATA:
        raise BadRequest(f"User data is too long: at most {MAX_USER_DATA} bytes of base64.")


def _server_row(ctx: RequestContext, req: CreateRequest, name: str, checked: _Checked) -> m.Server:
    """One server of the request, building, as the scheduler will find it."""
    zone = checked.zone
    return m.Server(
        id=str(uuid.uuid4()),
        name=name,
        hostname=hostname_for(req.hostname or name),
        description=req.description,
        project_id=ctx.project_id or "",
        user_id=ctx.user_id or "",
        image_ref="" if checked.image is None else checked.image.id,
        flavor_id=checked.flavor.id,
        flavor=flavor_snapshot(checked.flavor),
        key_name=req.key_name,
        key_data=checked.key_data,
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
        system_metadata=nic_metadata(checked.nics, checked.groups),
        group_id=req.group_id,
        tags=list(req.tags),
    )
