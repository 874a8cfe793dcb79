"""The agent's part in live migrations: the source side and the destination
side, each run by the agent of its host, meeting only in the database
(``service/live.py`` describes the shared state).

1. The API records a ``compute_migration`` row (``preparing``) and the
   server's task ``migrating``, and wakes both agents (in-process ones at
   once; agents of their own process find the row at their next poll).
2. Destination: fetches the base image if its cache lacks it, writes the
   config drive, and has its driver prepare an incoming guest; publishes
   where it listens (and the guest's new forwarded port) in the server's
   ``system_metadata``.
3. Source: waits for that, marks the migration ``running`` and has its
   driver migrate, recording progress in the row every half second and
   passing on abort and force-complete requests.  On success it moves the
   server to the destination host (``completed``) and deletes its own files;
   on failure or abort the guest keeps running here (``error`` /
   ``cancelled``).
4. Destination: on ``completed`` it takes the guest over (stops exporting the
   disk, makes sure the guest runs); on ``error`` / ``cancelled`` it throws
   its side away.

Attached volumes (``volume_moves.py``, as cold migration): in step 2 the
destination gets a Cinder attachment of its own for each volume, with its
own connector, before its guest starts with them; the rows name it and
remember the source's.  On success the source deletes its attachments once
its guest is gone (step 3); on failure or abort either side deletes the
destination's and the rows name the source's again.  A server deleted
meanwhile releases both (``volumes.release_all``).  At its start each agent
settles the volumes of servers whose last live migration (of its host)
ended while an agent was down: the same two outcomes, and any attachment
the rows do not name is deleted.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable

from stratus.common.reconciler import Reconciler, Timing
from stratus.compute.agent.live_sides import Destination
from stratus.compute.agent.live_source import Source
from stratus.compute.agent.volume_moves import VolumeMoves
from stratus.compute.agent.workflow import AgentParts
from stratus.compute.service import live as shared

log = logging.getLogger(__name__)

POLL = 0.5  # how often an agent looks for live migrations involving its host

Side = Callable[[str, bool], Awaitable[None]]


class LiveMigrations:
    """Both sides of the live migrations of this host, each migration side a
    resource of a loop of its own (``common/reconciler.py``), keyed
    ``<migration uuid>:source`` or ``<migration uuid>:dest``: it polls faster
    than the agent's, and the destination side works on a server that is
    not (yet) this host's."""

    TASK = shared.TASK  # a server's task meanwhile: this loop's, not the agent's

    def __init__(self, parts: AgentParts) -> None:
        self.parts = parts
        self.host = parts.host
        self.records = parts.recorder.live
        self.source = Source(parts)
        self.dest = Destination(parts)
        self.volumes: VolumeMoves | None = None
        self._servers: dict[str, str] = {}  # migration uuid -> server id
        self._fresh: dict[str, bool] = {}  # key -> the row had not started when seen
        # One side of one migration per server at a time on this host: a new
        # migration's side waits until the last one's has thrown its incoming
        # guest away or deleted the files of the guest that left.
        self._turns: dict[str, asyncio.Lock] = {}
        self._waiting: dict[str, int] = {}  # server id -> sides holding or awaiting its turn
        self.loop = Reconciler(
            f"live-migrations-{self.host}",
            self,
            Timing(
                poll_interval=POLL, sync_interval=3600.0, heartbeat_interval=3600.0, max_parallel=64
            ),
        )

    def wake(self) -> None:
        self.loop.wake()

    def incoming(self) -> set[str]:
        """Servers whose guest is arriving here: not yet this host's, not strays."""
        return {
            self._servers.get(key.split(":")[0], "")
            for key in self.loop.busy
            if key.endswith(":dest")
        }

    async def start(self) -> None:
        await self.loop.start()

    async def stop(self) -> None:
        await self.loop.stop()

    # -- the loop's workflows ----------------------------------------------------------

    async def register(self) -> None:
        """The agent registers the host."""

    def use_volumes(self, volumes: VolumeMoves) -> None:
        self.volumes = self.source.volumes = self.dest.volumes = volumes

    async def adopt(self) -> None:
        """Migrations under way are found by ``pending`` (``_recover``);
        the volumes of those that ended while an agent was down are settled."""
        if self.volumes is None:
            return
        for row, server in await self.records.ended_with_volumes():
            try:
                if row.status == "completed" and server.host == row.dest_compute:
                    await self.volumes.keep_new(server)
                else:
                    await self.volumes.back_to_old(server)
                await self.volumes.drop_strays(server)
            except Exception as exc:  # Cinder unreachable: at the next start
                log.warning("compute: server %s: settling its volumes after live migration "
                            "%s failed: %s", server.id, row.id, exc)  # fmt: skip

    async def resync(self) -> None:
        """Nothing to compare: the rows are the state."""

    async def heartbeat(self) -> None:
        """The agent's loop beats for the host."""

    async def pending(self) -> Iterable[str]:
        keys = []
        for row in await self.records.in_progress():
            for role, host in (("source", row.source_compute), ("dest", row.dest_compute)):
                if host != self.host:
                    continue
                key = f"{row.uuid}:{role}"
                if key not in self.loop.busy:
                    self._servers[row.uuid] = row.server_id
                    self._fresh[key] = row.status in ("queued", "preparing")
                keys.append(key)
        return keys

    async def work(self, key: str) -> None:
        migration_uuid, role = key.split(":")
        side: Side = self.source.run if role == "source" else self.dest.run
        server_id = self._servers.get(migration_uuid, "")
        turn = self._turns.setdefault(server_id, asyncio.Lock())
        self._waiting[server_id] = self._waiting.get(server_id, 0) + 1
        try:
            async with turn:
                await side(migration_uuid, self._fresh.pop(key, False))
        except Exception:
            log.exception("compute: live migration %s (%s side) failed", migration_uuid, role)
        finally:
            self._waiting[server_id] -= 1
            if not self._waiting[server_id]:
                del self._waiting[server_id], self._turns[server_id]
            if not any(k.startswith(migration_uuid) and k != key for k in self.loop.busy):
                self._servers.pop(migration_uuid, None)
