"""The compute service's resource gauges for /metrics."""

from __future__ import annotations

from sqlalchemy import func, select

from stratus.common.db import Database
from stratus.common.metrics import GaugeFamily
from stratus.compute import models as m


async def gauges(db: Database) -> list[GaugeFamily]:
    servers = GaugeFamily(
        "stratus_compute_servers", "Servers (not deleted), by vm_state.", ("state",)
    )
    hosts = GaugeFamily(
        "stratus_compute_host_servers", "Servers (not deleted) placed on each host.", ("host",)
    )
    async with db.session() as s:
        for state, count in await s.execute(
            select(m.Server.vm_state, func.count())
            .where(m.Server.deleted_at.is_(None))
            .group_by(m.Server.vm_state)
        ):
            servers.samples.append(((state,), float(count)))
        for host, count in await s.execute(
            select(m.Server.host, func.count())
            .where(m.Server.deleted_at.is_(None), m.Server.host.is_not(None))
            .group_by(m.Server.host)
        ):
            hosts.samples.append(((str(host),), float(count)))
    return [servers, hosts]
