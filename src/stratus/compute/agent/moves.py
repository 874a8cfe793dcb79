"""The agents' side of moving servers between hosts: cold migration and
resize (with confirm and revert) and evacuation.

The API records the move in the server's ``system_metadata["move"]`` and a
``compute_migration`` row, and sets a task; each step is done by the agent
of the host that holds the server at that moment, and hands the next step on
by changing the server's host and task (compare-and-swap on its
generation), so a step interrupted by an agent's restart is simply redone:

    source  resize_prep           stop the guest, set its folder aside in
                                  ``moves/<id>``, send the disk to the
                                  destination over the agent channel
    dest    resize_finish         fetch the base image, adopt the disk (grow
                                  it for a resize), connect the volumes
                                  here, boot: VERIFY_RESIZE
    dest    resize_confirming     have the source drop its copy and its
                                  volume attachments: ACTIVE
    dest    resize_reverting      drop the new copy and the volume
                                  attachments made here, hand back
    source  resize_revert_finish  put the untouched folder back, boot
    dest    rebuild_spawning      (evacuate) connect the volumes here and
                                  drop the dead host's attachments;
                                  recover the disk or rebuild

A server booted from a volume has no disk of its own to send: its root
disk is a volume, connected on the destination like its other volumes
(``volume_moves.py``).
"""

from __future__ import annotations

import asyncio
import logging
import shutil
from collections.abc import Mapping
from typing import Any

from stratus.common.db import utcnow
from stratus.compute import models as m
from stratus.compute.agent.channel_wire import ChannelError
from stratus.compute.agent.folders import (
    INCOMING,
    drop_moved,
    moved_folder,
    reachable_folder,
    write_host_marker,
)
from stratus.compute.agent.recorder import free_port
from stratus.compute.agent.volume_moves import VolumeMoves
from stratus.compute.agent.workflow import AgentParts, Peers, Step
from stratus.compute.drivers.base import GuestSpec, Power

log = logging.getLogger(__name__)


def _move(server: m.Server) -> dict[str, Any]:
    move = (server.system_metadata or {}).get("move")
    if not isinstance(move, dict):
        raise RuntimeError(f"server {server.id} has no move recorded")
    return move


def _without_move(server: m.Server) -> dict[str, Any]:
    return {k: v for k, v in (server.system_metadata or {}).items() if k != "move"}


def _port(server: m.Server) -> int | None:
    return free_port() if server.networks != "none" else None


class MoveWorkflow:
    def __init__(self, parts: AgentParts) -> None:
        self.parts = parts
        self.host = parts.host
        self.driver = parts.driver
        self.recorder = parts.recorder
        self.guests = parts.guests
        self.volumes: VolumeMoves | None = None  # set by the agent

    async def _volume_backed(self, server: m.Server) -> bool:
        root = self.guests.root_disk
        return root is not None and await root(server) is not None

    def steps(self) -> Mapping[str, Step]:
        return {
            "resize_prep": self.resize_prep,
            "resize_finish": self.resize_finish,
            "resize_confirming": self.resize_confirming,
            "resize_reverting": self.resize_reverting,
            "resize_revert_finish": self.resize_revert_finish,
            "rebuild_spawning": self.evacuate,
        }

    # -- helpers ------------------------------------------------------------------------

    def _peers(self) -> Peers:
        if self.parts.peers is None:
            raise ChannelError("this agent has no channel to other hosts")
        return self.parts.peers

    async def _url(self, host: str) -> str:
        url = await self.recorder.agent_url(host)
        if not url:
            raise ChannelError(f"host {host} has no agent channel (is its agent running?)")
        return url

    async def _wake(self, host: str) -> None:
        if host == self.host or self.parts.peers is None:
            self.parts.wake()
            return
        try:
            await self.parts.peers.wake(await self._url(host))
        except ChannelError:
            pass  # it polls anyway

    async def _boot(self, server: m.Server, run: bool, spec: GuestSpec | None = None) -> int:
        """Start the guest when it ran before the move; its power state."""
        if not run:
            return m.SHUTDOWN
        spec = spec or await self.guests.spec(server)
        async with self.parts.boots:
            status = await self.driver.start(spec)
        return m.RUNNING if status.power == Power.RUNNING else int(status.power.value)

    # -- cold migration and resize --------------------------------------------------------

    async def resize_prep(self, server: m.Server) -> None:
        move = _move(server)
        dest = str(move["dest"])
        migration = int(move["migration"])
        await self.recorder.set_migration(migration, "migrating")
        try:
            await self._send_disk(server, dest)
        except BaseException:
            await self._restore(server, move)
            await self.recorder.set_migration(migration, "error")
            # The server stays where it was: no move, no claim on the destination.
            await self.recorder.finish(
                server, task_state=None, system_metadata=_without_move(server)
            )
            raise
        await self.recorder.set_migration(migration, "post-migrating")
        log.info("compute: server %s: disk sent from %s to %s", server.id, self.host, dest)
        if await self.recorder.succeed(
            server, task_state="resize_finish", host=dest, generation=server.generation + 1
        ):
            await self._wake(dest)

    async def _send_disk(self, server: m.Server, dest: str) -> None:
        """Stop the guest, set its folder aside and send its disk to ``dest``."""
        directory = self.guests.directory(server)
        aside = moved_folder(self.parts.instances, server.id)
        await self.driver.stop(server.id, self.parts.shutdown_timeout)
        if directory.exists():
            aside.parent.mkdir(parents=True, exist_ok=True)
            if aside.exists():
                await asyncio.to_thread(shutil.rmtree, aside)
            directory.rename(aside)
        # The driver forgets the guest here; its folder stays aside, whole.
        await self.driver.destroy(server.id, directory)
        if await self._volume_backed(server):
            return  # its root disk is a volume: nothing to carry
        disk = await self.driver.export_disk(server.id, aside)
        if dest == self.host:
            directory.mkdir(parents=True, exist_ok=True)
            await asyncio.to_thread(shutil.copyfile, disk, directory / INCOMING)
        else:
            await self._peers().push_disk(await self._url(dest), server.id, disk)

    async def _put_back(self, server: m.Server) -> None:
        """The folder set aside for the move (if it still is) back in place, and
        the driver's guest made from its disk again."""
        directory = self.guests.directory(server)
        aside = moved_folder(self.parts.instances, server.id)
        if aside.exists():
            if directory.exists():
                await asyncio.to_thread(shutil.rmtree, directory)
            aside.rename(directory)
        if await self._volume_backed(server):
            return
        disk = await self.driver.export_disk(server.id, directory)
        await self.driver.import_disk(await self.guests.spec(server), disk)

    async def _restore(self, server: m.Server, move: dict[str, Any]) -> None:
        """Undo a failed prep: the folder back in place, the guest as it was."""
        try:
            if moved_folder(self.parts.instances, server.id).exists():
                await self._put_back(server)
            await self._boot(server, move.get("vm_state") == m.ACTIVE)
        except Exception:
            log.exception("compute: server %s: could not undo the failed move", server.id)

    async def resize_finish(self, server: m.Server) -> None:
        move = _move(server)
        server.flavor = dict(move["new_flavor"])
        server.host_port = _port(server)
        directory = self.guests.directory(server)
        try:
            await self.guests.prepare(server)
            if self.volumes is not None:
                await self.volumes.connect_here(server)
            spec = await self.guests.spec(server)  # fetches the base image when this host lacks it
            if spec.root_volume is None:
                incoming = directory / INCOMING
                disk = (
                    incoming
                    if incoming.exists()
                    else await self.driver.export_disk(server.id, directory)
                )
                await self.driver.import_disk(spec, disk)
            power = await self._boot(server, move.get("vm_state") == m.ACTIVE, spec)
        except BaseException:
            await self.recorder.set_migration(int(move["migration"]), "error")
            await self.recorder.finish(server, vm_state=m.ERROR, task_state=None)
            raise
        if await self.recorder.succeed(
            server,
            vm_state=m.RESIZED,
            power_state=power,
            flavor=server.flavor,
            flavor_id=str(move["new_flavor_id"]),
            host_port=server.host_port,
            progress=100,
        ):
            await self.recorder.set_migration(int(move["migration"]), "finished")
            log.info(
                "compute: server %s: arrived on %s, waiting for confirmation", server.id, self.host
            )

    async def resize_confirming(self, server: m.Server) -> None:
        move = _move(server)
        source = str(move["source"])
        if source == self.host:
            await drop_moved(self.parts.instances, server.id)
        else:
            await self._peers().drop_moved(await self._url(source), server.id)
        if self.volumes is not None:
            await self.volumes.keep_new(server)
        if await self.recorder.succeed(
            server,
            vm_state=str(move.get("vm_state", m.ACTIVE)),
            system_metadata=_without_move(server),
        ):
            await self.recorder.set_migration(int(move["migration"]), "confirmed")

    async def forget_move(self, server: m.Server) -> None:
        """A server deleted with a move recorded (waiting for confirmation, or
        in ERROR after a failed arrival): the copy its source set aside goes too
        (Nova confirms the resize at delete)."""
        move = (server.system_metadata or {}).get("move")
        if not isinstance(move, dict) or move.get("kind") == "evacuation":
            return
        source = str(move.get("source"))
        try:
            if source == self.host:
                await drop_moved(self.parts.instances, server.id)
            elif self.parts.peers is not None:
                await self.parts.peers.drop_moved(await self._url(source), server.id)
        except ChannelError as exc:
            log.warning(
                "compute: server %s: old copy on %s not deleted: %s", server.id, source, exc
            )
            return
        if server.vm_state == m.RESIZED:
            await self.recorder.set_migration(int(move["migration"]), "confirmed")

    async def resize_reverting(self, server: m.Server) -> None:
        move = _move(server)
        source, dest = str(move["source"]), str(move["dest"])
        # Drop the destination's copy, unless a retried revert finds the server
        # handed back already (then the folder here is the source's own).
        aside = moved_folder(self.parts.instances, server.id)
        if self.host == dest and (source != dest or aside.exists()):
            await self.driver.destroy(server.id, self.guests.directory(server))
        if self.volumes is not None:
            await self.volumes.back_to_old(server)
        if await self.recorder.succeed(
            server,
            task_state="resize_revert_finish",
            host=source,
            generation=server.generation + 1,
        ):
            await self._wake(source)

    async def resize_revert_finish(self, server: m.Server) -> None:
        move = _move(server)
        server.flavor = dict(move["old_flavor"])
        server.host_port = move.get("host_port")
        await self._put_back(server)
        power = await self._boot(server, move.get("vm_state") == m.ACTIVE)
        if await self.recorder.succeed(
            server,
            vm_state=str(move.get("vm_state", m.ACTIVE)),
            power_state=power,
            flavor=server.flavor,
            flavor_id=str(move["old_flavor_id"]),
            host_port=server.host_port,
            system_metadata=_without_move(server),
        ):
            await self.recorder.set_migration(int(move["migration"]), "reverted")
            log.info("compute: server %s: move reverted, back on %s", server.id, self.host)

    # -- evacuation ------------------------------------------------------------------------

    def mark_host(self) -> None:
        write_host_marker(self.parts.instances, self.host)

    async def evacuate(self, server: m.Server) -> None:
        move = _move(server)
        source = str(move["source"])
        migration = int(move["migration"])
        running = move.get("vm_state") == m.ACTIVE
        await self.recorder.set_migration(migration, "pre-migrating")
        server.host_port = _port(server)
        try:
            if self.volumes is not None:
                # As Nova does: an attachment of this host's for each volume,
                # the dead host's deleted (its exports stop).
                await self.volumes.connect_here(server)
                await self.volumes.keep_new(server)
            recovered = None
            if await self._volume_backed(server):
                # Its root disk is a volume: nothing to recover or rebuild.
                await self.guests.prepare(server)
                recovered = await self.guests.spec(server)
            else:
                recovered = await self._recover_disk(server, source)
            kept = recovered is not None
            if recovered is not None:
                power = await self._boot(server, running, recovered)
            else:
                power = await self._rebuild(server, source, running)
        except BaseException:
            await self.recorder.set_migration(migration, "error")
            await self.recorder.finish(server, vm_state=m.ERROR, task_state=None)
            raise
        if await self.recorder.succeed(
            server,
            vm_state=m.ACTIVE if running else m.STOPPED,
            power_state=power,
            host_port=server.host_port,
            launched_at=utcnow(),
            system_metadata=_without_move(server),
        ):
            await self.recorder.set_migration(migration, "done")
            log.info(
                "compute: server %s evacuated from %s to %s (%s)",
                server.id,
                source,
                self.host,
                "disk kept" if kept else "rebuilt from its image",
            )

    async def _recover_disk(self, server: m.Server, source: str) -> GuestSpec | None:
        """Copy the server's disk from the source's folder, when this host can
        read it (shared storage): the guest made of it, else None."""
        old = reachable_folder(self.parts.instances, source, server.id)
        if old is None:
            return None
        try:
            disk = await self.driver.export_disk(server.id, old)
        except Exception as exc:
            log.warning("compute: server %s: disk on %s unusable: %s", server.id, source, exc)
            return None
        directory = self.guests.directory(server)
        directory.mkdir(parents=True, exist_ok=True)
        await asyncio.to_thread(shutil.copyfile, disk, directory / INCOMING)
        await self.guests.write_config_drive(server)
        spec = await self.guests.spec(server)
        await self.driver.import_disk(spec, directory / INCOMING)
        return spec

    async def _rebuild(self, server: m.Server, source: str, running: bool) -> int:
        """The disk is out of reach: a new one from the server's image."""
        log.info("compute: server %s: disk on %s out of reach: rebuilding", server.id, source)
        await self.driver.destroy(server.id, self.guests.directory(server))
        await self.guests.prepare(server)
        spec = await self.guests.spec(server)
        async with self.parts.boots:
            await self.driver.spawn(spec)
        if not running:
            await self.driver.stop(server.id, self.parts.shutdown_timeout)
        return m.RUNNING if running else m.SHUTDOWN

    async def clean_evacuated(self) -> None:
        """At start: guests evacuated from this host while its agent was down
        are destroyed here (their server lives elsewhere now)."""
        for migration_id, server_id, host in await self.recorder.evacuated():
            if host == self.host:
                continue
            await self.driver.destroy(server_id, self.parts.instances / server_id)
            await self.recorder.set_migration(migration_id, "completed")
            log.info("compute: server %s was evacuated: its old copy here is deleted", server_id)
