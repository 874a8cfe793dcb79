"""Volume hosts: the agents' backends (os-services, availability zones,
pools) and the scheduler that places a new volume on one of them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from stratus.common.config import VolumeConfig
from stratus.common.db import Database, utcnow
from stratus.volume import models as m
from stratus.volume.errors import BadRequest, NotFound


def backend_of(host: str | None) -> str:
    """``host@backend`` of ``host@backend#pool``."""
    return (host or "").split("#", 1)[0]


def agent_of(host: str | None) -> str:
    """The agent's host name of ``host@backend#pool``."""
    return (host or "").split("@", 1)[0]


@dataclass(frozen=True)
class HostView:
    row: m.VolumeHost
    up: bool


class NoValidBackend(Exception):
    pass


class Hosts:
    def __init__(self, db: Database, cfg: VolumeConfig):
        self.db = db
        self.cfg = cfg

    def _alive(self, row: m.VolumeHost) -> bool:
        if row.heartbeat is None:
            return False
        return utcnow() - row.heartbeat < timedelta(seconds=self.cfg.service_down_time)

    async def list_hosts(self) -> list[HostView]:
        async with self.db.session() as s:
            rows = (await s.scalars(select(m.VolumeHost).order_by(m.VolumeHost.host))).all()
        return [HostView(r, self._alive(r)) for r in rows]

    async def zones(self) -> list[tuple[str, bool]]:
        zones: dict[str, bool] = {}
        for view in await self.list_hosts():
            zone = view.row.availability_zone
            zones[zone] = zones.get(zone, False) or (view.up and not view.row.disabled)
        if not zones:
            zones[self.cfg.availability_zone] = False
        return sorted(zones.items())

    async def check_zone(self, zone: str) -> None:
        if zone not in {z for z, _ in await self.zones()}:
            raise BadRequest(f"Availability zone '{zone}' is invalid.")

    async def allocated(self, s: AsyncSession, backend: str) -> int:
        total = await s.scalar(
            select(func.coalesce(func.sum(m.Volume.size), 0)).where(
                m.Volume.host.like(f"{backend}#%")
            )
        )
        return int(total or 0)

    async def pick(
        self, s: AsyncSession, size: int, zone: str | None, vtype: m.VolumeType | None
    ) -> str:
        """``host@backend#pool`` for a new volume: enabled, alive hosts of the
        zone, with room under thin provisioning, the type's
        ``volume_backend_name`` if it names one; the most free space wins."""
        wanted_backend = (vtype.extra_specs.get("volume_backend_name") if vtype else None) or None
        best: tuple[float, str] | None = None
        for row in (await s.scalars(select(m.VolumeHost))).all():
            if row.disabled or row.frozen or not self._alive(row):
                continue
            if zone and row.availability_zone != zone:
                continue
            if wanted_backend and row.backend != wanted_backend:
                continue
            ratio = float(row.capabilities.get("max_over_subscription_ratio", 1.0))
            room = row.capacity_gb * ratio - await self.allocated(s, row.host)
            if size > min(room, row.free_gb * ratio):
                continue
            if best is None or room > best[0]:
                best = (room, f"{row.host}#{row.backend}")
        if best is None:
            raise NoValidBackend("No valid backend was found.")
        return best[1]

    async def usage(self, backend: str) -> dict[str, list[int]]:
        """project -> [volumes, GiB, snapshots, GiB] kept on ``host@backend``."""
        out: dict[str, list[int]] = {"(total)": [0, 0, 0, 0]}
        async with self.db.session() as s:
            volumes = await s.execute(
                select(m.Volume.id, m.Volume.project_id, m.Volume.size).where(
                    m.Volume.host.like(f"{backend}#%")
                )
            )
            ids = set()
            for volume_id, project, size in volumes.tuples():
                ids.add(volume_id)
                for key in (project, "(total)"):
                    row = out.setdefault(key, [0, 0, 0, 0])
                    row[0], row[1] = row[0] + 1, row[1] + size
            snaps = await s.execute(
                select(m.Snapshot.volume_id, m.Snapshot.project_id, m.Snapshot.size)
            )
            for volume_id, project, size in snaps.tuples():
                if volume_id in ids:
                    for key in (project, "(total)"):
                        row = out.setdefault(key, [0, 0, 0, 0])
                        row[2], row[3] = row[2] + 1, row[3] + size
        return out

    async def check_host_alive(self, s: AsyncSession, host: str | None) -> bool:
        row = await s.get(m.VolumeHost, backend_of(host))
        return row is not None and self._alive(row) and not row.frozen

    async def set_service(
        self, host: str, binary: str, *, disabled: bool | None = None, reason: str | None = None,
        frozen: bool | None = None,
    ) -> HostView:  # fmt: skip
        async with self.db.transaction() as s:
            rows = (await s.scalars(select(m.VolumeHost))).all()
            matches = [
                r
                for r in rows
                if (binary == "cinder-volume" and r.host == host)
                or (binary == "cinder-backup" and agent_of(r.host) == host)
                or (binary == "" and host in (r.host, agent_of(r.host)))
            ]
            if not matches:
                raise NotFound(f"Service {binary or ''} on host {host} could not be found.")
            for row in matches:
                if disabled is not None:
                    if binary == "cinder-backup":
                        row.backup_disabled = disabled
                    else:
                        row.disabled = disabled
                        row.disabled_reason = reason if disabled else None
                if frozen is not None:
                    row.frozen = frozen
            return HostView(matches[0], self._alive(matches[0]))
