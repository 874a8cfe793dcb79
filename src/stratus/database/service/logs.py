"""Instance logs, as Trove's guest logs: each datastore's server has USER
logs (off until enabled) and SYS ones (always written); on request the
agent of the instance's host publishes what is new in a log into the
object store (``[dbaas] log_container`` in the instance's project's
account), or discards what it published.  An action is recorded on the
log's row and answered once the agent did it (Trove's guest call), or
after ``log_action_timeout`` with the log as it stands."""

from __future__ import annotations

import asyncio
import builtins
import time
from dataclasses import dataclass

from sqlalchemy import select

from stratus.common.context import RequestContext
from stratus.common.db import Database
from stratus.database import models as m
from stratus.database.errors import BadRequest, NotFound, UnprocessableEntity
from stratus.database.service.common import Wake, visible_instance

# Each datastore's logs and their type (the agent's drivers have the same).
LOGS: dict[str, dict[str, str]] = {
    "postgresql": {"general": "USER"},
    "mariadb": {"general": "USER", "slow_query": "USER", "error": "SYS"},
}
ACTIONS = ("enable", "disable", "discard", "publish")


@dataclass
class LogView:
    """One log as the API shows it."""

    instance_id: str
    datastore: str
    name: str
    type: str
    row: m.Log
    container: str

    @property
    def prefix(self) -> str:
        return f"{self.instance_id}/{self.datastore}-{self.name}/"

    @property
    def metafile(self) -> str:
        return f"{self.instance_id}/{self.datastore}-{self.name}_metafile"

    @property
    def status(self) -> str:
        r = self.row
        if self.type == "USER" and not r.enabled:
            return m.L_DISABLED
        if r.published == 0:
            return m.L_ENABLED if self.type == "USER" else m.L_READY
        return m.L_PARTIAL if r.pending > 0 else m.L_PUBLISHED


class Logs:
    def __init__(self, db: Database, container: str, timeout: float, wake: Wake):
        self.db = db
        self.container = container
        self.timeout = timeout
        self.wake = wake

    def _view(self, inst: m.Instance, row: m.Log) -> LogView:
        kind = LOGS.get(inst.datastore, {})[row.name]
        return LogView(inst.id, inst.datastore, row.name, kind, row, self.container)

    async def list(self, ctx: RequestContext, instance_id: str) -> list[LogView]:
        async with self.db.transaction() as s:
            inst = await visible_instance(s, ctx, instance_id)
            rows = {r.name: r for r in await s.scalars(
                select(m.Log).where(m.Log.instance_id == inst.id))}  # fmt: skip
            for name in LOGS.get(inst.datastore, {}):
                if name not in rows:
                    rows[name] = m.Log(instance_id=inst.id, name=name, enabled=False, published=0,
                                       pending=0, parts=0, serial=0, done=0)  # fmt: skip
            return [self._view(inst, rows[n]) for n in sorted(rows)]

    async def act(
        self, ctx: RequestContext, instance_id: str, name: str, actions: builtins.list[str]
    ) -> LogView:
        """Record the actions (none: a fresh look at the log) for the agent
        and wait for it to do them."""
        if "enable" in actions and "disable" in actions:
            raise BadRequest("Cannot enable and disable a log at once.")
        async with self.db.transaction() as s:
            inst = await visible_instance(s, ctx, instance_id, for_update=True)
            kind = LOGS.get(inst.datastore, {}).get(name)
            if kind is None:
                raise NotFound(f"Log '{name}' not found for instance {inst.id} (its logs: "
                               f"{', '.join(sorted(LOGS.get(inst.datastore, {})))}).")  # fmt: skip
            if kind == "SYS" and ({"enable", "disable"} & set(actions)):
                raise BadRequest(f"Log '{name}' is a SYS log: it is always on and cannot be "
                                 "enabled or disabled.")  # fmt: skip
            if inst.status not in (m.ACTIVE, m.BACKUP) or inst.task is not None:
                raise UnprocessableEntity(
                    f"Instance {inst.id} is not currently available for an action to be "
                    f"performed (status was {inst.status})."
                )
            row = await s.get(m.Log, (inst.id, name), with_for_update=True)
            if row is None:
                row = m.Log(instance_id=inst.id, name=name, enabled=False, published=0,
                            pending=0, parts=0, serial=0, done=0)  # fmt: skip
                s.add(row)
            enabled = ("enable" in actions) or (row.enabled and "disable" not in actions)
            if kind == "USER" and "publish" in actions and not enabled:
                raise BadRequest(f"Log '{name}' is disabled: enable it before publishing it.")
            row.enabled = enabled
            if row.done < row.serial and row.wanted:
                # An action the agent has not done yet is kept (the newer
                # of enable and disable wins).
                earlier = set(row.wanted.split(",")) - {"show"}
                if {"enable", "disable"} & set(actions):
                    earlier -= {"enable", "disable"}
                actions = [*actions, *earlier]
            row.wanted = ",".join(a for a in ACTIONS if a in actions) or "show"
            row.serial += 1
            row.fault = None
            serial, host = row.serial, inst.host
        self.wake(host)
        deadline = time.monotonic() + self.timeout
        while True:
            async with self.db.session() as s:
                inst = await visible_instance(s, ctx, instance_id)
                row = await s.get(m.Log, (inst.id, name))
            if row is None:
                raise NotFound(f"Log '{name}' not found for instance {instance_id}.")
            if row.done >= serial or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.05)
        if row.fault and row.done >= serial:
            raise BadRequest(f"Log '{name}': {row.fault}")
        return self._view(inst, row)
