"""The signals of wait condition handles, kept in the handle resource's
``data`` (its physical id is the handle's secret), and of scaling policies
(service/scaling.py), to the same URL shape."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from stratus.common.db import Database
from stratus.orchestration import models as m
from stratus.orchestration.errors import NotFound
from stratus.orchestration.service.scaling import POLICY, scale

HANDLE = "OS::Heat::WaitConditionHandle"
MAX_SIGNALS = 1000


class Signals:
    def __init__(self, db: Database, wake: Callable[[], None] = lambda: None):
        self.db = db
        self.wake = wake  # the engine, when a policy's signal gave its stack an update

    async def _handle(self, s: Any, secret: str, for_update: bool = False,
                      types: tuple[str, ...] = (HANDLE,)) -> m.Resource:  # fmt: skip
        q = select(m.Resource).where(m.Resource.physical_id == secret, m.Resource.type.in_(types))
        row = await s.scalar(q.with_for_update() if for_update else q)
        if row is None:
            raise NotFound("The signal URL is not known.")
        return row  # type: ignore[no-any-return]

    async def signal(self, secret: str, status: str, reason: str, data: Any, sid: str | None) -> None:
        woken = False
        async with self.db.transaction() as s:
            row = await self._handle(s, secret, for_update=True, types=(HANDLE, POLICY))
            if row.type == POLICY:
                woken = await scale(s, row)
            else:
                self._record(s, row, status, reason, data, sid)
        if woken:
            self.wake()

    @staticmethod
    def _record(s: Any, row: m.Resource, status: str, reason: str, data: Any,
                sid: str | None) -> None:  # fmt: skip
        signals = list((row.data or {}).get("signals", []))
        if len(signals) >= MAX_SIGNALS:
            raise NotFound("The signal URL takes no more signals.")
        signals.append({"status": status, "reason": reason, "data": data,
                        "id": sid or str(len(signals) + 1)})  # fmt: skip
        row.data = {**(row.data or {}), "signals": signals}
        s.add(m.Event(stack_id=row.stack_id, resource_name=row.name,
                      physical_id=row.physical_id, resource_type=HANDLE, action="SIGNAL",
                      status="COMPLETE", reason=f"Signal: status:{status} reason:{reason}"))  # fmt: skip

    async def signals(self, secret: str) -> list[dict[str, Any]]:
        async with self.db.session() as s:
            row = await self._handle(s, secret)
            return list((row.data or {}).get("signals", []))
