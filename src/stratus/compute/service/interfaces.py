"""A server's network interfaces after it was made: os-interface (list,
show, attach, detach: what ``server add/remove port|network`` use), and the
legacy actions on its ports' security groups and floating IPs.

Attach makes (or takes) the port and records it on the server, then asks the
agent to hot-plug it (task ``interface_attaching``); detach marks the port
``detaching`` and asks the agent to unplug and release it.  Both wait for
the agent, as Nova's calls do, and answer when the guest has (or has lost)
the NIC."""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy import func, select

from stratus.common.context import RequestContext
from stratus.common.db import Database
from stratus.compute import models as m
from stratus.compute.drivers.base import Capability
from stratus.compute.errors import BadRequest, Conflict, NotFound
from stratus.compute.service.actions import FINISHED, start_action
from stratus.compute.service.network import NetworkClient, NicRequest, VifPort
from stratus.compute.service.nics import ServerNics, zone_of
from stratus.compute.service.servers import Servers, visible_server

ATTACHING, DETACHING = "interface_attaching", "interface_detaching"
PLUG_WAIT = 120.0  # seconds an attach or detach waits for the agent
POLL = 0.02  # how often the outcome is read when the host's agent runs elsewhere
LOCAL_POLL = 0.5  # ... and when it runs in this process: it rings (FINISHED)
PLUGGABLE = frozenset({m.ACTIVE, m.PAUSED, m.STOPPED, m.SUSPENDED})


class Interfaces:
    def __init__(
        self,
        db: Database,
        nics: ServerNics,
        wake: Callable[[str | None], None],
        local: Callable[[str], bool] = lambda host: False,
    ):
        self.db = db
        self.nics = nics
        self.wake = wake
        self.local = local  # whether a host's agent runs in this process

    def _client(self) -> NetworkClient:
        if self.nics.client is None:
            raise BadRequest("Network interfaces need the network service, which is turned off.")
        return self.nics.client

    async def ports(self, server: m.Server) -> list[VifPort]:
        self._client()
        return (await self.nics.ports_of([server.id])).get(server.id, [])

    async def port(self, server: m.Server, port_id: str) -> VifPort:
        for port in await self.ports(server):
            if port.id == port_id:
                return port
        raise NotFound(f"Port {port_id} could not be found.")

    # -- attach and detach ----------------------------------------------------------------

    async def _check(self, server: m.Server, verb: str) -> None:
        if server.task_state is not None:
            raise Conflict(
                f"Cannot '{verb}' instance {server.id} while it is in task_state {server.task_state}"
            )
        if server.vm_state not in PLUGGABLE or server.host is None:
            raise Conflict(
                f"Cannot '{verb}' instance {server.id} while it is in vm_state {server.vm_state}"
            )

    async def attach(self, ctx: RequestContext, server: m.Server, nic: NicRequest) -> VifPort:
        client = self._client()
        Servers.check_lock(ctx, server)
        await self._check(server, "attach_interface")
        async with self.db.session() as s:
            await Servers.check_capability(
                s, server, Capability.INTERFACE_HOTPLUG, "attach_interface"
            )
        port, preserve = await _port_for(client, ctx, server, nic)
        try:
            await self._record_attach(ctx, server, port, preserve, nic.tag)
        except Exception:
            if preserve:
                await client.unbind_port(port.id)
            else:
                await client.delete_port(port.id)
            raise
        self.wake(server.host)
        try:
            await self._wait(server, ctx.request_id, "attach_interface")
        except Conflict:
            rows = [r for r in await self.nics.rows([server.id]) if r.port_id == port.id]
            for row in rows:  # not plugged: the port goes back as it came
                await self.nics.release_one(row)
            raise
        return (await client.ports([port.id])).get(port.id, port)

    async def _record_attach(
        self,
        ctx: RequestContext,
        server: m.Server,
        port: VifPort,
        preserve: bool,
        tag: str | None,
    ) -> None:
        """The port as the server's last NIC, and the task for its agent."""
        async with self.db.transaction() as s:
            current = await visible_server(s, ctx, server.id)
            await self._check(current, "attach_interface")
            last = await s.scalar(
                select(func.max(m.ServerPort.position)).where(m.ServerPort.server_id == server.id)
            )
            s.add(
                m.ServerPort(
                    server_id=server.id,
                    port_id=port.id,
                    network_id=port.network_id,
                    position=(last if last is not None else -1) + 1,
                    preserve_on_delete=preserve,
                    tag=tag,
                )
            )
            current.task_state = ATTACHING
            current.generation += 1
            start_action(
                s, server.id, "attach_interface", ctx.request_id, ctx.user_id, ctx.project_id
            )

    async def detach(self, ctx: RequestContext, server: m.Server, port_id: str) -> None:
        self._client()
        Servers.check_lock(ctx, server)
        await self._check(server, "detach_interface")
        async with self.db.transaction() as s:
            await Servers.check_capability(
                s, server, Capability.INTERFACE_HOTPLUG, "detach_interface"
            )
            current = await visible_server(s, ctx, server.id)
            await self._check(current, "detach_interface")
            row = await s.get(m.ServerPort, (server.id, port_id))
            if row is None:
                raise NotFound(f"Port {port_id} is not attached")
            row.state = m.PORT_DETACHING
            current.task_state = DETACHING
            current.generation += 1
            start_action(
                s, server.id, "detach_interface", ctx.request_id, ctx.user_id, ctx.project_id
            )
        self.wake(server.host)
        await self._wait(server, ctx.request_id, "detach_interface")

    async def _wait(self, server: m.Server, request_id: str, verb: str) -> None:
        """Until the agent has done the task; its Error event is the answer.
        An agent of this process rings when it records the outcome, so the
        database is read often only for one elsewhere (each read competes
        with the agent's own writes)."""
        server_id = server.id
        poll = LOCAL_POLL if server.host and self.local(server.host) else POLL
        deadline = time.monotonic() + PLUG_WAIT
        with FINISHED.listening(server_id) as bell:
            while (left := deadline - time.monotonic()) > 0:
                if await self._done(server_id, request_id, verb):
                    return
                await bell.wait(min(poll, left))
        raise Conflict(
            f"The host of instance {server_id} did not {verb.replace('_', ' ')} in time."
        )

    async def _done(self, server_id: str, request_id: str, verb: str) -> bool:
        async with self.db.session() as s:
            task = await s.scalar(select(m.Server.task_state).where(m.Server.id == server_id))
            if task in (ATTACHING, DETACHING):
                return False
            failed = await s.scalar(
                select(m.InstanceActionEvent.details)
                .join(m.InstanceAction, m.InstanceAction.id == m.InstanceActionEvent.action_id)
                .where(
                    m.InstanceAction.server_id == server_id,
                    m.InstanceAction.request_id == request_id,
                    m.InstanceActionEvent.result == "Error",
                )
            )
        if failed is not None:
            raise Conflict(f"Failed to {verb.replace('_', ' ')}: {failed}")
        return True

    # -- security groups and floating IPs ---------------------------------------------------

    async def add_security_group(self, ctx: RequestContext, server: m.Server, name: str) -> None:
        client = self._client()
        group = await client.security_group_id(server.project_id, name)
        ports = await self.ports(server)
        if not ports:
            raise BadRequest(
                f"Instance {server.id} has no network ports for security group {name}."
            )
        if all(name in p.security_groups or group in p.security_groups for p in ports):
            raise BadRequest(
                f"Security group {name} is already associated with the instance {server.id}"
            )
        for port in ports:
            await client.set_security_groups(server.project_id, port.id, group, None)

    async def remove_security_group(self, ctx: RequestContext, server: m.Server, name: str) -> None:
        client = self._client()
        group = await client.security_group_id(server.project_id, name)
        ports = await self.ports(server)
        holding = [p for p in ports if name in p.security_groups or group in p.security_groups]
        if not holding:
            raise BadRequest(f"Security group {name} not associated with the instance {server.id}")
        for port in holding:
            await client.set_security_groups(server.project_id, port.id, None, group)

    async def add_floating_ip(
        self, ctx: RequestContext, server: m.Server, address: str, fixed: str | None
    ) -> None:
        client = self._client()
        ports = await self.ports(server)
        if not ports:
            raise BadRequest(f"No nw_info cache associated with instance {server.id}")
        chosen = None
        for port in ports:
            ips = [f.ip_address for f in port.fixed_ips]
            if (
                fixed is not None
                and fixed in ips
                or fixed is None
                and any(f.version == 4 for f in port.fixed_ips)
            ):
                chosen = port
                break
        if chosen is None:
            if fixed is not None:
                raise BadRequest("Specified fixed address not assigned to instance")
            raise BadRequest(f"Instance {server.id} has no fixed IPv4 address to associate.")
        await client.associate_floating_ip(server.project_id, address, chosen.id, fixed)

    async def remove_floating_ip(self, ctx: RequestContext, server: m.Server, address: str) -> None:
        client = self._client()
        ports = await self.ports(server)
        await client.disassociate_floating_ip(server.project_id, address, [p.id for p in ports])


async def _port_for(
    client: NetworkClient, ctx: RequestContext, server: m.Server, nic: NicRequest
) -> tuple[VifPort, bool]:
    """The port an attach plugs, and whether it outlives the server: the
    one the request names, bound to the server, or one made on the network
    it names (or the one it would get)."""
    mode = "list" if (nic.network_id or nic.port_id) else "auto"
    found = await client.nics_for(server.project_id, ctx.is_admin, mode, [nic])
    if not found:
        raise BadRequest("No network to attach the interface to was found.")
    checked = found[0]
    if checked.port_id:
        port = await client.bind_port(
            server.project_id, checked.port_id, server.id, zone_of(server), server.host
        )
        return port, True
    # Bound at once: the host's network agent makes the tap while the attach
    # is recorded and the compute agent woken.
    port = await client.create_port(
        server.project_id, server.id, zone_of(server), checked, [], server.host
    )
    return port, False
