"""os-server-external-events: what other services tell compute about its
servers, as Neutron and Cinder call Nova.

``create`` takes a batch of events (the API's admin or service call, or the
network service of this process directly), answers each with a code as Nova
does (200 delivered, 404 no such server, 422 the server is on no host) and
keeps the delivered ones for the agent of the server's host, which it wakes.
The agent waits for the events it expects (``wait``): a boot, and a
hot-plug, wait for ``network-vif-plugged`` of each port that was not yet
ACTIVE, taking only events newer than ``marker()`` read before it bound the
ports, so an event that came early is never missed and an old one never
counts.  A delivery rings the server's bell in this process (``ARRIVED``),
so an agent of the same process waiting for it looks again at once rather
than at its next look (every ``POLL``).  ``network-vif-deleted`` of a port a server still holds (the user
deleted it) unplugs it from the guest: the port's row turns detaching and
the agent's interface step does the rest.  ``volume-extended`` (tag: the
volume) marks the server's attachment of it ``extending``: the agent grows
the disk the running guest sees.  ``network-changed`` needs no work:
compute reads ports live.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from stratus.common.db import Database, utcnow
from stratus.common.wakeups import Wakeups
from stratus.compute import models as m
from stratus.compute.service.actions import start_action

VIF_PLUGGED = "network-vif-plugged"
VIF_UNPLUGGED = "network-vif-unplugged"
VIF_DELETED = "network-vif-deleted"
NETWORK_CHANGED = "network-changed"
VOLUME_EXTENDED = "volume-extended"
# The event names each microversion accepts (Nova's schema).
NAMES: tuple[tuple[str, frozenset[str]], ...] = (
    ("2.0", frozenset({NETWORK_CHANGED, VIF_PLUGGED, VIF_UNPLUGGED, VIF_DELETED})),
    ("2.51", frozenset({VOLUME_EXTENDED})),
    ("2.76", frozenset({"power-update"})),
    ("2.82", frozenset({"accelerator-request-bound"})),
    ("2.93", frozenset({"volume-reimaged"})),
)
STATUSES = ("failed", "completed", "in-progress")
COMPLETED, FAILED = "completed", "failed"
KEEP = timedelta(hours=1)  # delivered events older than this are purged
PURGE_EVERY = 60.0
POLL = 0.25  # a waiter's look at the events table (shared by every agent)
DETACHING = "interface_detaching"
PLUGGABLE = frozenset({m.ACTIVE, m.PAUSED, m.STOPPED, m.SUSPENDED})
ARRIVED = Wakeups()  # rung with a server's id when events for it are delivered


@dataclass(frozen=True)
class ExternalEvent:
    server_uuid: str
    name: str
    status: str = COMPLETED
    tag: str | None = None
    code: int | None = None  # set by create()


class ServerEvents:
    def __init__(self, db: Database, wake: Callable[[str | None], None]) -> None:
        self.db = db
        self.wake = wake
        self._next_purge = 0.0

    async def create(
        self, events: Iterable[ExternalEvent], request_id: str = ""
    ) -> list[ExternalEvent]:
        """Deliver what can be delivered; every event back with its code."""
        request_id = request_id or f"req-{uuid.uuid4()}"
        asked = list(events)
        out: list[ExternalEvent] = []
        hosts: set[str] = set()
        ids = {e.server_uuid for e in asked}
        live = select(m.Server).where(m.Server.id.in_(ids), m.Server.deleted_at.is_(None))
        async with self.db.session() as s:  # nothing to deliver: no write at all
            seen = {srv.id: srv.host for srv in await s.scalars(live)}
        if not any(seen.values()):
            return [
                replace(e, code=422 if e.server_uuid in seen else 404, status=FAILED) for e in asked
            ]
        async with self.db.transaction() as s:
            found = {srv.id: srv for srv in await s.scalars(live)}
            for event in asked:
                server = found.get(event.server_uuid)
                if server is None:
                    out.append(replace(event, code=404, status=FAILED))
                    continue
                if server.host is None:
                    out.append(replace(event, code=422, status=FAILED))
                    continue
                s.add(
                    m.ServerEvent(
                        server_id=server.id, name=event.name, tag=event.tag or "",
                        status=event.status,
                    )
                )  # fmt: skip
                if event.name == VIF_DELETED and event.tag:
                    await _port_gone(s, server, event.tag, request_id)
                if event.name == VOLUME_EXTENDED and event.tag and event.status == COMPLETED:
                    await _volume_grew(s, server, event.tag)
                hosts.add(server.host)
                out.append(replace(event, code=200))
            if hosts and time.monotonic() >= self._next_purge:  # a minute apart at most
                self._next_purge = time.monotonic() + PURGE_EVERY
                await s.execute(
                    delete(m.ServerEvent).where(m.ServerEvent.created_at < utcnow() - KEEP)
                )
        for server_id in {e.server_uuid for e in out if e.code == 200}:
            ARRIVED.ring(server_id)
        for host in sorted(hosts):
            self.wake(host)
        return out

    async def marker(self) -> int:
        """The newest event's id: a waiter takes only events after it."""
        async with self.db.session() as s:
            return int(await s.scalar(select(func.max(m.ServerEvent.id))) or 0)

    async def wait(
        self, server_id: str, name: str, tags: Iterable[str], since: int, timeout: float
    ) -> dict[str, str]:
        """Wait until event ``name`` came for every tag (newer than
        ``since``) or ``timeout`` passed: tag -> the event's status, for
        those that came."""
        wanted = set(tags)
        got: dict[str, str] = {}
        deadline = time.monotonic() + timeout
        with ARRIVED.listening(server_id) as bell:
            while True:
                async with self.db.session() as s:
                    rows = (
                        await s.execute(
                            select(m.ServerEvent.tag, m.ServerEvent.status).where(
                                m.ServerEvent.server_id == server_id,
                                m.ServerEvent.name == name,
                                m.ServerEvent.id > since,
                                m.ServerEvent.tag.in_(wanted),
                            )
                        )
                    ).all()
                for tag, status in rows:
                    got[tag] = status
                left = deadline - time.monotonic()
                if wanted <= set(got) or left <= 0:
                    return got
                await bell.wait(min(POLL, left))


async def _port_gone(s: AsyncSession, server: m.Server, port_id: str, request_id: str) -> None:
    """A port the server holds was deleted in the network service: its row
    turns detaching, and the agent's interface step unplugs every detaching
    port of the server.  A free server gets that task now; one already
    detaching gets a new generation, so a step that read its rows before
    this one runs again; a server busy with another task keeps the row
    detaching (it is never plugged again) for its next interface step."""
    row = await s.get(m.ServerPort, (server.id, port_id))
    if row is None or row.state == m.PORT_DETACHING:
        return
    row.state = m.PORT_DETACHING
    if server.task_state is None and server.vm_state in PLUGGABLE:
        server.task_state = DETACHING
        server.generation += 1
        start_action(s, server.id, "detach_interface", request_id, None, server.project_id)
    elif server.task_state == DETACHING:
        server.generation += 1


async def _volume_grew(s: AsyncSession, server: m.Server, volume_id: str) -> None:
    """Cinder extended a volume the server has attached: its attachment turns
    ``extending`` and the host's agent grows the disk the guest sees
    (``agent/volumes.py``)."""
    row = await s.scalar(
        select(m.VolumeAttachment).where(
            m.VolumeAttachment.server_id == server.id,
            m.VolumeAttachment.volume_id == volume_id,
            m.VolumeAttachment.status == m.VOL_ATTACHED,
        )
    )
    if row is not None:
        row.status = m.VOL_EXTENDING
        row.updated_at = utcnow()
