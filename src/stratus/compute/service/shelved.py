"""The shelved servers' periodic work, run by the compute service's
scheduling loop: place on a host the offloaded servers being unshelved (the
scheduler picks it; the agent spawns the server from its shelved image), and
offload the shelved servers whose ``shelved_offload_time`` has passed."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import select

from stratus.common.config import ComputeConfig
from stratus.common.db import Database, utcnow
from stratus.compute import models as m
from stratus.compute.service.actions import Actions, start_action
from stratus.compute.service.scheduler import NoValidHost, Scheduler
from stratus.compute.service.snapshots import SHELVE_OFFLOAD, UNSHELVE

log = logging.getLogger(__name__)


class ShelvedServers:
    def __init__(
        self,
        db: Database,
        cfg: ComputeConfig,
        scheduler: Scheduler,
        actions: Actions,
        wake: Callable[[str | None], None],
    ):
        self.db = db
        self.cfg = cfg
        self.scheduler = scheduler
        self.actions = actions
        self.wake = wake

    async def periodic(self) -> None:
        await self.place_unshelving()
        await self.offload_expired()

    async def place_unshelving(self) -> None:
        async with self.db.session() as s:
            pending = list(
                (
                    await s.scalars(
                        select(m.Server.id).where(
                            m.Server.task_state == UNSHELVE.task,
                            m.Server.host.is_(None),
                            m.Server.deleted_at.is_(None),
                        )
                    )
                ).all()
            )
        for server_id in pending:
            await self._place(server_id)

    async def _place(self, server_id: str) -> None:
        host_name = failure = None
        async with self.db.transaction() as s:
            await s.execute(select(m.ComputeHost.id).with_for_update())
            server = await s.get(m.Server, server_id)
            if server is None or server.task_state != UNSHELVE.task or server.host is not None:
                return
            try:
                host = await self.scheduler.select_host(s, server)
            except NoValidHost as exc:
                # Nova leaves the server offloaded, and says why in its actions.
                failure = str(exc)
                server.task_state = None
                server.generation += 1
            else:
                server.host = host_name = host.host
                server.availability_zone = host.availability_zone
                server.generation += 1
        if failure is not None:
            log.info("compute: server %s cannot be unshelved: %s", server_id, failure)
            await self.actions.event(server_id, "schedule_instances", None, "Error", failure)
        if host_name:
            self.wake(host_name)

    async def offload_expired(self) -> None:
        after = self.cfg.shelved_offload_time
        if after <= 0:
            return
        deadline = utcnow() - timedelta(seconds=after)
        woken: set[str] = set()
        async with self.db.transaction() as s:
            rows = (
                await s.scalars(
                    select(m.Server).where(
                        m.Server.vm_state == m.SHELVED,
                        m.Server.task_state.is_(None),
                        m.Server.deleted_at.is_(None),
                    )
                )
            ).all()
            for server in rows:
                shelved_at = server.system_metadata.get("shelved_at")
                if not shelved_at or datetime.fromisoformat(shelved_at) > deadline:
                    continue
                log.info("compute: server %s shelved since %s: offloading", server.id, shelved_at)
                server.task_state = SHELVE_OFFLOAD.task
                server.generation += 1
                start_action(s, server.id, "shelveOffload", f"req-periodic-{server.id}", None, None)
                if server.host:
                    woken.add(server.host)
        for host in woken:
            self.wake(host)
