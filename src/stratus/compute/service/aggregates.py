"""Host aggregates (os-aggregates).  An aggregate's ``availability_zone``
metadata is the zone of its hosts: every change of membership or of that
key writes the zone of the hosts it touches into ``compute_host``, which the
scheduler, os-availability-zone and os-services read."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import ScalarSelect, select
from sqlalchemy.ext.asyncio import AsyncSession

from stratus.common.db import Database, utcnow
from stratus.compute import models as m
from stratus.compute.errors import BadRequest, Conflict, NotFound

ZONE_KEY = "availability_zone"
DEFAULT_ZONE = "nova"


def zone_of(host: str) -> ScalarSelect[str]:
    """The zone of ``host``, as a subquery: what a server moved there shows."""
    return (
        select(m.ComputeHost.availability_zone).where(m.ComputeHost.host == host).scalar_subquery()
    )


@dataclass
class AggregateView:
    row: m.Aggregate
    hosts: list[str]

    @property
    def zone(self) -> str | None:
        return self.row.metadata_.get(ZONE_KEY)


class Aggregates:
    def __init__(self, db: Database):
        self.db = db

    # -- reads ---------------------------------------------------------------------------

    async def list_aggregates(self) -> list[AggregateView]:
        async with self.db.session() as s:
            rows = (await s.scalars(select(m.Aggregate).order_by(m.Aggregate.id))).all()
            members = await self._members(s, [r.id for r in rows])
        return [AggregateView(r, members.get(r.id, [])) for r in rows]

    async def get(self, ident: str) -> AggregateView:
        async with self.db.session() as s:
            row = await self._find(s, ident)
            members = await self._members(s, [row.id])
        return AggregateView(row, members.get(row.id, []))

    async def zone_names(self) -> set[str]:
        """The zones aggregates name, with hosts or not."""
        return {a.zone for a in await self.list_aggregates() if a.zone}

    @staticmethod
    async def _find(s: AsyncSession, ident: str) -> m.Aggregate:
        row = None
        if ident.isdigit():
            row = await s.get(m.Aggregate, int(ident))
        if row is None:
            row = await s.scalar(select(m.Aggregate).where(m.Aggregate.uuid == ident))
        if row is None:
            raise NotFound(f"Aggregate {ident} could not be found.")
        return row

    @staticmethod
    async def _members(s: AsyncSession, ids: list[int]) -> dict[int, list[str]]:
        out: dict[int, list[str]] = {}
        if not ids:
            return out
        rows = await s.execute(
            select(m.AggregateHost.aggregate_id, m.AggregateHost.host)
            .where(m.AggregateHost.aggregate_id.in_(ids))
            .order_by(m.AggregateHost.host)
        )
        for agg, host in rows.all():
            out.setdefault(agg, []).append(host)
        return out

    # -- writes --------------------------------------------------------------------------

    async def create(self, name: str, zone: str | None) -> AggregateView:
        async with self.db.transaction() as s:
            await self._check_name(s, name)
            row = m.Aggregate(name=name, metadata_={ZONE_KEY: zone} if zone else {})
            s.add(row)
            await s.flush()
        return AggregateView(row, [])

    async def update(self, ident: str, name: str | None, zone: str | None) -> AggregateView:
        async with self.db.transaction() as s:
            row = await self._find(s, ident)
            if name is not None and name != row.name:
                await self._check_name(s, name)
                row.name = name
            hosts = (await self._members(s, [row.id])).get(row.id, [])
            if zone is not None:
                await self._check_zone(s, row, hosts, zone)
                row.metadata_ = {**row.metadata_, ZONE_KEY: zone}
            row.updated_at = utcnow()
            await self._sync_zones(s, hosts)
        return AggregateView(row, hosts)

    async def set_metadata(self, ident: str, items: dict[str, str | None]) -> AggregateView:
        """Merge ``items`` into the metadata; a None value removes its key."""
        async with self.db.transaction() as s:
            row = await self._find(s, ident)
            hosts = (await self._members(s, [row.id])).get(row.id, [])
            if items.get(ZONE_KEY) is not None:
                await self._check_zone(s, row, hosts, str(items[ZONE_KEY]))
            merged = dict(row.metadata_)
            for key, value in items.items():
                if value is None:
                    merged.pop(key, None)
                else:
                    merged[key] = value
            row.metadata_ = merged
            row.updated_at = utcnow()
            await self._sync_zones(s, hosts)
        return AggregateView(row, hosts)

    async def delete(self, ident: str) -> None:
        async with self.db.transaction() as s:
            row = await self._find(s, ident)
            if (await self._members(s, [row.id])).get(row.id):
                raise BadRequest(
                    f"Invalid aggregate action: delete for aggregate {row.id}. "
                    "Reason: Host aggregate is not empty."
                )
            await s.delete(row)

    async def add_host(self, ident: str, host: str) -> AggregateView:
        async with self.db.transaction() as s:
            row = await self._find(s, ident)
            if await s.scalar(select(m.ComputeHost.id).where(m.ComputeHost.host == host)) is None:
                raise NotFound(f"Compute host {host} could not be found.")
            hosts = (await self._members(s, [row.id])).get(row.id, [])
            if host in hosts:
                raise Conflict(f"Aggregate {row.id} already has host {host}.")
            zone = row.metadata_.get(ZONE_KEY)
            if zone:
                other = await self._host_zones(s, [host], exclude=row.id)
                if other.get(host, zone) != zone:
                    raise Conflict(
                        f"Cannot add host {host} to aggregate {row.id}: the host is already "
                        f"in availability zone {other[host]}."
                    )
            s.add(m.AggregateHost(aggregate_id=row.id, host=host))
            row.updated_at = utcnow()
            await s.flush()
            await self._sync_zones(s, [host])
        return AggregateView(row, sorted([*hosts, host]))

    async def remove_host(self, ident: str, host: str) -> AggregateView:
        async with self.db.transaction() as s:
            row = await self._find(s, ident)
            member = await s.get(m.AggregateHost, (row.id, host))
            if member is None:
                raise NotFound(
                    f"Cannot remove host {host} in aggregate {row.id}: "
                    f"Aggregate {row.id} has no host {host}."
                )
            await s.delete(member)
            row.updated_at = utcnow()
            await s.flush()
            await self._sync_zones(s, [host])
            hosts = (await self._members(s, [row.id])).get(row.id, [])
        return AggregateView(row, hosts)

    # -- zones ---------------------------------------------------------------------------

    async def _check_name(self, s: AsyncSession, name: str) -> None:
        if await s.scalar(select(m.Aggregate.id).where(m.Aggregate.name == name)) is not None:
            raise Conflict(f"Aggregate {name} already exists.")

    async def _check_zone(
        self, s: AsyncSession, row: m.Aggregate, hosts: list[str], zone: str
    ) -> None:
        """A host is in one zone: its other aggregates must not name another."""
        if not zone.strip() or ":" in zone:
            raise BadRequest(f"Invalid availability zone {zone!r}: not empty, and no ':'.")
        for host, other in (await self._host_zones(s, hosts, exclude=row.id)).items():
            if other != zone:
                raise BadRequest(
                    f"Invalid aggregate action: update_meta for aggregate {row.id}. Reason: "
                    f"host {host} is already in availability zone {other}."
                )

    @staticmethod
    async def _host_zones(
        s: AsyncSession, hosts: Iterable[str], exclude: int | None = None
    ) -> dict[str, str]:
        """The zone each host's aggregates (but ``exclude``) give it, if any."""
        hosts = list(hosts)
        if not hosts:
            return {}
        stmt = (
            select(m.AggregateHost.host, m.Aggregate.metadata_)
            .join(m.Aggregate, m.Aggregate.id == m.AggregateHost.aggregate_id)
            .where(m.AggregateHost.host.in_(hosts))
            .order_by(m.Aggregate.id)
        )
        if exclude is not None:
            stmt = stmt.where(m.Aggregate.id != exclude)
        out: dict[str, str] = {}
        for host, metadata in (await s.execute(stmt)).all():
            zone = (metadata or {}).get(ZONE_KEY)
            if zone and host not in out:
                out[host] = zone
        return out

    async def _sync_zones(self, s: AsyncSession, hosts: Iterable[str]) -> None:
        hosts = list(hosts)
        zones = await self._host_zones(s, hosts)
        for row in (
            await s.scalars(select(m.ComputeHost).where(m.ComputeHost.host.in_(hosts)))
        ).all():
            row.availability_zone = zones.get(row.host, DEFAULT_ZONE)
