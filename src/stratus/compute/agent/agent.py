"""The compute agent of one host: a reconcile loop (``common/reconciler.py``)
that makes each server assigned to this host what the database says it
should be, through the driver, and records the outcome.

The agent is small: it registers the host, keeps its heartbeat, compares
what the driver sees with the database (power sync), and for each server of
this host with a task runs the step its workflow registered for that task
state.  The workflows (``power``, ``moves``, ``snapshots``, and ``live``,
which runs a loop of its own) are given the agent's parts (``workflow.py``):
the recorder, the only door to the database, and the guest builder.

It wakes when told (an in-process event in the all-in-one) and also polls,
so a missed wake-up only delays work.  Work is idempotent, so an agent that
died mid-task finishes it when it starts again; running guests survive the
agent and are adopted at start."""

from __future__ import annotations

import asyncio
import logging
import shutil
import time
from collections.abc import Iterable
from pathlib import Path
from uuid import UUID

from stratus.common import logs, metrics
from stratus.common.db import Database
from stratus.common.reconciler import Reconciler, Timing
from stratus.compute import models as m
from stratus.compute.agent.channel import ChannelServer
from stratus.compute.agent.channel_client import ChannelClient
from stratus.compute.agent.guests import POWER, ConfigDriveWriter, GuestBuilder, Images
from stratus.compute.agent.images import backed_images
from stratus.compute.agent.interfaces import InterfaceWorkflow
from stratus.compute.agent.live import LiveMigrations
from stratus.compute.agent.moves import MoveWorkflow
from stratus.compute.agent.nics import HostNics
from stratus.compute.agent.power import PowerWorkflow
from stratus.compute.agent.recorder import Recorder
from stratus.compute.agent.snapshots import ImageStore, ImageWorkflow
from stratus.compute.agent.volume_moves import VolumeMoves
from stratus.compute.agent.volumes import VolumeWorkflow
from stratus.compute.agent.workflow import AgentParts, Step, Workflow
from stratus.compute.drivers.base import Diagnostics, Driver, Power
from stratus.compute.service.nics import ServerNics

log = logging.getLogger(__name__)

POLL_INTERVAL = 2.0
MAX_TASKS_AT_ONCE = 64  # servers worked on at once (boots are limited apart)
# Tasks no step of this loop does: the scheduler's, and live migration's own loop.
NOT_OURS = ("scheduling", LiveMigrations.TASK)


class ComputeAgent:
    def __init__(
        self,
        db: Database,
        *,
        host: str,
        driver: Driver,
        images: Images,
        image_records: ImageStore,
        instances: Path,
        sync_interval: float,
        shutdown_timeout: float,
        availability_zone: str = "nova",
        config_drive: ConfigDriveWriter | None = None,
        peers: ChannelClient | None = None,
        nics: ServerNics | None = None,
    ):
        self.host = host
        self.driver = driver
        self.instances = instances
        # Files written before this moment were left by an earlier run.
        self.started = time.time()
        self.instances.mkdir(parents=True, exist_ok=True)
        self.availability_zone = availability_zone
        self.recorder = Recorder(db, host)
        # The network service's ports of this host's servers (None: none here).
        planes = ("linux", "fake") if driver.name == "fake" else ("linux",)
        self.nics = HostNics(host, nics, planes) if nics is not None and nics.enabled else None
        self.guests = GuestBuilder(instances, images, config_drive, self.nics)
        # The agent channel (disks between hosts, console output), set by the runner.
        self.channel: ChannelServer | None = None
        self.peers = peers
        self.url: str | None = None
        parts = AgentParts(
            host=host,
            driver=driver,
            recorder=self.recorder,
            guests=self.guests,
            shutdown_timeout=shutdown_timeout,
            wake=self.wake,
            peers=peers,
        )
        self.images = images
        self._wire_workflows(parts, db, image_records)
        self.loop = Reconciler(
            f"compute-agent-{host}",
            self,
            Timing(
                poll_interval=POLL_INTERVAL,
                sync_interval=sync_interval,
                heartbeat_interval=min(sync_interval, 10.0),
                max_parallel=MAX_TASKS_AT_ONCE,
            ),
        )

    def _wire_workflows(self, parts: AgentParts, db: Database, image_records: ImageStore) -> None:
        """The workflows, and the steps they register by task state."""
        self.moves = MoveWorkflow(parts)
        self.image_work = ImageWorkflow(parts, image_records, self.images)
        self.live = LiveMigrations(parts)
        workflows: list[Workflow] = [PowerWorkflow(parts, self.moves.forget_move), self.moves]
        if self.nics is not None:
            workflows.append(InterfaceWorkflow(parts, self.nics))
        self.steps = registry([*workflows, self.image_work])
        # Volumes (agent/volumes.py): attaches and detaches once a server has
        # no other task, and released when it is deleted.
        self.volumes = VolumeWorkflow(parts)
        self.guests.volume_disks = self.volumes.disks
        self.steps["deleting"] = self.volumes.wrap_delete(self.steps["deleting"])
        self.steps["spawning"] = self.volumes.wrap_spawn(self.steps["spawning"])
        self.guests.root_disk = self.volumes.root_disk
        self.moves.volumes = VolumeMoves(self.volumes)
        self.live.use_volumes(self.moves.volumes)

    def wake(self) -> None:
        self.loop.wake()
        self.live.wake()

    def directory(self, server: m.Server) -> Path:
        return self.guests.directory(server)

    # -- life ------------------------------------------------------------------------------

    async def start(self) -> None:
        if self.channel is not None:
            self.url = await self.channel.start()
        await self.loop.start()  # register, adopt, then the loop
        await self.live.start()
        self.wake()

    async def stop(self) -> None:
        await self.live.stop()
        await self.loop.stop()
        await self.image_work.close()
        if self.channel is not None:
            await self.channel.stop()
        if self.peers is not None:
            await self.peers.close()
        closer = getattr(self.volumes.client, "close", None)  # HttpVolumes' clients
        if closer is not None:
            await closer()

    # -- the loop's workflows (common.reconciler.Workflows) --------------------------------

    async def register(self) -> None:
        info = await self.driver.host_info()
        await self.recorder.register(
            info, self.driver.name, list(self.driver.capabilities), self.url, self.availability_zone
        )
        log.info(
            "compute: host %s up (%s, %s, %d vCPU, %d MiB)",
            self.host,
            self.driver.name,
            info.accelerator,
            info.vcpus,
            info.memory_mb,
        )

    async def adopt(self) -> None:
        self._sweep_snapshots()
        await asyncio.to_thread(self._sweep_unfinished)
        await self._sweep_folders()
        await self._sweep_images()
        self.moves.mark_host()
        await self.moves.clean_evacuated()
        await self.sync_power(adopt=True)
        await self.volumes.sweep_keys()
        if self.nics is not None:
            await self.nics.sweep()

    def _sweep_snapshots(self) -> None:
        """Snapshot disks a crash left in the servers' folders: no snapshot
        runs before the loop starts, and one still wanted is taken again."""
        for path in self.instances.glob("*/snapshot-*"):
            path.unlink(missing_ok=True)
            log.warning("compute: removed %s, left by an interrupted snapshot", path)

    def _sweep_unfinished(self) -> None:
        """Files an earlier run was writing when it died, in the servers'
        folders: a disk arriving from another host (``*.partial``), a
        suspended guest's memory being saved (``*.partial``), a config
        drive being written (``.*.tmp``).  Whatever asked for them is done
        again from the start; one written since this agent started belongs
        to work under way (a disk a peer sends now) and stays."""
        for pattern in ("*/*.partial", "*/.*.tmp"):
            for path in self.instances.glob(pattern):
                try:
                    if path.stat().st_mtime >= self.started:
                        continue
                    path.unlink()
                except OSError:  # gone meanwhile
                    continue
                log.warning("compute: removed %s, left unfinished by an earlier run", path)

    async def _sweep_folders(self) -> None:
        """Folders of servers that are gone (deleted, or never recorded) and
        whose guest does not run here: what a crash between a server's end
        and its folder's removal leaves.  A folder of any server still in
        the database stays (it may be moving here or away)."""
        names = [p.name for p in self.instances.iterdir() if p.is_dir() and _is_uuid(p.name)]
        keep = await self.recorder.live_ids(names)
        if names:
            # a guest that runs stays (reported by sync_power); a folder the
            # driver merely lists, holding a disk, does not make it run
            running = (Power.RUNNING, Power.PAUSED)
            keep |= {g.uuid for g in await self.driver.guests() if g.power in running}
        for name in sorted(set(names) - keep):
            await asyncio.to_thread(shutil.rmtree, self.instances / name, True)
            log.warning(
                "compute: removed %s, the folder of server %s, which no longer exists",
                self.instances / name,
                name,
            )
        # A folder set aside for a move (``moves/<id>``) of a server that is
        # gone: its move can be neither confirmed nor reverted any more.
        moves = self.instances.parent / "moves"
        aside = [p.name for p in moves.glob("*/") if _is_uuid(p.name)]
        gone = set(aside) - await self.recorder.live_ids(aside)
        for name in sorted(gone):
            await asyncio.to_thread(shutil.rmtree, moves / name, True)
            log.warning(
                "compute: removed %s, set aside for a move of server %s, which no longer exists",
                moves / name,
                name,
            )

    async def _sweep_images(self) -> None:
        """The image cache: partial downloads, and bases that no server of
        this host names and no disk here backs onto."""
        keep: set[str] = set()
        for server in await self.recorder.servers():
            meta = server.system_metadata or {}
            keep.update(str(v) for v in (server.image_ref, meta.get("rescue_image_ref")) if v)
        roots = (self.instances, self.instances.parent / "moves")
        keep |= await asyncio.to_thread(backed_images, roots)
        await asyncio.to_thread(self.images.sweep, keep)

    async def heartbeat(self) -> None:
        await self.recorder.heartbeat()

    async def resync(self) -> None:
        await self.sync_power()

    async def pending(self) -> Iterable[str]:
        tasks = [sid for sid, task in await self.recorder.pending() if task not in NOT_OURS]
        return tasks + [sid for sid in await self.volumes.pending() if sid not in tasks]

    async def work(self, key: str) -> None:
        """Run the step of the server's task; a failure is recorded on the
        server (a fault; ERROR for a failed build) and its action."""
        server = await self.recorder.load(key)
        if server is None or server.host != self.host:
            return
        if server.task_state is None:
            await self.volumes.settle(server)
            return
        step = self.steps.get(server.task_state)
        if step is None:
            return
        # This task's log lines carry the id of the request that asked.
        logs.bind_request_id(await self.recorder.request_id(server.id))
        started = time.monotonic()
        try:
            await step(server)
            log.info(
                "compute: server %s: %s done in %.2f s",
                server.id,
                server.task_state,
                time.monotonic() - started,
            )
        except Exception as exc:
            metrics.AGENT_WORK_ERRORS.labels(self.loop.name).inc()
            message = str(exc) or type(exc).__name__
            log.warning("compute: server %s: %s failed: %s", server.id, server.task_state, message)
            if server.task_state in ("spawning", "rebuilding"):
                await self.recorder.fail(server, message, vm_state=m.ERROR)
            elif server.task_state == "deleting":
                await self.recorder.fail(server, message, task_state="deleting")
            else:
                await self.recorder.fail(server, message)

    # -- power sync ----------------------------------------------------------------------------

    async def sync_power(self, adopt: bool = False) -> None:
        """Compare what the driver sees with the database: a guest that died
        is marked SHUTOFF; a guest nobody owns is reported."""
        guests = {g.uuid: g for g in await self.driver.guests()}
        servers = await self.recorder.servers()
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
                await self.recorder.finish(server, vm_state=m.STOPPED, power_state=m.SHUTDOWN)
            elif server.power_state != POWER[power] and server.vm_state not in (
                m.ERROR,
                m.BUILDING,
            ):
                await self.recorder.finish(server, power_state=POWER[power])
            elif adopt and seen is not None:
                log.info("compute: adopted running guest %s", server.id)

    async def console_output(self, server_id: str, length: int | None) -> str:
        return await self.driver.console_output(server_id, self.instances / server_id, length)

    async def diagnostics(self, server_id: str) -> Diagnostics:
        return await self.driver.diagnostics(server_id, self.instances / server_id)

    async def trigger_crash_dump(self, server_id: str) -> None:
        await self.driver.trigger_crash_dump(server_id)


def registry(workflows: Iterable[Workflow]) -> dict[str, Step]:
    """Task state -> step, over every workflow (a state belongs to one)."""
    steps: dict[str, Step] = {}
    for workflow in workflows:
        for state, step in workflow.steps().items():
            if state in steps:
                raise ValueError(f"two workflows handle task state {state!r}")
            steps[state] = step
    return steps


def _is_uuid(name: str) -> bool:
    try:
        return str(UUID(name)) == name
    except ValueError:
        return False
