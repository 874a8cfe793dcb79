"""The compute agent of one host: a reconcile loop that makes each server
assigned to this host what the database says it should be, through the
driver, and records the outcome.

It wakes when told (an in-process event in the all-in-one) and also polls,
so a missed wake-up only delays work.  Work is idempotent, so an agent that
died mid-task finishes it when it starts again; running guests survive the
agent and are adopted at start."""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import logging
import socket
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from sqlalchemy import select, update

from stratus.common import logs, metrics
from stratus.common.db import Database, utcnow
from stratus.compute import models as m
from stratus.compute.agent import moves
from stratus.compute.agent.channel import ChannelClient, ChannelServer
from stratus.compute.agent.images import ImageCache
from stratus.compute.agent.live import LiveMigrations
from stratus.compute.agent.snapshots import ServerImageWork
from stratus.compute.drivers.base import Driver, GuestSpec, PortForward, Power
from stratus.compute.service.actions import Actions

log = logging.getLogger(__name__)

POLL_INTERVAL = 2.0
MAX_BOOTS_AT_ONCE = 2  # booting is CPU-bound on these machines

POWER = {
    Power.NOSTATE: m.NOSTATE,
    Power.RUNNING: m.RUNNING,
    Power.PAUSED: m.POWER_PAUSED,
    Power.SHUTDOWN: m.SHUTDOWN,
    Power.CRASHED: m.CRASHED,
    Power.SUSPENDED: m.POWER_SUSPENDED,
}

ConfigDriveWriter = Callable[..., None]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ComputeAgent:
    def __init__(
        self,
        db: Database,
        *,
        host: str,
        driver: Driver,
        images: ImageCache,
        instances: Path,
        actions: Actions,
        sync_interval: float,
        shutdown_timeout: float,
        availability_zone: str = "nova",
        config_drive: ConfigDriveWriter | None = None,
    ):
        self.db = db
        self.host = host
        self.driver = driver
        self.images = images
        self.instances = instances
        self.instances.mkdir(parents=True, exist_ok=True)
        self.actions = actions
        self.sync_interval = sync_interval
        self.shutdown_timeout = shutdown_timeout
        self.availability_zone = availability_zone
        self.config_drive = config_drive
        self.wakeup = asyncio.Event()
        self.busy: dict[str, asyncio.Task[None]] = {}
        self.boots = asyncio.Semaphore(MAX_BOOTS_AT_ONCE)
        self._task: asyncio.Task[None] | None = None
        self.image_work = ServerImageWork(self)  # snapshots, backups, shelve, rescue
        # The agent channel (disks between hosts, console output); see channel.py.
        self.channel: ChannelServer | None = None
        self.peers: ChannelClient | None = None
        self.url: str | None = None
        self.live = LiveMigrations(self)
        self.name = f"compute-agent-{host}"  # the metrics' agent label

    def wake(self) -> None:
        self.wakeup.set()
        self.live.wake()

    # -- life ------------------------------------------------------------------------------

    async def start(self) -> None:
        if self.channel is not None:
            self.url = await self.channel.start()
        await self.register()
        self._sweep_snapshots()
        moves.write_host_marker(self)
        await moves.clean_evacuated(self)
        await self.sync_power(adopt=True)
        self._task = asyncio.create_task(self._run(), name=self.name)
        self.live.start()
        self.wake()

    def _sweep_snapshots(self) -> None:
        """Snapshot disks a crash left in the servers' folders: no snapshot
        runs before the loop starts, and one still wanted is taken again."""
        for path in self.instances.glob("*/snapshot-*.qcow2"):
            path.unlink(missing_ok=True)
            log.warning("compute: removed %s, left by an interrupted snapshot", path)

    async def stop(self) -> None:
        await self.live.stop()
        tasks = [t for t in [self._task, *self.busy.values()] if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self.image_work.close()
        if self.channel is not None:
            await self.channel.stop()
        if self.peers is not None:
            await self.peers.close()

    async def register(self) -> None:
        info = await self.driver.host_info()
        async with self.db.transaction() as s:
            row = await s.scalar(select(m.ComputeHost).where(m.ComputeHost.host == self.host))
            if row is None:
                row = m.ComputeHost(host=self.host, availability_zone=self.availability_zone)
                s.add(row)
            row.hypervisor_type = info.hypervisor_type
            row.hypervisor_version = info.hypervisor_version
            row.driver = self.driver.name
            row.capabilities = sorted(self.driver.capabilities)
            row.accelerator = info.accelerator
            row.vcpus, row.memory_mb, row.local_gb = info.vcpus, info.memory_mb, info.disk_gb
            row.cpu_info = info.cpu_info
            row.agent_url = self.url
            row.heartbeat = utcnow()
        log.info(
            "compute: host %s up (%s, %s, %d vCPU, %d MiB)",
            self.host,
            self.driver.name,
            info.accelerator,
            info.vcpus,
            info.memory_mb,
        )

    async def heartbeat(self) -> None:
        async with self.db.transaction() as s:
            await s.execute(
                update(m.ComputeHost)
                .where(m.ComputeHost.host == self.host)
                .values(heartbeat=utcnow())
            )

    async def _run(self) -> None:
        last_sync = last_beat = time.monotonic()
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wakeup.wait(), POLL_INTERVAL)
            self.wakeup.clear()
            now = time.monotonic()
            try:
                if now - last_beat >= min(self.sync_interval, 10.0):
                    await self.heartbeat()
                    last_beat = now
                await self.dispatch()
                if now - last_sync >= self.sync_interval:
                    await self.sync_power()
                    last_sync = now
            except Exception:
                metrics.AGENT_LOOP_ERRORS.labels(self.name).inc()
                log.exception("compute: agent %s loop failed; retrying", self.host)
            finally:
                metrics.AGENT_LOOP.labels(self.name).observe(time.monotonic() - now)

    # -- work -------------------------------------------------------------------------------

    async def dispatch(self) -> None:
        async with self.db.session() as s:
            rows = (
                await s.execute(
                    select(m.Server.id, m.Server.task_state).where(
                        m.Server.host == self.host,
                        m.Server.deleted_at.is_(None),
                        m.Server.task_state.is_not(None),
                    )
                )
            ).all()
        for server_id, task_state in rows:
            # A live migration is driven by self.live, not by a handler here.
            if server_id in self.busy or task_state in ("scheduling", "migrating"):
                continue
            task = asyncio.create_task(self._work(server_id), name=f"compute-{server_id}")
            self.busy[server_id] = task

    async def _load(self, server_id: str) -> m.Server | None:
        async with self.db.session() as s:
            return await s.get(m.Server, server_id)

    async def _finish(self, server: m.Server, **values: Any) -> bool:
        """Record an outcome unless a newer request came meanwhile."""
        values.setdefault("task_state", None)
        async with self.db.transaction() as s:
            result = await s.execute(
                update(m.Server)
                .where(m.Server.id == server.id, m.Server.generation == server.generation)
                .values(updated_at=utcnow(), **values)
            )
        return bool(getattr(result, "rowcount", 0))

    async def _work(self, server_id: str) -> None:
        started = time.monotonic()
        try:
            server = await self._load(server_id)
            if server is None or server.host != self.host or server.task_state is None:
                return
            handler = self._handlers().get(server.task_state)
            if handler is None:
                return
            # This task's log lines carry the id of the request that asked.
            logs.bind_request_id(await self.actions.request_id(server.id))
            event = f"compute_{server.task_state.replace('-', '_')}"
            try:
                await handler(server)
                log.info(
                    "compute: server %s: %s done in %.2f s",
                    server.id,
                    server.task_state,
                    time.monotonic() - started,
                )
                await self.actions.event(server.id, event, self.host, "Success")
            except Exception as exc:
                metrics.AGENT_WORK_ERRORS.labels(self.name).inc()
                message = str(exc) or type(exc).__name__
                log.warning(
                    "compute: server %s: %s failed: %s", server.id, server.task_state, message
                )
                fault = {
                    "code": 500,
                    "message": message[:255],
                    "details": message,
                    "created": utcnow().strftime("%Y-%m-%dT%H:%M:%SZ"),
                }
                if server.task_state in ("spawning", "rebuilding"):
                    await self._finish(server, vm_state=m.ERROR, fault=fault)
                elif server.task_state == "deleting":
                    await self._finish(server, task_state="deleting", fault=fault)
                else:
                    await self._finish(server, fault=fault)
                await self.actions.event(server.id, event, self.host, "Error", message)
        finally:
            metrics.AGENT_WORK.labels(self.name).observe(time.monotonic() - started)
            self.busy.pop(server_id, None)
            self.wake()  # a request may have come while this one ran

    def _handlers(self) -> dict[str, Callable[[m.Server], Awaitable[None]]]:
        return {
            "spawning": self._spawn,
            "rebuilding": self._rebuild,
            "powering-off": self._stop,
            "powering-on": self._start,
            "reboot_started": self._reboot_soft,
            "reboot_started_hard": self._reboot_hard,
            "pausing": self._pause,
            "unpausing": self._unpause,
            "suspending": self._suspend,
            "resuming": self._resume,
            "deleting": self._delete,
            **self.image_work.handlers(),
            **moves.handlers(self),
        }

    def directory(self, server: m.Server) -> Path:
        return self.instances / server.id

    async def spec(self, server: m.Server, image_id: str | None = None) -> GuestSpec:
        """The guest as the driver needs it; ``image_id`` overrides the base
        image of a new disk (unshelving spawns from the shelved image)."""
        cached = await self.images.ensure(image_id or server.image_ref)
        forwards: tuple[PortForward, ...] = ()
        if server.networks != "none" and server.host_port:
            forwards = (PortForward(server.host_port, 22),)
        directory = self.directory(server)
        drive = directory / "config.iso"
        return GuestSpec(
            uuid=server.id,
            name=server.name,
            vcpus=int(server.flavor["vcpus"]),
            memory_mb=int(server.flavor["ram"]),
            root_gb=max(int(server.flavor["disk"]), 1),
            base_image=cached.path,
            base_format=cached.disk_format,
            directory=directory,
            config_drive=drive if drive.exists() else None,
            forwards=forwards,
        )

    async def _write_config_drive(self, server: m.Server) -> None:
        if self.config_drive is None:
            return
        user_data = None
        if server.user_data:
            try:
                user_data = base64.b64decode(server.user_data)
            except (binascii.Error, ValueError):
                user_data = server.user_data.encode()
        keys = {server.key_name: server.key_data} if server.key_name and server.key_data else {}
        meta = {
            "uuid": server.id,
            "name": server.name,
            "hostname": server.hostname,
            "launch_index": 0,
            "availability_zone": server.availability_zone,
            "project_id": server.project_id,
            "public_keys": keys,
            "keys": [{"name": k, "type": "ssh", "data": v} for k, v in keys.items()],
            "meta": dict(server.metadata_),
            "devices": [],
        }
        network = {
            "links": [
                {
                    "id": "eth0",
                    "type": "phy",
                    "ethernet_mac_address": "52:54:00:12:34:56",
                    "mtu": 1500,
                }
            ],
            "networks": [
                {"id": "network0", "type": "ipv4_dhcp", "link": "eth0", "network_id": "user"}
            ],
            "services": [],
        }
        path = self.directory(server) / "config.iso"
        await asyncio.to_thread(
            self.config_drive, path, meta_data=meta, user_data=user_data, network_data=network
        )

    async def _spawn(self, server: m.Server) -> None:
        self.directory(server).mkdir(parents=True, exist_ok=True)
        if server.host_port is None and server.networks != "none":
            server.host_port = free_port()
            async with self.db.transaction() as s:
                await s.execute(
                    update(m.Server)
                    .where(m.Server.id == server.id)
                    .values(host_port=server.host_port)
                )
        await self._write_config_drive(server)
        spec = await self.spec(server)
        async with self.boots:
            status = await self.driver.spawn(spec)
        if not await self._finish(
            server,
            vm_state=m.ACTIVE,
            power_state=POWER[status.power],
            launched_at=utcnow(),
            progress=100,
        ):
            log.info(
                "compute: server %s changed while it was built; the next step follows", server.id
            )

    async def _rebuild(self, server: m.Server) -> None:
        await self.driver.destroy(server.id, self.directory(server))
        await self._spawn(server)

    async def _stop(self, server: m.Server) -> None:
        await self.driver.stop(server.id, self.shutdown_timeout)
        await self._finish(server, vm_state=m.STOPPED, power_state=m.SHUTDOWN)

    async def _start(self, server: m.Server) -> None:
        async with self.boots:
            status = await self.driver.start(await self.spec(server))
        await self._finish(server, vm_state=m.ACTIVE, power_state=POWER[status.power])

    async def _reboot_soft(self, server: m.Server) -> None:
        async with self.boots:
            status = await self.driver.reboot(await self.spec(server), False, self.shutdown_timeout)
        await self._finish(server, vm_state=m.ACTIVE, power_state=POWER[status.power])

    async def _reboot_hard(self, server: m.Server) -> None:
        spec = await self.spec(server)
        current = await self.driver.status(server.id)
        async with self.boots:
            if current.power in (Power.RUNNING, Power.PAUSED):
                status = await self.driver.reboot(spec, True, self.shutdown_timeout)
            else:
                status = await self.driver.start(spec)
        await self._finish(server, vm_state=m.ACTIVE, power_state=POWER[status.power])

    async def _pause(self, server: m.Server) -> None:
        await self.driver.pause(server.id)
        await self._finish(server, vm_state=m.PAUSED, power_state=m.POWER_PAUSED)

    async def _unpause(self, server: m.Server) -> None:
        await self.driver.unpause(server.id)
        await self._finish(server, vm_state=m.ACTIVE, power_state=m.RUNNING)

    async def _suspend(self, server: m.Server) -> None:
        await self.driver.suspend(server.id)
        await self._finish(server, vm_state=m.SUSPENDED, power_state=m.POWER_SUSPENDED)

    async def _resume(self, server: m.Server) -> None:
        status = await self.driver.resume(await self.spec(server))
        await self._finish(server, vm_state=m.ACTIVE, power_state=POWER[status.power])

    async def _delete(self, server: m.Server) -> None:
        await self.driver.destroy(server.id, self.directory(server))
        if (server.system_metadata or {}).get("move"):
            await moves.forget_move(self, server)
        now = utcnow()
        await self._finish(
            server, vm_state=m.DELETED, power_state=m.NOSTATE, deleted_at=now, terminated_at=now
        )

    # -- power sync ----------------------------------------------------------------------------

    async def sync_power(self, adopt: bool = False) -> None:
        """Compare what the driver sees with the database: a guest that died
        is marked SHUTOFF; a guest nobody owns is reported."""
        guests = {g.uuid: g for g in await self.driver.guests()}
        async with self.db.session() as s:
            servers = (
                await s.scalars(
                    select(m.Server).where(
                        m.Server.host == self.host, m.Server.deleted_at.is_(None)
                    )
                )
            ).all()
        known = {srv.id for srv in servers}
        for uuid in guests.keys() - known - self.live.incoming():
            log.warning("compute: guest %s runs on host %s but no server owns it", uuid, self.host)
        for server in servers:
            if server.task_state is not None:
                continue
            seen = guests.get(server.id)
            power = seen.power if seen else Power.SHUTDOWN
            if server.vm_state in (m.ACTIVE, m.PAUSED) and power in (
                Power.SHUTDOWN,
                Power.NOSTATE,
                Power.CRASHED,
            ):
                log.info(
                    "compute: server %s stopped outside Stratus; marking it SHUTOFF", server.id
                )
                await self._finish(server, vm_state=m.STOPPED, power_state=m.SHUTDOWN)
            elif server.power_state != POWER[power] and server.vm_state not in (
                m.ERROR,
                m.BUILDING,
            ):
                await self._finish(server, power_state=POWER[power])
            elif adopt and seen is not None:
                log.info("compute: adopted running guest %s", server.id)

    async def console_output(self, server: m.Server, length: int | None) -> str:
        return await self.driver.console_output(server.id, self.directory(server), length)
