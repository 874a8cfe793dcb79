"""Flavors, their extra specs, and access to private flavors."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import or_, select

from stratus.common.context import RequestContext
from stratus.common.db import Database
from stratus.compute import models as m
from stratus.compute.errors import BadRequest, Conflict, NotFound


def flavor_snapshot(f: m.Flavor) -> dict[str, Any]:
    """The flavor as a server keeps it (it survives the flavor's deletion)."""
    return {
        "id": f.id,
        "name": f.name,
        "vcpus": f.vcpus,
        "ram": f.memory_mb,
        "disk": f.root_gb,
        "ephemeral": f.ephemeral_gb,
        "swap": f.swap,
        "extra_specs": dict(f.extra_specs),
    }


class Flavors:
    def __init__(self, db: Database):
        self.db = db

    async def get(self, ctx: RequestContext, flavor_id: str) -> m.Flavor:
        async with self.db.session() as s:
            flavor = await s.get(m.Flavor, flavor_id)
            if flavor is not None and not flavor.is_public and not ctx.is_admin:
                allowed = await s.get(m.FlavorAccess, (flavor_id, ctx.project_id))
                if allowed is None:
                    flavor = None
        if flavor is None:
            raise NotFound(f"Flavor {flavor_id} could not be found.")
        return flavor

    async def list_flavors(
        self,
        ctx: RequestContext,
        *,
        is_public: bool | None,
        min_ram: int | None,
        min_disk: int | None,
        limit: int | None,
        marker: str | None,
    ) -> list[m.Flavor]:
        stmt = select(m.Flavor).where(m.Flavor.disabled.is_(False))
        if not ctx.is_admin:
            shared = select(m.FlavorAccess.flavor_id).where(
                m.FlavorAccess.project_id == ctx.project_id
            )
            if is_public is False:
                stmt = stmt.where(m.Flavor.id.in_(shared))
            else:
                stmt = stmt.where(or_(m.Flavor.is_public.is_(True), m.Flavor.id.in_(shared)))
        elif is_public is not None:
            stmt = stmt.where(m.Flavor.is_public.is_(is_public))
        if min_ram is not None:
            stmt = stmt.where(m.Flavor.memory_mb >= min_ram)
        if min_disk is not None:
            stmt = stmt.where(m.Flavor.root_gb >= min_disk)
        async with self.db.session() as s:
            rows = list((await s.scalars(stmt.order_by(m.Flavor.memory_mb, m.Flavor.id))).all())
        if marker is not None:
            ids = [f.id for f in rows]
            if marker not in ids:
                raise BadRequest(f"Marker {marker} could not be found.")
            rows = rows[ids.index(marker) + 1 :]
        return rows[:limit] if limit else rows

    async def create(self, attrs: dict[str, Any]) -> m.Flavor:
        flavor_id = attrs.get("id")
        if flavor_id in (None, "auto"):
            flavor_id = str(uuid.uuid4())
        async with self.db.transaction() as s:
            if await s.get(m.Flavor, str(flavor_id)) is not None:
                raise Conflict(f"Flavor with ID {flavor_id} already exists.")
            if await s.scalar(select(m.Flavor.id).where(m.Flavor.name == attrs["name"])):
                raise Conflict(f"Flavor with name {attrs['name']} already exists.")
            flavor = m.Flavor(
                id=str(flavor_id),
                name=attrs["name"],
                memory_mb=attrs["ram"],
                vcpus=attrs["vcpus"],
                root_gb=attrs.get("disk", 0),
                ephemeral_gb=attrs.get("OS-FLV-EXT-DATA:ephemeral") or 0,
                swap=attrs.get("swap") or 0,
                rxtx_factor=attrs.get("rxtx_factor") or 1.0,
                is_public=attrs.get("os-flavor-access:is_public", True),
                description=attrs.get("description"),
                extra_specs={},
            )
            s.add(flavor)
        return flavor

    async def update_description(self, flavor_id: str, description: str | None) -> m.Flavor:
        async with self.db.transaction() as s:
            flavor = await s.get(m.Flavor, flavor_id)
            if flavor is None:
                raise NotFound(f"Flavor {flavor_id} could not be found.")
            flavor.description = description
        return flavor

    async def delete(self, flavor_id: str) -> None:
        async with self.db.transaction() as s:
            flavor = await s.get(m.Flavor, flavor_id)
            if flavor is None:
                raise NotFound(f"Flavor {flavor_id} could not be found.")
            await s.delete(flavor)

    async def set_extra_specs(
        self, flavor_id: str, specs: dict[str, str], replace_key: str | None = None
    ) -> dict[str, str]:
        async with self.db.transaction() as s:
            flavor = await s.get(m.Flavor, flavor_id)
            if flavor is None:
                raise NotFound(f"Flavor {flavor_id} could not be found.")
            merged = {**flavor.extra_specs, **specs}
            flavor.extra_specs = merged
        return merged

    async def delete_extra_spec(self, flavor_id: str, key: str) -> None:
        async with self.db.transaction() as s:
            flavor = await s.get(m.Flavor, flavor_id)
            if flavor is None:
                raise NotFound(f"Flavor {flavor_id} could not be found.")
            if key not in flavor.extra_specs:
                raise NotFound(f"Flavor {flavor_id} has no extra specs with key {key}.")
            specs = dict(flavor.extra_specs)
            del specs[key]
            flavor.extra_specs = specs

    async def access(self, flavor_id: str) -> list[str]:
        async with self.db.session() as s:
            flavor = await s.get(m.Flavor, flavor_id)
            if flavor is None:
                raise NotFound(f"Flavor {flavor_id} could not be found.")
            if flavor.is_public:
                raise NotFound("Access list not available for public flavors.")
            rows = await s.scalars(
                select(m.FlavorAccess.project_id).where(m.FlavorAccess.flavor_id == flavor_id)
            )
            return sorted(rows.all())

    async def add_access(self, flavor_id: str, project_id: str) -> list[str]:
        async with self.db.transaction() as s:
            flavor = await s.get(m.Flavor, flavor_id)
            if flavor is None:
                raise NotFound(f"Flavor {flavor_id} could not be found.")
            if flavor.is_public:
                raise Conflict("Can not add access to a public flavor.")
            if await s.get(m.FlavorAccess, (flavor_id, project_id)) is not None:
                raise Conflict(
                    f"Flavor access already exists for flavor {flavor_id} and project {project_id} combination."
                )
            s.add(m.FlavorAccess(flavor_id=flavor_id, project_id=project_id))
        return await self.access(flavor_id)

    async def remove_access(self, flavor_id: str, project_id: str) -> list[str]:
        async with self.db.transaction() as s:
            row = await s.get(m.FlavorAccess, (flavor_id, project_id))
            if row is None:
                raise NotFound(
                    f"Flavor access not found for {flavor_id} / {project_id} combination."
                )
            await s.delete(row)
        return await self.access(flavor_id)
