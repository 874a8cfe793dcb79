"""The compute agents as ``stratus status`` shows them."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from stratus.common.config import Config
from stratus.common.db import Database, utcnow
from stratus.common.health import AgentState
from stratus.compute import models as m


async def agents(db: Database, cfg: Config) -> list[AgentState]:
    down_after = timedelta(seconds=cfg.compute.service_down_time)
    async with db.session() as s:
        hosts = (await s.scalars(select(m.ComputeHost).order_by(m.ComputeHost.host))).all()
        placed = dict(
            (
                await s.execute(
                    select(m.Server.host, func.count())
                    .where(m.Server.deleted_at.is_(None), m.Server.host.is_not(None))
                    .group_by(m.Server.host)
                )
            ).all()
        )
    now = utcnow()
    out = []
    for h in hosts:
        alive = (
            not h.forced_down and h.heartbeat is not None and now - h.heartbeat < down_after
        )
        detail = f"{h.driver} ({h.accelerator}), {placed.get(h.host, 0)} server(s)"
        if h.forced_down:
            detail += ", forced down"
        if h.disabled and h.disabled_reason:
            detail += f", disabled: {h.disabled_reason}"
        out.append(AgentState("compute", h.host, alive, h.heartbeat, not h.disabled, detail))
    return out
