"""``NetworkClient`` for a process that holds the network service (the
all-in-one, or any process on the shared database): calls its service
layer in-process, as the admin, on behalf of the server's project.  The
network service's errors come back as compute's, in Nova's words."""

from __future__ import annotations

import contextlib
import ipaddress
import uuid
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from stratus.common.context import RequestContext
from stratus.compute.errors import BadRequest, Conflict, Forbidden, NotFound
from stratus.compute.service.network import (
    OWNER_PREFIX,
    FixedIP,
    NicRequest,
    VifPort,
    port_request,
)
from stratus.network import models as nm
from stratus.network.errors import NeutronError
from stratus.network.service import NetworkService


@contextlib.asynccontextmanager
async def translated() -> AsyncIterator[None]:
    """The network service's refusals as compute's."""
    try:
        yield
    except NeutronError as exc:
        kind = {400: BadRequest, 403: Forbidden, 404: NotFound, 409: Conflict}.get(exc.status)
        if kind is None:
            raise
        raise kind(exc.message) from exc


def _ctx(project_id: str, admin: bool = False) -> RequestContext:
    roles = ("admin", "member", "reader") if admin else ("member", "reader")
    return RequestContext(
        request_id=f"req-{uuid.uuid4()}",
        user_id="compute",
        project_id=project_id,
        roles=roles,
    )


ADMIN = _ctx("", admin=True)


class LocalNetwork:
    def __init__(self, network: NetworkService) -> None:
        self.network = network
        self.db = network.db

    # -- requested NICs ----------------------------------------------------------------

    async def nics_for(
        self, project_id: str, is_admin: bool, mode: str, requests: list[NicRequest]
    ) -> list[NicRequest]:
        if mode == "none":
            return []
        if mode in ("auto", "legacy"):
            return await self._auto(project_id, make=mode == "auto")
        ctx = _ctx(project_id, admin=is_admin)
        out: list[NicRequest] = []
        async with self.db.session() as s:
            for nic in requests:
                out.append(await self._check(s, ctx, nic))
        seen = [n.port_id for n in out if n.port_id]
        if len(seen) != len(set(seen)):
            raise BadRequest("Port id is specified more than once in the request.")
        return out

    async def _check(self, s: AsyncSession, ctx: RequestContext, nic: NicRequest) -> NicRequest:
        if nic.port_id:
            port = await s.get(nm.Port, nic.port_id)
            if port is None or not (ctx.is_admin or port.project_id == ctx.project_id):
                raise BadRequest(f"Port id {nic.port_id} could not be found.")
            if port.device_id or port.device_owner:
                raise Conflict(f"Port {nic.port_id} is still in use.")
            return NicRequest(network_id=port.network_id, port_id=port.id, tag=nic.tag)
        if not nic.network_id:
            raise BadRequest(
                "Invalid input for field/attribute networks: uuid or port is required."
            )
        net = await s.get(nm.Network, nic.network_id)
        usable = net is not None and (
            ctx.is_admin or net.project_id == ctx.project_id or net.shared
        )
        if net is None or not usable:
            raise BadRequest(f"Network {nic.network_id} could not be found.")
        if net.external and not ctx.is_admin and net.project_id != ctx.project_id:
            raise BadRequest(f"Network {nic.network_id} could not be found.")
        if nic.fixed_ip is not None:
            try:
                address = ipaddress.ip_address(nic.fixed_ip)
            except ValueError:
                raise BadRequest(f"Invalid fixed IP address ({nic.fixed_ip})") from None
            taken = await s.scalar(
                select(nm.IPAllocation.port_id).where(
                    nm.IPAllocation.network_id == net.id,
                    nm.IPAllocation.ip_address == str(address),
                )
            )
            if taken is not None:
                raise Conflict(f"Fixed IP address {address} is already in use on network {net.id}.")
            subnets = (
                await s.scalars(select(nm.Subnet.cidr).where(nm.Subnet.network_id == net.id))
            ).all()
            if not any(address in ipaddress.ip_network(c) for c in subnets):
                raise BadRequest(
                    f"Fixed IP address {address} is not on any subnet of network {net.id}."
                )
            return NicRequest(network_id=net.id, fixed_ip=str(address), tag=nic.tag)
        return NicRequest(network_id=net.id, tag=nic.tag)

    async def _auto(self, project_id: str, *, make: bool) -> list[NicRequest]:
        """The project's one usable network; none: get-me-a-network makes
        it (``make``), else no NIC.  Several: the caller must choose."""
        async with self.db.session() as s:
            nets = (
                await s.scalars(
                    select(nm.Network.id)
                    .where(
                        nm.Network.external.is_(False),
                        (nm.Network.project_id == project_id) | nm.Network.shared.is_(True),
                    )
                    .order_by(nm.Network.created_at)
                )
            ).all()
        if len(nets) > 1:
            raise Conflict(
                "Multiple possible networks found, use a Network ID to be more specific."
            )
        if nets:
            return [NicRequest(network_id=nets[0])]
        if not make:
            return []
        async with translated():
            try:
                net_id = await self.network.topologies.get(_ctx(project_id), project_id)
            except NeutronError as exc:
                if exc.status == 409:
                    raise BadRequest(
                        f"Unable to automatically allocate a network for project {project_id}: "
                        f"{exc.message}"
                    ) from exc
                raise
        return [NicRequest(network_id=net_id)]

    # -- ports ---------------------------------------------------------------------------

    async def create_port(
        self,
        project_id: str,
        server_id: str,
        zone: str,
        nic: NicRequest,
        groups: list[str],
        host: str | None = None,
    ) -> VifPort:
        attrs = port_request(project_id, server_id, zone, nic, groups, host)
        async with translated():
            made = await self.network.ports.create(ADMIN, [attrs])
        port_id = made[0].row.id
        return (await self.ports([port_id]))[port_id]

    async def bind_port(
        self, project_id: str, port_id: str, server_id: str, zone: str, host: str | None
    ) -> VifPort:
        async with self.db.session() as s:
            port = await s.get(nm.Port, port_id)
            if port is None:
                raise NotFound(f"Port id {port_id} could not be found.")
            if port.device_id not in ("", server_id):
                raise Conflict(f"Port {port_id} is still in use.")
            owner = port.device_owner or f"{OWNER_PREFIX}{zone}"
            unchanged = port.device_id == server_id and (host is None or port.binding_host == host)
        if not unchanged:
            attrs: dict[str, Any] = {"device_id": server_id, "device_owner": owner}
            if host is not None:
                attrs["binding:host_id"] = host
            async with translated():
                await self.network.ports.update(ADMIN, port_id, attrs, None)
        return (await self.ports([port_id]))[port_id]

    async def unbind_port(self, port_id: str) -> None:
        attrs = {"device_id": "", "device_owner": "", "binding:host_id": ""}
        with contextlib.suppress(NeutronError):
            await self.network.ports.update(ADMIN, port_id, attrs, None)

    async def delete_port(self, port_id: str) -> None:
        with contextlib.suppress(NeutronError):  # gone already
            await self.network.ports.delete(ADMIN, port_id, None)

    async def ports(self, port_ids: list[str]) -> dict[str, VifPort]:
        if not port_ids:
            return {}
        async with self.db.session() as s:
            return await _read_ports(s, port_ids)

    async def owned_by(self, server_id: str) -> list[VifPort]:
        async with self.db.session() as s:
            ids = (await s.scalars(select(nm.Port.id).where(nm.Port.device_id == server_id))).all()
            found = await _read_ports(s, list(ids))
        return [found[i] for i in ids if i in found]

    async def orphans(self, host: str) -> list[tuple[str, str]]:
        async with self.db.session() as s:
            rows = (
                await s.execute(
                    select(nm.Port.id, nm.Port.device_id).where(
                        nm.Port.device_owner.startswith(OWNER_PREFIX),
                        nm.Port.binding_host.in_((host, "")),
                    )
                )
            ).all()
        return [(pid, dev) for pid, dev in rows if dev]

    async def data_plane(self, host: str) -> str | None:
        async with self.db.session() as s:
            agent = await s.scalar(select(nm.Agent).where(nm.Agent.host == host))
        if agent is None or not self.network.agents.alive(agent):
            return None
        driver = (agent.configurations or {}).get("driver")
        return str(driver) if driver else None

    # -- security groups and floating IPs -------------------------------------------------

    async def security_group_id(self, project_id: str, name_or_id: str) -> str:
        await self.network.groups.ensure_default(project_id)
        async with self.db.session() as s:
            found = (
                await s.scalars(
                    select(nm.SecurityGroup.id).where(
                        nm.SecurityGroup.project_id == project_id,
                        (nm.SecurityGroup.id == name_or_id) | (nm.SecurityGroup.name == name_or_id),
                    )
                )
            ).all()
        if not found:
            raise NotFound(f"Security group {name_or_id} not found for project {project_id}.")
        if len(found) > 1:
            raise Conflict(f"Multiple security groups found matching '{name_or_id}'.")
        return found[0]

    async def set_security_groups(
        self, project_id: str, port_id: str, add: str | None, remove: str | None
    ) -> None:
        async with self.db.session() as s:
            current = list(
                (
                    await s.scalars(
                        select(nm.PortSecurityGroup.security_group_id).where(
                            nm.PortSecurityGroup.port_id == port_id
                        )
                    )
                ).all()
            )
        wanted = list(current)
        if add is not None and add not in wanted:
            wanted.append(add)
        if remove is not None and remove in wanted:
            wanted.remove(remove)
        if wanted != current:
            async with translated():
                await self.network.ports.update(ADMIN, port_id, {"security_groups": wanted}, None)

    async def _floating(self, s: AsyncSession, project_id: str, address: str) -> nm.FloatingIP:
        fip = await s.scalar(
            select(nm.FloatingIP).where(nm.FloatingIP.floating_ip_address == address)
        )
        if fip is None or fip.project_id != project_id:
            raise NotFound(f"floating IP not found for address {address}")
        return fip

    async def associate_floating_ip(
        self, project_id: str, address: str, port_id: str, fixed_address: str | None
    ) -> None:
        async with self.db.session() as s:
            fip = await self._floating(s, project_id, address)
        attrs: dict[str, Any] = {"port_id": port_id}
        if fixed_address:
            attrs["fixed_ip_address"] = fixed_address
        async with translated():
            try:
                await self.network.floatingips.update(ADMIN, fip.id, attrs, None)
            except NeutronError as exc:
                if exc.status == 404:  # no router from the port's subnet to the external network
                    raise BadRequest(
                        f"Unable to associate floating IP {address} to fixed IP: {exc.message}"
                    ) from exc
                raise

    async def disassociate_floating_ip(
        self, project_id: str, address: str, port_ids: list[str]
    ) -> None:
        async with self.db.session() as s:
            fip = await self._floating(s, project_id, address)
        if fip.fixed_port_id is None or fip.fixed_port_id not in port_ids:
            raise Conflict(f"Floating IP {address} is not associated with this instance.")
        async with translated():
            await self.network.floatingips.update(ADMIN, fip.id, {"port_id": None}, None)


async def _read_ports(s: AsyncSession, port_ids: list[str]) -> dict[str, VifPort]:
    rows = (await s.scalars(select(nm.Port).where(nm.Port.id.in_(port_ids)))).all()
    if not rows:
        return {}
    ids = [p.id for p in rows]
    allocs = (
        await s.execute(
            select(nm.IPAllocation.port_id, nm.IPAllocation.ip_address, nm.Subnet)
            .join(nm.Subnet, nm.Subnet.id == nm.IPAllocation.subnet_id)
            .where(nm.IPAllocation.port_id.in_(ids))
        )
    ).all()
    nets = {
        n.id: n
        for n in await s.scalars(
            select(nm.Network).where(nm.Network.id.in_({p.network_id for p in rows}))
        )
    }
    fips = (
        await s.execute(
            select(nm.FloatingIP.fixed_port_id, nm.FloatingIP.floating_ip_address).where(
                nm.FloatingIP.fixed_port_id.in_(ids)
            )
        )
    ).all()
    groups = (
        await s.execute(
            select(nm.PortSecurityGroup.port_id, nm.SecurityGroup.name)
            .join(nm.SecurityGroup, nm.SecurityGroup.id == nm.PortSecurityGroup.security_group_id)
            .where(nm.PortSecurityGroup.port_id.in_(ids))
        )
    ).all()
    out: dict[str, VifPort] = {}
    for p in rows:
        mine = [(ip, sub) for pid, ip, sub in allocs if pid == p.id]
        net = nets.get(p.network_id)
        out[p.id] = VifPort(
            id=p.id,
            network_id=p.network_id,
            network_name=net.name if net else "",
            mac_address=p.mac_address,
            status=p.status,
            device_id=p.device_id,
            device_owner=p.device_owner,
            host=p.binding_host,
            mtu=net.mtu if net else 1500,
            fixed_ips=tuple(FixedIP(ip, sub.id, sub.ip_version) for ip, sub in mine),
            floating_ips=tuple(sorted(a for pid, a in fips if pid == p.id)),
            security_groups=tuple(sorted({n for pid, n in groups if pid == p.id})),
            subnets={
                sub.id: {
                    "cidr": sub.cidr,
                    "gateway_ip": sub.gateway_ip,
                    "ip_version": sub.ip_version,
                    "dns_nameservers": list(sub.dns_nameservers or []),
                }
                for _ip, sub in mine
            },
        )
    return out
