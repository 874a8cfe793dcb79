"""Endpoint filtering (Keystone's OS-EP-FILTER): endpoint groups, chosen by
interface, service and region, and endpoints associated with projects one by
one or through groups.  A project with any association sees only those
endpoints in its tokens' catalog."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from stratus.identity import models as m
from stratus.identity.errors import NotFound, not_found
from stratus.identity.service.core import Core

_EPOCH = ("epoch",)  # the cache key of a marker that dies with the cache's contents


def matches(group: m.EndpointGroup, endpoint: m.Endpoint) -> bool:
    return all(getattr(endpoint, key) == value for key, value in group.filters.items())


class EndpointFilter:
    def __init__(self, core: Core):
        self.core = core

    # -- endpoint groups --------------------------------------------------------------

    async def get_group(self, group_id: str, s: AsyncSession | None = None) -> m.EndpointGroup:
        if s is None:
            async with self.core.db.session() as session:
                return await self.get_group(group_id, session)
        group = await s.get(m.EndpointGroup, group_id)
        if group is None:
            raise not_found("endpoint group", group_id)
        return group

    async def list_groups(
        self, name: str | None = None, project_id: str | None = None
    ) -> list[m.EndpointGroup]:
        stmt = select(m.EndpointGroup).order_by(m.EndpointGroup.name, m.EndpointGroup.id)
        if name is not None:
            stmt = stmt.where(m.EndpointGroup.name == name)
        if project_id is not None:
            pg = m.ProjectEndpointGroup
            stmt = stmt.where(
                m.EndpointGroup.id.in_(
                    select(pg.endpoint_group_id).where(pg.project_id == project_id)
                )
            )
        async with self.core.db.session() as s:
            if project_id is not None and await s.get(m.Project, project_id) is None:
                raise not_found("project", project_id)
            return list((await s.scalars(stmt)).all())

    async def create_group(self, attrs: dict[str, Any]) -> m.EndpointGroup:
        async with self.core.write() as s:
            group = m.EndpointGroup(
                id=m.new_id(),
                name=attrs["name"],
                description=attrs.get("description"),
                filters=attrs["filters"],
            )
            s.add(group)
        return group

    async def update_group(self, group_id: str, attrs: dict[str, Any]) -> m.EndpointGroup:
        async with self.core.write() as s:
            group = await self.get_group(group_id, s)
            for key in ("name", "description", "filters"):
                if key in attrs:
                    setattr(group, key, attrs[key])
        return group

    async def delete_group(self, group_id: str) -> None:
        async with self.core.write() as s:
            group = await self.get_group(group_id, s)
            await s.execute(
                delete(m.ProjectEndpointGroup).where(
                    m.ProjectEndpointGroup.endpoint_group_id == group_id
                )
            )
            await s.delete(group)

    async def group_endpoints(self, group_id: str) -> list[m.Endpoint]:
        async with self.core.db.session() as s:
            group = await self.get_group(group_id, s)
            endpoints = (await s.scalars(select(m.Endpoint).order_by(m.Endpoint.id))).all()
        return [e for e in endpoints if matches(group, e)]

    # -- associations --------------------------------------------------------------------

    async def _project(self, s: AsyncSession, project_id: str) -> m.Project:
        project = await s.get(m.Project, project_id)
        if project is None:
            raise not_found("project", project_id)
        return project

    async def _endpoint(self, s: AsyncSession, endpoint_id: str) -> m.Endpoint:
        endpoint = await s.get(m.Endpoint, endpoint_id)
        if endpoint is None:
            raise not_found("endpoint", endpoint_id)
        return endpoint

    async def add_group_project(self, group_id: str, project_id: str) -> None:
        async with self.core.write() as s:
            await self.get_group(group_id, s)
            await self._project(s, project_id)
            if await s.get(m.ProjectEndpointGroup, (group_id, project_id)) is None:
                s.add(m.ProjectEndpointGroup(endpoint_group_id=group_id, project_id=project_id))

    async def _group_project(
        self, s: AsyncSession, group_id: str, project_id: str
    ) -> m.ProjectEndpointGroup:
        await self.get_group(group_id, s)
        await self._project(s, project_id)
        row = await s.get(m.ProjectEndpointGroup, (group_id, project_id))
        if row is None:
            raise NotFound(
                f"Could not find endpoint group {group_id} associated with project {project_id}."
            )
        return row

    async def check_group_project(self, group_id: str, project_id: str) -> None:
        async with self.core.db.session() as s:
            await self._group_project(s, group_id, project_id)

    async def remove_group_project(self, group_id: str, project_id: str) -> None:
        async with self.core.write() as s:
            await s.delete(await self._group_project(s, group_id, project_id))

    async def group_projects(self, group_id: str) -> list[m.Project]:
        pg = m.ProjectEndpointGroup
        async with self.core.db.session() as s:
            await self.get_group(group_id, s)
            stmt = (
                select(m.Project)
                .join(pg, pg.project_id == m.Project.id)
                .where(pg.endpoint_group_id == group_id)
                .order_by(m.Project.id)
            )
            return list((await s.scalars(stmt)).all())

    async def add_project_endpoint(self, project_id: str, endpoint_id: str) -> None:
        async with self.core.write() as s:
            await self._project(s, project_id)
            await self._endpoint(s, endpoint_id)
            if await s.get(m.ProjectEndpoint, (endpoint_id, project_id)) is None:
                s.add(m.ProjectEndpoint(endpoint_id=endpoint_id, project_id=project_id))

    async def _project_endpoint(
        self, s: AsyncSession, project_id: str, endpoint_id: str
    ) -> m.ProjectEndpoint:
        await self._project(s, project_id)
        await self._endpoint(s, endpoint_id)
        row = await s.get(m.ProjectEndpoint, (endpoint_id, project_id))
        if row is None:
            raise NotFound(
                f"Could not find endpoint {endpoint_id} associated with project {project_id}."
            )
        return row

    async def check_project_endpoint(self, project_id: str, endpoint_id: str) -> None:
        async with self.core.db.session() as s:
            await self._project_endpoint(s, project_id, endpoint_id)

    async def remove_project_endpoint(self, project_id: str, endpoint_id: str) -> None:
        async with self.core.write() as s:
            await s.delete(await self._project_endpoint(s, project_id, endpoint_id))

    async def endpoint_projects(self, endpoint_id: str) -> list[m.Project]:
        pe = m.ProjectEndpoint
        async with self.core.db.session() as s:
            await self._endpoint(s, endpoint_id)
            stmt = (
                select(m.Project)
                .join(pe, pe.project_id == m.Project.id)
                .where(pe.endpoint_id == endpoint_id)
                .order_by(m.Project.id)
            )
            return list((await s.scalars(stmt)).all())

    async def _project_endpoint_ids(self, s: AsyncSession, project_id: str) -> set[str] | None:
        """The endpoints a project is associated with, directly or through
        groups; None when it has no association at all (it sees everything)."""
        direct = set(
            (
                await s.scalars(
                    select(m.ProjectEndpoint.endpoint_id).where(
                        m.ProjectEndpoint.project_id == project_id
                    )
                )
            ).all()
        )
        pg = m.ProjectEndpointGroup
        groups = (
            await s.scalars(
                select(m.EndpointGroup)
                .join(pg, pg.endpoint_group_id == m.EndpointGroup.id)
                .where(pg.project_id == project_id)
            )
        ).all()
        if not direct and not groups:
            return None
        if groups:
            for e in (await s.scalars(select(m.Endpoint))).all():
                if any(matches(g, e) for g in groups):
                    direct.add(e.id)
        return direct

    async def project_endpoints(self, project_id: str) -> list[m.Endpoint]:
        async with self.core.db.session() as s:
            await self._project(s, project_id)
            ids = await self._project_endpoint_ids(s, project_id)
            if not ids:
                return []
            stmt = select(m.Endpoint).where(m.Endpoint.id.in_(ids)).order_by(m.Endpoint.id)
            return list((await s.scalars(stmt)).all())

    async def visible(self, project_id: str) -> set[str] | None:
        """The endpoint ids a project's catalog keeps (None: all), cached
        until identity data changes."""
        cache = self.core.state.cache("endpoint-filter")
        if project_id in cache:
            cached: set[str] | None = cache[project_id]
            return cached
        epoch = cache.setdefault(_EPOCH, object())
        async with self.core.db.session() as s:
            found = await self._project_endpoint_ids(s, project_id)
        # Kept only if no identity write dropped the caches meanwhile (its
        # answer may predate that write).
        if cache.get(_EPOCH) is epoch:
            cache[project_id] = found
        return found
