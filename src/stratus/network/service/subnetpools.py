"""Subnet pools (``subnet_allocation``): prefixes that subnets are carved
from by prefix length, lowest free block first, with the pool's row locked
while it is carved (on PostgreSQL; SQLite serializes writers)."""

from __future__ import annotations

import ipaddress
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from stratus.common.context import RequestContext
from stratus.network import models as m
from stratus.network.errors import (
    BadRequest,
    IllegalSubnetPoolUpdate,
    InvalidInput,
    SubnetAllocationError,
    SubnetPoolInUse,
    SubnetPoolNotFound,
)
from stratus.network.service import records
from stratus.network.service.core import Changes, Core, check_revision, push_filters
from stratus.network.service.ipam import IPNet, parse_cidr, within
from stratus.network.service.quotas import Quotas
from stratus.network.service.tags import drop_tags, set_tags

COLUMNS = {
    "id": m.SubnetPool.id,
    "name": m.SubnetPool.name,
    "project_id": m.SubnetPool.project_id,
    "tenant_id": m.SubnetPool.project_id,
}


def first_free(prefix: IPNet, prefixlen: int, taken: list[tuple[int, int]]) -> IPNet | None:
    """The lowest block of ``prefixlen`` inside ``prefix`` overlapping none
    of the ``taken`` ranges (sorted by start)."""
    size = 1 << (prefix.max_prefixlen - prefixlen)
    pos, end = int(prefix.network_address), int(prefix.broadcast_address)
    for start, stop in taken:
        if stop < pos:
            continue
        if start > pos + size - 1:
            break
        pos = -(-(stop + 1) // size) * size  # past the taken range, aligned
    if pos + size - 1 > end:
        return None
    return ipaddress.ip_network((pos, prefixlen))


def _prefixes(values: list[Any]) -> tuple[int, list[IPNet]]:
    if not values:
        raise InvalidInput("A subnet pool needs at least one prefix")
    nets = [parse_cidr(v, strict=False) for v in values]
    versions = {n.version for n in nets}
    if len(versions) != 1:
        raise IllegalSubnetPoolUpdate("prefixes of mixed IP versions")
    collapsed: list[IPNet] = list(ipaddress.collapse_addresses(nets))  # type: ignore[type-var]
    return versions.pop(), collapsed


class SubnetPools:
    def __init__(self, core: Core, quotas: Quotas):
        self.core = core
        self.quotas = quotas

    async def load(self, s: AsyncSession, ctx: RequestContext, pool_id: str) -> m.SubnetPool:
        pool = await s.get(m.SubnetPool, pool_id)
        if pool is None or not (ctx.is_admin or pool.shared or pool.project_id == ctx.project_id):
            raise SubnetPoolNotFound(pool_id)
        return pool

    async def get(self, ctx: RequestContext, pool_id: str) -> records.SubnetPoolRecord:
        async def work(s: AsyncSession) -> records.SubnetPoolRecord:
            return (await records.subnet_pools(s, [await self.load(s, ctx, pool_id)]))[0]

        return await self.core.read(work)

    async def find(
        self, ctx: RequestContext, filters: dict[str, list[str]] | None = None
    ) -> list[records.SubnetPoolRecord]:
        async def work(s: AsyncSession) -> list[records.SubnetPoolRecord]:
            stmt = push_filters(select(m.SubnetPool), COLUMNS, filters)
            if not ctx.is_admin:
                stmt = stmt.where(
                    or_(
                        m.SubnetPool.project_id == (ctx.project_id or ""),
                        m.SubnetPool.shared.is_(True),
                    )
                )
            rows = (await s.scalars(stmt.order_by(m.SubnetPool.created_at))).all()
            return await records.subnet_pools(s, rows)

        return await self.core.read(work)

    async def default_pool(self, s: AsyncSession, version: int) -> m.SubnetPool | None:
        return await s.scalar(
            select(m.SubnetPool).where(
                m.SubnetPool.is_default.is_(True), m.SubnetPool.ip_version == version
            )
        )

    def _lengths(self, pool: m.SubnetPool, attrs: dict[str, Any]) -> None:
        top = 32 if pool.ip_version == 4 else 128
        for key in ("min_prefixlen", "max_prefixlen", "default_prefixlen"):
            if attrs.get(key) is not None:
                setattr(pool, key, int(attrs[key]))
        if attrs.get("min_prefixlen") is not None and attrs.get("default_prefixlen") is None:
            pool.default_prefixlen = max(pool.default_prefixlen, pool.min_prefixlen)
        if not 0 <= pool.min_prefixlen <= pool.default_prefixlen <= pool.max_prefixlen <= top:
            raise InvalidInput(
                "Illegal prefix bounds: min_prefixlen <= default_prefixlen <= max_prefixlen "
                f"<= {top} must hold"
            )

    async def _check_default(self, s: AsyncSession, pool: m.SubnetPool) -> None:
        other = await self.default_pool(s, pool.ip_version)
        if other is not None and other.id != pool.id:
            raise BadRequest(
                "Invalid input for operation: A default subnetpool for this IP family has "
                "already been set. Only one default may exist per IP family."
            )

    async def create(self, ctx: RequestContext, attrs: dict[str, Any]) -> records.SubnetPoolRecord:
        project = attrs.get("project_id") or ctx.project_id or ""
        version, prefixes = _prefixes(list(attrs.get("prefixes") or []))

        async def work(s: AsyncSession, ch: Changes) -> records.SubnetPoolRecord:
            await self.quotas.check(s, project, "subnetpool")
            low = 8 if version == 4 else 64
            pool = m.SubnetPool(
                project_id=project,
                name=attrs.get("name") or "",
                description=attrs.get("description") or "",
                ip_version=version,
                prefixes=[str(p) for p in prefixes],
                min_prefixlen=low,
                default_prefixlen=low,
                max_prefixlen=32 if version == 4 else 128,
                shared=bool(attrs.get("shared", False)),
                is_default=bool(attrs.get("is_default", False)),
                default_quota=attrs.get("default_quota"),
            )
            self._lengths(pool, attrs)
            if pool.is_default:
                await self._check_default(s, pool)
            s.add(pool)
            await s.flush()
            if attrs.get("tags"):
                await set_tags(s, pool.id, attrs["tags"])
            return (await records.subnet_pools(s, [pool]))[0]

        return await self.core.write(work)

    async def update(
        self, ctx: RequestContext, pool_id: str, attrs: dict[str, Any], if_match: int | None
    ) -> records.SubnetPoolRecord:
        async def work(s: AsyncSession, ch: Changes) -> records.SubnetPoolRecord:
            pool = await self.load(s, ctx, pool_id)
            check_revision(pool, if_match)
            if attrs.get("prefixes") is not None:
                version, new = _prefixes(list(attrs["prefixes"]))
                old = [parse_cidr(p) for p in pool.prefixes]
                if version != pool.ip_version or not all(
                    any(within(o, n) for n in new) for o in old
                ):
                    raise IllegalSubnetPoolUpdate("Existing prefixes must be a subset of the new")
                pool.prefixes = [str(p) for p in new]
            self._lengths(pool, attrs)
            for key in ("name", "description", "default_quota"):
                if key in attrs:
                    setattr(
                        pool,
                        key,
                        attrs[key]
                        if attrs[key] is not None
                        else (None if key == "default_quota" else ""),
                    )
            if "is_default" in attrs:
                pool.is_default = bool(attrs["is_default"])
                if pool.is_default:
                    await self._check_default(s, pool)
            pool.bump()
            await s.flush()
            return (await records.subnet_pools(s, [pool]))[0]

        return await self.core.write(work)

    async def delete(self, ctx: RequestContext, pool_id: str, if_match: int | None) -> None:
        async def work(s: AsyncSession, ch: Changes) -> None:
            pool = await self.load(s, ctx, pool_id)
            check_revision(pool, if_match)
            used = await s.scalar(select(m.Subnet.id).where(m.Subnet.subnetpool_id == pool.id))
            if used is not None:
                raise SubnetPoolInUse(pool.id)
            await drop_tags(s, [pool.id])
            await s.delete(pool)

        await self.core.write(work)

    async def allocate(
        self,
        s: AsyncSession,
        pool: m.SubnetPool,
        project: str,
        prefixlen: int | None,
        cidr: str | None,
    ) -> IPNet:
        """A CIDR for a new subnet from ``pool``: the one asked for, if free,
        or the lowest free block of ``prefixlen`` (the pool's default)."""
        await s.execute(select(m.SubnetPool.id).where(m.SubnetPool.id == pool.id).with_for_update())
        rows = (await s.scalars(select(m.Subnet).where(m.Subnet.subnetpool_id == pool.id))).all()
        used = sorted(
            (int(n.network_address), int(n.broadcast_address))
            for n in (parse_cidr(r.cidr, strict=False) for r in rows)
        )
        prefixes = [parse_cidr(p, strict=False) for p in pool.prefixes]
        if cidr is not None:
            net = parse_cidr(cidr)
            prefixlen = net.prefixlen
        length = prefixlen if prefixlen is not None else pool.default_prefixlen
        if not pool.min_prefixlen <= length <= pool.max_prefixlen:
            raise SubnetAllocationError(
                f"Unsupported prefix length {length}: the pool allows "
                f"{pool.min_prefixlen} to {pool.max_prefixlen}"
            )
        if cidr is not None:
            if not any(within(net, p) for p in prefixes):
                raise SubnetAllocationError(f"Cidr {net} not in the pool's prefixes")
            a, b = int(net.network_address), int(net.broadcast_address)
            if any(not (b < x or a > y) for x, y in used):
                raise SubnetAllocationError(f"Cidr {net} overlaps a subnet of the pool")
            found: IPNet | None = net
        else:
            found = None
            for prefix in prefixes:
                if length >= prefix.prefixlen:
                    found = first_free(prefix, length, used)
                    if found is not None:
                        break
            if found is None:
                raise SubnetAllocationError(
                    f"Insufficient prefix space to allocate subnet size /{length}"
                )
        assert found is not None
        await self._check_quota(s, pool, project, found, rows)
        return found

    async def _check_quota(
        self, s: AsyncSession, pool: m.SubnetPool, project: str, net: IPNet, rows: Any
    ) -> None:
        if pool.default_quota is None:
            return
        unit = 0 if pool.ip_version == 4 else 64

        def size(n: IPNet) -> int:
            return (
                1 << (n.max_prefixlen - unit - n.prefixlen)
                if unit == 0
                else 1 << max(0, unit - n.prefixlen)
            )

        used = sum(size(parse_cidr(r.cidr, strict=False)) for r in rows if r.project_id == project)
        if used + size(net) > pool.default_quota:
            raise SubnetAllocationError(
                f"Per-tenant subnet pool prefix quota exceeded for pool {pool.id}"
            )
