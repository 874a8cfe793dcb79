"""Regions, services, endpoints, and the service catalog put in tokens."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from stratus.common.listing import Page, filter_strings, paginate
from stratus.identity import models as m
from stratus.identity.errors import Forbidden, ValidationError, conflict, not_found
from stratus.identity.service.core import Core
from stratus.identity.service.endpoint_filter import EndpointFilter

INTERFACES = ("public", "internal", "admin")
_TEMPLATE = re.compile(r"\$\((\w+)\)s|%\((\w+)\)s")


def substitute(url: str, values: Mapping[str, str | None]) -> str | None:
    """Fill ``$(project_id)s`` (or ``%(tenant_id)s``...) in an endpoint URL;
    None when the URL needs a value the token does not have."""
    missing = False

    def fill(match: re.Match[str]) -> str:
        nonlocal missing
        key = match.group(1) or match.group(2)
        value = values.get("project_id" if key == "tenant_id" else key)
        if value is None:
            missing = True
            return ""
        return value

    out = _TEMPLATE.sub(fill, url)
    return None if missing else out


class Catalog:
    def __init__(self, core: Core, endpoint_filter: EndpointFilter | None = None):
        self.core = core
        self.endpoint_filter = endpoint_filter

    # -- regions ------------------------------------------------------------

    async def get_region(self, region_id: str, s: AsyncSession | None = None) -> m.Region:
        if s is None:
            async with self.core.db.session() as session:
                return await self.get_region(region_id, session)
        region = await s.get(m.Region, region_id)
        if region is None:
            raise not_found("region", region_id)
        return region

    async def list_regions(
        self, parent_region_id: str | None, limit: int | None, marker: str | None
    ) -> Page[m.Region]:
        stmt = select(m.Region)
        if parent_region_id:
            stmt = stmt.where(m.Region.parent_region_id == parent_region_id)
        async with self.core.db.session() as s:
            return await paginate(
                s, stmt, m.Region.id, limit=limit, marker=marker, max_limit=self.core.list_limit
            )

    async def create_region(self, attrs: dict[str, Any]) -> m.Region:
        async with self.core.write() as s:
            region_id = attrs.pop("id", None) or m.new_id()
            if await s.get(m.Region, region_id) is not None:
                raise conflict("region", f"region {region_id} exists")
            parent = attrs.pop("parent_region_id", None)
            if parent and await s.get(m.Region, parent) is None:
                raise ValidationError(f"Could not find parent region {parent}.")
            region = m.Region(
                id=region_id,
                description=attrs.pop("description", None) or "",
                parent_region_id=parent,
                extra=attrs,
            )
            s.add(region)
        return region

    async def update_region(self, region_id: str, attrs: dict[str, Any]) -> m.Region:
        async with self.core.write() as s:
            region = await self.get_region(region_id, s)
            if "parent_region_id" in attrs:
                parent = attrs.pop("parent_region_id")
                ancestor = parent
                while ancestor:
                    if ancestor == region.id:
                        raise ValidationError("A region cannot be its own ancestor.")
                    found = await s.get(m.Region, ancestor)
                    if found is None:
                        raise ValidationError(f"Could not find parent region {parent}.")
                    ancestor = found.parent_region_id
                region.parent_region_id = parent
            if "description" in attrs:
                region.description = attrs.pop("description") or ""
            attrs.pop("id", None)
            if attrs:
                region.extra = {**region.extra, **attrs}
        return region

    async def delete_region(self, region_id: str) -> None:
        async with self.core.write() as s:
            region = await self.get_region(region_id, s)
            if await s.scalar(
                select(m.Region.id).where(m.Region.parent_region_id == region_id).limit(1)
            ):
                raise Forbidden("Cannot delete a region that has child regions.")
            if await s.scalar(
                select(m.Endpoint.id).where(m.Endpoint.region_id == region_id).limit(1)
            ):
                raise Forbidden("Cannot delete a region that has endpoints.")
            await s.delete(region)

    # -- services ------------------------------------------------------------

    async def get_service(self, service_id: str, s: AsyncSession | None = None) -> m.Service:
        if s is None:
            async with self.core.db.session() as session:
                return await self.get_service(service_id, session)
        service = await s.get(m.Service, service_id)
        if service is None:
            raise not_found("service", service_id)
        return service

    async def list_services(
        self, filters: Mapping[str, str], limit: int | None, marker: str | None
    ) -> Page[m.Service]:
        stmt = filter_strings(
            select(m.Service), {"name": m.Service.name, "type": m.Service.type}, filters
        )
        async with self.core.db.session() as s:
            return await paginate(
                s, stmt, m.Service.id, limit=limit, marker=marker, max_limit=self.core.list_limit
            )

    async def create_service(self, attrs: dict[str, Any]) -> m.Service:
        async with self.core.write() as s:
            service = m.Service(
                id=attrs.pop("id", None) or m.new_id(),
                type=attrs.pop("type"),
                name=attrs.pop("name", None) or "",
                description=attrs.pop("description", None) or "",
                enabled=attrs.pop("enabled", True),
                extra=attrs,
            )
            s.add(service)
        return service

    async def update_service(self, service_id: str, attrs: dict[str, Any]) -> m.Service:
        async with self.core.write() as s:
            service = await self.get_service(service_id, s)
            for key in ("type", "name", "description", "enabled"):
                if key in attrs:
                    value = attrs.pop(key)
                    setattr(service, key, value if value is not None or key == "enabled" else "")
            attrs.pop("id", None)
            if attrs:
                service.extra = {**service.extra, **attrs}
        return service

    async def delete_service(self, service_id: str) -> None:
        async with self.core.write() as s:
            service = await self.get_service(service_id, s)
            await s.delete(service)

    # -- endpoints -----------------------------------------------------------

    async def get_endpoint(self, endpoint_id: str, s: AsyncSession | None = None) -> m.Endpoint:
        if s is None:
            async with self.core.db.session() as session:
                return await self.get_endpoint(endpoint_id, session)
        endpoint = await s.get(m.Endpoint, endpoint_id)
        if endpoint is None:
            raise not_found("endpoint", endpoint_id)
        return endpoint

    async def list_endpoints(
        self, filters: Mapping[str, str], limit: int | None, marker: str | None
    ) -> Page[m.Endpoint]:
        columns = {
            "service_id": m.Endpoint.service_id,
            "interface": m.Endpoint.interface,
            "region_id": m.Endpoint.region_id,
        }
        params = dict(filters)
        if "region" in params and "region_id" not in params:
            params["region_id"] = params.pop("region")
        stmt = filter_strings(select(m.Endpoint), columns, params)
        async with self.core.db.session() as s:
            return await paginate(
                s, stmt, m.Endpoint.id, limit=limit, marker=marker, max_limit=self.core.list_limit
            )

    async def _check_endpoint(self, s: AsyncSession, attrs: dict[str, Any]) -> None:
        if "interface" in attrs and attrs["interface"] not in INTERFACES:
            raise ValidationError(
                f"Invalid interface {attrs['interface']!r}: one of {', '.join(INTERFACES)}."
            )
        if "service_id" in attrs and await s.get(m.Service, attrs["service_id"]) is None:
            raise ValidationError(f"Could not find service: {attrs['service_id']}.")
        if attrs.get("region_id") and await s.get(m.Region, attrs["region_id"]) is None:
            raise ValidationError(f"Could not find region: {attrs['region_id']}.")
        if "url" in attrs and not re.match(r"^https?://", attrs["url"] or ""):
            raise ValidationError("An endpoint URL must be an http:// or https:// URL.")

    async def create_endpoint(self, attrs: dict[str, Any]) -> m.Endpoint:
        legacy = _legacy_region(attrs)
        async with self.core.write() as s:
            await _ensure_region(s, legacy)
            await self._check_endpoint(s, attrs)
            endpoint = m.Endpoint(
                id=attrs.pop("id", None) or m.new_id(),
                service_id=attrs.pop("service_id"),
                region_id=attrs.pop("region_id", None),
                interface=attrs.pop("interface"),
                url=attrs.pop("url"),
                enabled=attrs.pop("enabled", True),
                extra=attrs,
            )
            s.add(endpoint)
        return endpoint

    async def update_endpoint(self, endpoint_id: str, attrs: dict[str, Any]) -> m.Endpoint:
        legacy = _legacy_region(attrs)
        async with self.core.write() as s:
            await _ensure_region(s, legacy)
            endpoint = await self.get_endpoint(endpoint_id, s)
            await self._check_endpoint(s, attrs)
            for key in ("service_id", "region_id", "interface", "url", "enabled"):
                if key in attrs:
                    setattr(endpoint, key, attrs.pop(key))
            attrs.pop("id", None)
            if attrs:
                endpoint.extra = {**endpoint.extra, **attrs}
        return endpoint

    async def delete_endpoint(self, endpoint_id: str) -> None:
        async with self.core.write() as s:
            endpoint = await self.get_endpoint(endpoint_id, s)
            await s.delete(endpoint)

    # -- the catalog ----------------------------------------------------------------

    async def _entries(self) -> list[tuple[m.Service, list[m.Endpoint]]]:
        cache = self.core.state.cache("catalog")
        if "entries" not in cache:
            async with self.core.db.session() as s:
                services = (
                    await s.scalars(
                        select(m.Service)
                        .where(m.Service.enabled.is_(True))
                        .order_by(m.Service.type)
                    )
                ).all()
                endpoints = (
                    await s.scalars(
                        select(m.Endpoint)
                        .where(m.Endpoint.enabled.is_(True))
                        .order_by(m.Endpoint.interface)
                    )
                ).all()
            by_service: dict[str, list[m.Endpoint]] = {}
            for e in endpoints:
                by_service.setdefault(e.service_id, []).append(e)
            cache["entries"] = [(svc, by_service.get(svc.id, [])) for svc in services]
        return cache["entries"]  # type: ignore[no-any-return]

    async def for_scope(self, project_id: str | None, user_id: str | None) -> list[dict[str, Any]]:
        """The catalog as tokens carry it, with URL templates filled in."""
        values = {"project_id": project_id, "user_id": user_id}
        visible: set[str] | None = None
        if project_id is not None and self.endpoint_filter is not None:
            visible = await self.endpoint_filter.visible(project_id)
        catalog = []
        for service, endpoints in await self._entries():
            rendered = []
            if visible is not None:
                endpoints = [e for e in endpoints if e.id in visible]
                if not endpoints:
                    continue  # a filtered catalog names only services it can reach
            for e in endpoints:
                url = substitute(e.url, values)
                if url is None:
                    continue
                rendered.append(
                    {
                        "id": e.id,
                        "interface": e.interface,
                        "region_id": e.region_id,
                        "region": e.region_id,
                        "url": url,
                    }
                )
            catalog.append(
                {
                    "id": service.id,
                    "type": service.type,
                    "name": service.name,
                    "endpoints": rendered,
                }
            )
        return catalog


def _legacy_region(attrs: dict[str, Any]) -> str | None:
    """An endpoint's legacy ``region`` (v2-style), made its ``region_id``:
    the region to create when it does not exist, as Keystone does.  Only
    ``region_id`` names a region that must exist already."""
    region = attrs.pop("region", None)
    if region is None or attrs.get("region_id") is not None:
        return None
    attrs["region_id"] = region
    return str(region)


async def _ensure_region(s: AsyncSession, region_id: str | None) -> None:
    if region_id and await s.get(m.Region, region_id) is None:
        s.add(m.Region(id=region_id, description="", parent_region_id=None, extra={}))
        await s.flush()
