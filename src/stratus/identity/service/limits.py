"""Unified limits: registered (default) limits per service resource, and
per-project limits overriding them.  Services read the effective limit with
``effective``; enforcement is theirs (Glance's and Nova's model)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import ColumnElement, Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from stratus.identity import models as m
from stratus.identity.errors import ValidationError, conflict, not_found
from stratus.identity.service.core import Core

LimitRow = m.RegisteredLimit | m.Limit


class Limits:
    def __init__(self, core: Core):
        self.core = core

    async def _check_refs(self, s: AsyncSession, attrs: Mapping[str, Any]) -> None:
        if "service_id" in attrs and await s.get(m.Service, attrs["service_id"]) is None:
            raise ValidationError(f"Could not find service: {attrs['service_id']}.")
        if attrs.get("region_id") and await s.get(m.Region, attrs["region_id"]) is None:
            raise ValidationError(f"Could not find region: {attrs['region_id']}.")
        if attrs.get("project_id") and await s.get(m.Project, attrs["project_id"]) is None:
            raise ValidationError(f"Could not find project: {attrs['project_id']}.")
        for key in ("default_limit", "resource_limit"):
            if key in attrs and attrs[key] < -1:
                raise ValidationError(f"{key} is -1 (unlimited) or more.")

    # -- both kinds ------------------------------------------------------------------

    async def _list(
        self,
        model: type[LimitRow],
        keys: tuple[str, ...],
        filters: Mapping[str, str],
        *where: ColumnElement[bool],
    ) -> list[Any]:
        stmt = select(model).where(*where)
        for key in keys:
            if filters.get(key):
                stmt = stmt.where(getattr(model, key) == filters[key])
        return await self._rows(stmt.order_by(model.id))

    async def _rows(self, stmt: Select[Any]) -> list[Any]:
        async with self.core.db.session() as s:
            return list((await s.scalars(stmt)).all())

    async def _get(self, model: type[LimitRow], kind: str, limit_id: str) -> Any:
        async with self.core.db.session() as s:
            row = await s.get(model, limit_id)
        if row is None:
            raise not_found(kind, limit_id)
        return row

    async def _update(
        self, model: type[LimitRow], kind: str, limit_id: str, attrs: dict[str, Any]
    ) -> Any:
        async with self.core.write() as s:
            row = await s.get(model, limit_id)
            if row is None:
                raise not_found(kind, limit_id)
            await self._check_refs(s, attrs)
            for key, value in attrs.items():
                setattr(row, key, value)
        return row

    async def _delete(self, model: type[LimitRow], kind: str, limit_id: str) -> None:
        async with self.core.write() as s:
            row = await s.get(model, limit_id)
            if row is None:
                raise not_found(kind, limit_id)
            await s.delete(row)

    @staticmethod
    async def _registered_id(s: AsyncSession, attrs: Mapping[str, Any]) -> str | None:
        """The registered limit of the same service, region and resource."""
        found = await s.scalar(
            select(m.RegisteredLimit.id).where(
                m.RegisteredLimit.service_id == attrs["service_id"],
                m.RegisteredLimit.region_id == attrs.get("region_id"),
                m.RegisteredLimit.resource_name == attrs["resource_name"],
            )
        )
        return str(found) if found else None

    # -- registered limits ---------------------------------------------------------

    async def list_registered(self, filters: Mapping[str, str]) -> list[m.RegisteredLimit]:
        keys = ("service_id", "region_id", "resource_name")
        return await self._list(m.RegisteredLimit, keys, filters)

    async def get_registered(self, limit_id: str) -> m.RegisteredLimit:
        row: m.RegisteredLimit = await self._get(m.RegisteredLimit, "registered limit", limit_id)
        return row

    async def create_registered(self, items: list[dict[str, Any]]) -> list[m.RegisteredLimit]:
        out = []
        async with self.core.write() as s:
            for attrs in items:
                await self._check_refs(s, attrs)
                if await self._registered_id(s, attrs):
                    raise conflict(
                        "registered limit", f"{attrs['resource_name']} is already registered"
                    )
                row = m.RegisteredLimit(id=m.new_id(), **attrs)
                s.add(row)
                out.append(row)
        return out

    async def update_registered(self, limit_id: str, attrs: dict[str, Any]) -> m.RegisteredLimit:
        row: m.RegisteredLimit = await self._update(
            m.RegisteredLimit, "registered limit", limit_id, attrs
        )
        return row

    async def delete_registered(self, limit_id: str) -> None:
        await self._delete(m.RegisteredLimit, "registered limit", limit_id)

    # -- project limits --------------------------------------------------------------

    async def list_limits(
        self, filters: Mapping[str, str], project_id: str | None
    ) -> list[m.Limit]:
        """Project limits, those of ``project_id`` only when given."""
        keys = ("service_id", "region_id", "resource_name", "project_id", "domain_id")
        own = () if project_id is None else (m.Limit.project_id == project_id,)
        rows: list[m.Limit] = await self._list(m.Limit, keys, filters, *own)
        return rows

    async def get_limit(self, limit_id: str) -> m.Limit:
        row: m.Limit = await self._get(m.Limit, "limit", limit_id)
        return row

    async def create_limits(self, items: list[dict[str, Any]]) -> list[m.Limit]:
        out = []
        async with self.core.write() as s:
            for attrs in items:
                if not attrs.get("project_id"):
                    raise ValidationError("A limit names the project it applies to (project_id).")
                await self._check_refs(s, attrs)
                if await self._registered_id(s, attrs) is None:
                    raise ValidationError(
                        f"No registered limit for {attrs['resource_name']}: "
                        "register a default limit first."
                    )
                dup = await s.scalar(
                    select(m.Limit.id).where(
                        m.Limit.project_id == attrs["project_id"],
                        m.Limit.service_id == attrs["service_id"],
                        m.Limit.region_id == attrs.get("region_id"),
                        m.Limit.resource_name == attrs["resource_name"],
                    )
                )
                if dup:
                    raise conflict(
                        "limit", f"the project already has a {attrs['resource_name']} limit"
                    )
                row = m.Limit(id=m.new_id(), **attrs)
                s.add(row)
                out.append(row)
        return out

    async def update_limit(self, limit_id: str, attrs: dict[str, Any]) -> m.Limit:
        row: m.Limit = await self._update(m.Limit, "limit", limit_id, attrs)
        return row

    async def delete_limit(self, limit_id: str) -> None:
        await self._delete(m.Limit, "limit", limit_id)

    # -- for services ------------------------------------------------------------------

    async def effective(self, project_id: str, service_type: str, resource: str) -> int | None:
        """The project's limit on a resource of a service type, else the
        registered default, else None (no unified limit set)."""
        cache = self.core.state.cache("limits")
        key = (project_id, service_type, resource)
        if key not in cache:
            async with self.core.db.session() as s:
                service_ids = select(m.Service.id).where(m.Service.type == service_type)
                own = await s.scalar(
                    select(m.Limit.resource_limit).where(
                        m.Limit.project_id == project_id,
                        m.Limit.service_id.in_(service_ids),
                        m.Limit.resource_name == resource,
                    )
                )
                if own is None:
                    own = await s.scalar(
                        select(m.RegisteredLimit.default_limit).where(
                            m.RegisteredLimit.service_id.in_(service_ids),
                            m.RegisteredLimit.resource_name == resource,
                        )
                    )
            cache[key] = own
        return cache[key]  # type: ignore[no-any-return]
