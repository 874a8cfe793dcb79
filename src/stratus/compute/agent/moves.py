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
                                  it for a resize), boot: VERIFY_RESIZE
    dest    resize_confirming     have the source drop its copy: ACTIVE
    dest    resize_reverting      drop the new copy, hand back to the source
    source  resize_revert_finish  put the untouched folder back, boot
    dest    rebuild_spawning      (evacuate) recover the disk or rebuild
"""

from __future__ import annotations

import asyncio
import logging
import shutil
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update

from stratus.common.db import utcnow
from stratus.compute import models as m
from stratus.compute.agent.channel import INCOMING, ChannelError
from stratus.compute.drivers.base import Power

if TYPE_CHECKING:
    from stratus.compute.agent.agent import ComputeAgent

log = logging.getLogger(__name__)

HOST_MARKER = ".stratus-host"  # names the host an instances folder belongs to
Handler = Callable[[m.Server], Awaitable[None]]


def moved_folder(agent: ComputeAgent, server_id: str) -> Path:
    """Where a server's folder waits, untouched, while it is moved away."""
    return agent.instances.parent / "moves" / server_id


def handlers(agent: ComputeAgent) -> dict[str, Handler]:
    def bind(step: Callable[[ComputeAgent, m.Server], Awaitable[None]]) -> Handler:
        return lambda server: step(agent, server)

    return {
        "resize_prep": bind(resize_prep),
        "resize_finish": bind(resize_finish),
        "resize_confirming": bind(resize_confirming),
        "resize_reverting": bind(resize_reverting),
        "resize_revert_finish": bind(resize_revert_finish),
        "rebuild_spawning": bind(evacuate),
    }


# -- helpers ---------------------------------------------------------------------------------


def _move(server: m.Server) -> dict[str, Any]:
    move = (server.system_metadata or {}).get("move")
    if not isinstance(move, dict):
        raise RuntimeError(f"server {server.id} has no move recorded")
    return move


def _without_move(server: m.Server) -> dict[str, Any]:
    return {k: v for k, v in (server.system_metadata or {}).items() if k != "move"}


async def set_migration(agent: ComputeAgent, migration_id: int, status: str) -> None:
    async with agent.db.transaction() as s:
        await s.execute(
            update(m.Migration)
            .where(m.Migration.id == migration_id)
            .values(status=status, updated_at=utcnow())
        )


async def agent_url(agent: ComputeAgent, host: str) -> str:
    async with agent.db.session() as s:
        url = await s.scalar(select(m.ComputeHost.agent_url).where(m.ComputeHost.host == host))
    if not url:
        raise ChannelError(f"host {host} has no agent channel (is its agent running?)")
    return url


async def _wake(agent: ComputeAgent, host: str) -> None:
    if host == agent.host or agent.peers is None:
        agent.wake()
        return
    try:
        await agent.peers.wake(await agent_url(agent, host))
    except ChannelError:
        pass  # it polls anyway


async def _boot(agent: ComputeAgent, server: m.Server, run: bool) -> int:
    """Start the guest when it ran before the move; its power state."""
    if not run:
        return m.SHUTDOWN
    async with agent.boots:
        status = await agent.driver.start(await agent.spec(server))
    return m.RUNNING if status.power == Power.RUNNING else int(status.power.value)


def _port(agent: ComputeAgent, server: m.Server) -> int | None:
    from stratus.compute.agent.agent import free_port

    return free_port() if server.networks != "none" else None


# -- cold migration and resize -----------------------------------------------------------------


async def resize_prep(agent: ComputeAgent, server: m.Server) -> None:
    move = _move(server)
    dest = str(move["dest"])
    await set_migration(agent, int(move["migration"]), "migrating")
    directory = agent.directory(server)
    aside = moved_folder(agent, server.id)
    try:
        await agent.driver.stop(server.id, agent.shutdown_timeout)
        if directory.exists():
            aside.parent.mkdir(parents=True, exist_ok=True)
            if aside.exists():
                await asyncio.to_thread(shutil.rmtree, aside)
            directory.rename(aside)
        # The driver forgets the guest here; its folder stays aside, whole.
        await agent.driver.destroy(server.id, directory)
        disk = await agent.driver.export_disk(server.id, aside)
        if dest == agent.host:
            directory.mkdir(parents=True, exist_ok=True)
            await asyncio.to_thread(shutil.copyfile, disk, directory / INCOMING)
        else:
            if agent.peers is None:
                raise ChannelError("this agent has no channel to other hosts")
            await agent.peers.push_disk(await agent_url(agent, dest), server.id, disk)
    except BaseException:
        await _restore(agent, server, move)
        await set_migration(agent, int(move["migration"]), "error")
        # The server stays where it was: no move, no claim on the destination.
        await agent._finish(server, task_state=None, system_metadata=_without_move(server))
        raise
    await set_migration(agent, int(move["migration"]), "post-migrating")
    log.info("compute: server %s: disk sent from %s to %s", server.id, agent.host, dest)
    if await agent._finish(
        server, task_state="resize_finish", host=dest, generation=server.generation + 1
    ):
        await _wake(agent, dest)


async def _put_back(agent: ComputeAgent, server: m.Server) -> None:
    """The folder set aside for the move (if it still is) back in place, and
    the driver's guest made from its disk again."""
    directory = agent.directory(server)
    aside = moved_folder(agent, server.id)
    if aside.exists():
        if directory.exists():
            await asyncio.to_thread(shutil.rmtree, directory)
        aside.rename(directory)
    disk = await agent.driver.export_disk(server.id, directory)
    await agent.driver.import_disk(await agent.spec(server), disk)


async def _restore(agent: ComputeAgent, server: m.Server, move: dict[str, Any]) -> None:
    """Undo a failed prep: the folder back in place, the guest as it was."""
    try:
        if moved_folder(agent, server.id).exists():
            await _put_back(agent, server)
        await _boot(agent, server, move.get("vm_state") == m.ACTIVE)
    except Exception:
        log.exception("compute: server %s: could not undo the failed move", server.id)


async def resize_finish(agent: ComputeAgent, server: m.Server) -> None:
    move = _move(server)
    server.flavor = dict(move["new_flavor"])
    server.host_port = _port(agent, server)
    directory = agent.directory(server)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        await agent._write_config_drive(server)
        spec = await agent.spec(server)  # fetches the base image when this host lacks it
        incoming = directory / INCOMING
        disk = (
            incoming if incoming.exists() else await agent.driver.export_disk(server.id, directory)
        )
        await agent.driver.import_disk(spec, disk)
        power = await _boot(agent, server, move.get("vm_state") == m.ACTIVE)
    except BaseException:
        await set_migration(agent, int(move["migration"]), "error")
        await agent._finish(server, vm_state=m.ERROR, task_state=None)
        raise
    if await agent._finish(
        server,
        vm_state=m.RESIZED,
        power_state=power,
        flavor=server.flavor,
        flavor_id=str(move["new_flavor_id"]),
        host_port=server.host_port,
        progress=100,
    ):
        await set_migration(agent, int(move["migration"]), "finished")
        log.info(
            "compute: server %s: arrived on %s, waiting for confirmation", server.id, agent.host
        )


async def drop_moved(agent: ComputeAgent, server_id: str) -> None:
    """Delete the folder a move left aside on this host (confirm)."""
    aside = moved_folder(agent, server_id)
    if aside.exists():
        await asyncio.to_thread(shutil.rmtree, aside)
        log.info("compute: server %s: old copy on %s deleted", server_id, agent.host)


async def resize_confirming(agent: ComputeAgent, server: m.Server) -> None:
    move = _move(server)
    source = str(move["source"])
    if source == agent.host:
        await drop_moved(agent, server.id)
    else:
        if agent.peers is None:
            raise ChannelError("this agent has no channel to other hosts")
        await agent.peers.drop_moved(await agent_url(agent, source), server.id)
    if await agent._finish(
        server, vm_state=str(move.get("vm_state", m.ACTIVE)), system_metadata=_without_move(server)
    ):
        await set_migration(agent, int(move["migration"]), "confirmed")


async def forget_move(agent: ComputeAgent, server: m.Server) -> None:
    """A server deleted with a move recorded (waiting for confirmation, or
    in ERROR after a failed arrival): the copy its source set aside goes too
    (Nova confirms the resize at delete)."""
    move = (server.system_metadata or {}).get("move")
    if not isinstance(move, dict) or move.get("kind") == "evacuation":
        return
    source = str(move.get("source"))
    try:
        if source == agent.host:
            await drop_moved(agent, server.id)
        elif agent.peers is not None:
            await agent.peers.drop_moved(await agent_url(agent, source), server.id)
    except ChannelError as exc:
        log.warning("compute: server %s: old copy on %s not deleted: %s", server.id, source, exc)
        return
    if server.vm_state == m.RESIZED:
        await set_migration(agent, int(move["migration"]), "confirmed")


async def resize_reverting(agent: ComputeAgent, server: m.Server) -> None:
    move = _move(server)
    source, dest = str(move["source"]), str(move["dest"])
    # Drop the destination's copy, unless a retried revert finds the server
    # handed back already (then the folder here is the source's own).
    aside = moved_folder(agent, server.id)
    if agent.host == dest and (source != dest or aside.exists()):
        await agent.driver.destroy(server.id, agent.directory(server))
    if await agent._finish(
        server,
        task_state="resize_revert_finish",
        host=source,
        generation=server.generation + 1,
    ):
        await _wake(agent, source)


async def resize_revert_finish(agent: ComputeAgent, server: m.Server) -> None:
    move = _move(server)
    server.flavor = dict(move["old_flavor"])
    server.host_port = move.get("host_port")
    await _put_back(agent, server)
    power = await _boot(agent, server, move.get("vm_state") == m.ACTIVE)
    if await agent._finish(
        server,
        vm_state=str(move.get("vm_state", m.ACTIVE)),
        power_state=power,
        flavor=server.flavor,
        flavor_id=str(move["old_flavor_id"]),
        host_port=server.host_port,
        system_metadata=_without_move(server),
    ):
        await set_migration(agent, int(move["migration"]), "reverted")
        log.info("compute: server %s: move reverted, back on %s", server.id, agent.host)


# -- evacuation ----------------------------------------------------------------------------


def write_host_marker(agent: ComputeAgent) -> None:
    """Name this host in its instances folder, so that an agent that can see
    the folder (shared storage, or one machine) knows whose it is."""
    (agent.instances / HOST_MARKER).write_text(agent.host + "\n")


def reachable_folder(agent: ComputeAgent, source: str, server_id: str) -> Path | None:
    """The source host's folder of the server, if this host can read it: the
    source's instances folder (laid out as this host's, beside it) carries
    the source's marker file.  Otherwise the disk is out of reach."""
    root = agent.instances.parent.parent / source / agent.instances.name
    try:
        if (root / HOST_MARKER).read_text().strip() != source:
            return None
    except OSError:
        return None
    folder = root / server_id
    return folder if folder.is_dir() else None


async def evacuate(agent: ComputeAgent, server: m.Server) -> None:
    move = _move(server)
    source = str(move["source"])
    migration = int(move["migration"])
    await set_migration(agent, migration, "pre-migrating")
    directory = agent.directory(server)
    old = reachable_folder(agent, source, server.id)
    server.host_port = _port(agent, server)
    kept = False
    try:
        if old is not None:
            try:
                disk = await agent.driver.export_disk(server.id, old)
            except Exception as exc:
                log.warning("compute: server %s: disk on %s unusable: %s", server.id, source, exc)
            else:
                directory.mkdir(parents=True, exist_ok=True)
                await asyncio.to_thread(shutil.copyfile, disk, directory / INCOMING)
                await agent._write_config_drive(server)
                await agent.driver.import_disk(await agent.spec(server), directory / INCOMING)
                kept = True
        if not kept:
            log.info("compute: server %s: disk on %s out of reach: rebuilding", server.id, source)
            await agent.driver.destroy(server.id, directory)
            directory.mkdir(parents=True, exist_ok=True)
            await agent._write_config_drive(server)
            spec = await agent.spec(server)
            async with agent.boots:
                await agent.driver.spawn(spec)
            if move.get("vm_state") != m.ACTIVE:
                await agent.driver.stop(server.id, agent.shutdown_timeout)
            power = m.RUNNING if move.get("vm_state") == m.ACTIVE else m.SHUTDOWN
        else:
            power = await _boot(agent, server, move.get("vm_state") == m.ACTIVE)
    except BaseException:
        await set_migration(agent, migration, "error")
        await agent._finish(server, vm_state=m.ERROR, task_state=None)
        raise
    state = m.ACTIVE if move.get("vm_state") == m.ACTIVE else m.STOPPED
    if await agent._finish(
        server,
        vm_state=state,
        power_state=power,
        host_port=server.host_port,
        launched_at=utcnow(),
        system_metadata=_without_move(server),
    ):
        await set_migration(agent, migration, "done")
        log.info(
            "compute: server %s evacuated from %s to %s (%s)",
            server.id,
            source,
            agent.host,
            "disk kept" if kept else "rebuilt from its image",
        )


async def clean_evacuated(agent: ComputeAgent) -> None:
    """At start: guests evacuated from this host while its agent was down
    are destroyed here (their server lives elsewhere now)."""
    async with agent.db.session() as s:
        rows = (
            await s.execute(
                select(m.Migration.id, m.Migration.server_id, m.Server.host)
                .join(m.Server, m.Server.id == m.Migration.server_id)
                .where(
                    m.Migration.migration_type == "evacuation",
                    m.Migration.source_compute == agent.host,
                    m.Migration.status == "done",
                )
            )
        ).all()
    for migration_id, server_id, host in rows:
        if host == agent.host:
            continue
        await agent.driver.destroy(server_id, agent.instances / server_id)
        await set_migration(agent, migration_id, "completed")
        log.info("compute: server %s was evacuated: its old copy here is deleted", server_id)
