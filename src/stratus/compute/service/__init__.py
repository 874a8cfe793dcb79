"""The compute service layer: one facade over its parts."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from sqlalchemy import select

from stratus.common.config import Config
from stratus.common.context import RequestContext
from stratus.common.db import Database
from stratus.common.service_auth import service_session
from stratus.compute import models as m
from stratus.compute.drivers.base import Capability, Diagnostics, DriverError
from stratus.compute.errors import Conflict
from stratus.compute.service.actions import Actions
from stratus.compute.service.aggregates import Aggregates
from stratus.compute.service.consoles import Consoles, ConsoleTarget
from stratus.compute.service.external_events import ServerEvents
from stratus.compute.service.flavors import Flavors
from stratus.compute.service.groups import Groups
from stratus.compute.service.hosts import Hosts
from stratus.compute.service.image_proxy import ImageProxy
from stratus.compute.service.image_records import ImageRecords
from stratus.compute.service.images import ImageClient
from stratus.compute.service.interfaces import Interfaces
from stratus.compute.service.keypairs import KeyPairs
from stratus.compute.service.live import LiveMigrations
from stratus.compute.service.moves import Moves
from stratus.compute.service.network import VifPort
from stratus.compute.service.nics import make_nics
from stratus.compute.service.quotas import Quotas
from stratus.compute.service.rescue import Rescues
from stratus.compute.service.scheduler import Scheduler
from stratus.compute.service.server_actions import ServerActions
from stratus.compute.service.servers import Servers
from stratus.compute.service.shelved import ShelvedServers
from stratus.compute.service.snapshots import ServerImages
from stratus.compute.service.usage import Usages
from stratus.compute.service.volumes import ServerVolumes

log = logging.getLogger(__name__)

SCHEDULER_POLL = 5.0


class LocalAgent(Protocol):
    """A compute agent running in this process (``agent.ComputeAgent``)."""

    def wake(self) -> None: ...

    async def stop(self) -> None: ...

    async def console_output(self, server_id: str, length: int | None) -> str: ...

    async def diagnostics(self, server_id: str) -> Diagnostics: ...

    async def trigger_crash_dump(self, server_id: str) -> None: ...


class ComputeService:
    def __init__(self, cfg: Config, db: Database, image_url: str, network: Any = None):
        self.cfg = cfg
        self.db = db
        self.quotas = Quotas(db, cfg.compute)
        self.flavors = Flavors(db)
        self.keypairs = KeyPairs(db, self.quotas)
        session = service_session(cfg)
        self.images = ImageClient(image_url, session=session)
        self.image_proxy = ImageProxy(self.images)
        self.actions = Actions(db)
        self.groups = Groups(db, self.quotas)
        self.scheduler = Scheduler(db, cfg.compute, self.wake_host)
        # The network service's ports of servers (nics.client None: no network service).
        self.nics = make_nics(cfg, db, network)
        volumes = ServerVolumes(db, self.wake)  # its client: set_volume_client
        self.server_volumes = volumes
        self.servers = Servers(
            db, self.flavors, self.keypairs, self.quotas, self.images, self.wake, self.nics,
            volumes.plan_boot,
        )  # fmt: skip
        self.hosts = Hosts(db, self.scheduler)
        self.aggregates = Aggregates(db)  # os-aggregates: the hosts' zones
        self.usages = Usages(db)  # os-simple-tenant-usage
        self.interfaces = Interfaces(db, self.nics, self.wake, self._local_agent)
        self.events = ServerEvents(db, self.wake)  # os-server-external-events
        # Snapshots, backups, shelve and rescue write images as the service user.
        self.image_records = ImageRecords(image_url, session)
        self.server_images = ServerImages(
            db, cfg.compute, self.quotas, self.image_records, self.wake, volumes
        )
        # Offloaded servers to place on a host, shelved ones whose time is up.
        self.shelved = ShelvedServers(db, cfg.compute, self.scheduler, self.actions, self.wake)
        self.rescues = Rescues(self.server_images, self.images, volumes)
        self.server_actions = ServerActions(self.servers, self.images, self.server_images)
        self.moves = Moves(
            db, cfg.compute, self.scheduler, self.flavors, self.wake, volumes, self.quotas
        )
        self._peers: Any = None  # a ChannelClient, made when first needed
        self._wakes: set[asyncio.Task[None]] = set()
        self.live = LiveMigrations(db, self.scheduler, self.wake, volumes)
        self.consoles = Consoles(db)
        self.agents: dict[str, LocalAgent] = {}  # host -> the agent running in this process
        self._schedule = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        # Set in an API worker process: wake-ups go to the primary's scheduler
        # and agents (stratus.workers).
        self.forward_wake: Callable[[str | None], None] | None = None

    def _local_agent(self, host: str) -> bool:
        """Whether ``host``'s agent runs in this process (it rings FINISHED here)."""
        return self.forward_wake is None and host in self.agents

    def wake(self, host: str | None) -> None:
        if self.forward_wake is not None:  # an API worker: the primary acts
            self.forward_wake(host)
            return
        if host is None:
            self._schedule.set()
        else:
            self.wake_host(host)

    def wake_host(self, host: str) -> None:
        agent = self.agents.get(host)
        if agent is not None:
            agent.wake()
        else:
            # An agent of its own process: a wake-up over its channel saves
            # it waiting for its next poll.
            task = asyncio.create_task(self._wake_remote(host), name=f"wake-{host}")
            self._wakes.add(task)
            task.add_done_callback(self._wakes.discard)

    async def _wake_remote(self, host: str) -> None:
        try:
            async with self.db.session() as s:
                url = await s.scalar(
                    select(m.ComputeHost.agent_url).where(m.ComputeHost.host == host)
                )
            if url:
                await self._channel().wake(url)
        except Exception as exc:  # it polls anyway
            log.debug("compute: could not wake the agent of %s: %s", host, exc)

    def _channel(self) -> Any:
        if self._peers is None:
            from stratus.common.service_auth import service_session
            from stratus.compute.agent.channel_client import ChannelClient

            self._peers = ChannelClient(service_session(self.cfg))
        return self._peers

    async def start(self) -> None:
        await self.server_volumes.recover()
        self._task = asyncio.create_task(self._scheduler_loop(), name="compute-scheduler")

    async def _scheduler_loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._schedule.wait(), SCHEDULER_POLL)
            self._schedule.clear()
            try:
                await self.scheduler.schedule_pending()
                await self.shelved.periodic()
            except Exception:
                log.exception("compute: scheduling failed; retrying")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for agent in self.agents.values():
            await agent.stop()
        await self.images.close()
        await self.image_records.close()
        await self.image_records.session.close()
        if self._peers is not None:
            await self._peers.close()

    async def delete_server(self, ctx: RequestContext, server: m.Server) -> None:
        """Delete (or force-delete) a server; one never placed on a host has
        its volumes released here, as no agent will."""
        await self.server_actions.delete(ctx, server)
        if server.host is None:
            await self.server_volumes.release_unplaced(server.id)

    async def metadata_of(self, server_id: str) -> tuple[m.Server, list[VifPort]] | None:
        """A live server and its ports, for the metadata server (its callers
        are guests naming a signed instance id, not users with a token)."""
        async with self.db.session() as s:
            server = await s.get(m.Server, server_id)
        if server is None or server.deleted_at is not None:
            return None
        return server, (await self.nics.ports_of([server.id])).get(server.id, [])

    async def console_output(self, server: m.Server, length: int | None) -> str:
        """The last ``length`` lines of the guest's serial console (all: None)."""
        if server.vm_state == m.BUILDING or server.host is None:
            raise Conflict(f"Instance {server.id} is not ready yet.")
        async with self.db.session() as s:
            await Servers.check_capability(s, server, Capability.CONSOLE_LOG, "os-getConsoleOutput")
        return await self._on_host(  # type: ignore[no-any-return]
            server,
            "console",
            lambda agent: agent.console_output(server.id, length),
            lambda peers, url: peers.console(url, server.id, length),
        )

    async def diagnostics(self, server: m.Server) -> Diagnostics:
        """What the driver of the server's host reports of its running guest."""
        if server.vm_state not in (m.ACTIVE, m.PAUSED) or server.host is None:
            raise Conflict(
                f"Cannot 'get_diagnostics' instance {server.id} while it is in vm_state "
                f"{server.vm_state}"
            )
        return await self._on_host(  # type: ignore[no-any-return]
            server,
            "diagnostics",
            lambda agent: agent.diagnostics(server.id),
            lambda peers, url: peers.diagnostics(url, server.id),
        )

    async def trigger_crash_dump(self, ctx: RequestContext, server: m.Server) -> None:
        """A non-maskable interrupt into the running guest (Nova's
        trigger_crash_dump): the guest's kernel decides what to do with it."""
        Servers.check_lock(ctx, server)
        if server.vm_state != m.ACTIVE or server.task_state is not None or server.host is None:
            state = f"task_state {server.task_state}" if server.task_state else (
                f"vm_state {server.vm_state}"
            )
            raise Conflict(
                f"Cannot 'trigger_crash_dump' instance {server.id} while it is in {state}"
            )
        await self._on_host(
            server,
            "NMI",
            lambda agent: agent.trigger_crash_dump(server.id),
            lambda peers, url: peers.trigger_crash_dump(url, server.id),
        )

    async def open_serial(self, target: ConsoleTarget) -> Any:
        """A websocket to the serial console of ``target`` (the agent channel of
        its host, which every agent runs, the all-in-one's too)."""
        return await self._channel().open_serial(target.agent_url, target.server_id)

    async def _on_host(
        self,
        server: m.Server,
        what: str,
        local: Callable[[LocalAgent], Awaitable[Any]],
        remote: Callable[[Any, str], Awaitable[Any]],
    ) -> Any:
        """Ask the driver of the server's host: through the agent running in
        this process, or over the agent channel of one running apart.  The
        driver's refusal (the guest is not running, ...) is a 409."""
        from stratus.compute.agent.channel_wire import ChannelError

        agent = self.agents.get(server.host or "")
        if agent is not None:
            try:
                return await local(agent)
            except DriverError as exc:
                raise Conflict(f"The {what} of instance {server.id} is not available: {exc}") from exc
        async with self.db.session() as s:
            url = await s.scalar(
                select(m.ComputeHost.agent_url).where(m.ComputeHost.host == server.host)
            )
        if not url:
            raise Conflict(
                f"The {what} of instance {server.id} is not reachable: host {server.host} "
                "has no agent channel."
            )
        try:
            return await remote(self._channel(), url)
        except ChannelError as exc:
            raise Conflict(f"The {what} of instance {server.id} is not reachable: {exc}") from exc
