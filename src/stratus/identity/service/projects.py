"""Domains, projects and project tags."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import delete, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from stratus.common.listing import Page, filter_strings, paginate
from stratus.identity import models as m
from stratus.identity.errors import Forbidden, ValidationError, conflict, not_found
from stratus.identity.service.core import Core

DEFAULT_DOMAIN_ID = "default"
MAX_TAGS = 80


def _split_tags(value: str | None) -> list[str]:
    return [t for t in (value or "").split(",") if t]


def _check_tags(tags: list[str]) -> list[str]:
    for tag in tags:
        if not tag or len(tag) > 255 or "/" in tag or "," in tag:
            raise ValidationError(
                f"Invalid project tag {tag!r}: tags are 1-255 characters without '/' or ','."
            )
    if len(tags) > MAX_TAGS:
        raise ValidationError(f"A project has at most {MAX_TAGS} tags.")
    return list(dict.fromkeys(tags))


class Projects:
    def __init__(self, core: Core):
        self.core = core

    # -- domains -----------------------------------------------------------

    async def get_domain(self, domain_id: str, session: AsyncSession | None = None) -> m.Domain:
        if session is None:
            async with self.core.db.session() as s:
                return await self.get_domain(domain_id, s)
        domain = await session.get(m.Domain, domain_id)
        if domain is None:
            raise not_found("domain", domain_id)
        return domain

    async def find_domain(
        self, *, id: str | None = None, name: str | None = None
    ) -> m.Domain | None:
        async with self.core.db.session() as s:
            if id:
                return await s.get(m.Domain, id)
            return await s.scalar(select(m.Domain).where(m.Domain.name == name))

    async def list_domains(
        self,
        filters: Mapping[str, str],
        enabled: bool | None,
        limit: int | None,
        marker: str | None,
    ) -> Page[m.Domain]:
        stmt = filter_strings(select(m.Domain), {"name": m.Domain.name}, filters)
        if enabled is not None:
            stmt = stmt.where(m.Domain.enabled == enabled)
        async with self.core.db.session() as s:
            return await paginate(
                s, stmt, m.Domain.id, limit=limit, marker=marker, max_limit=self.core.list_limit
            )

    async def create_domain(self, attrs: dict[str, Any], as_project: bool = False) -> m.Domain:
        if "tags" in attrs:
            attrs["tags"] = _check_tags(attrs["tags"] or [])
        attrs.pop("options", None)
        async with self.core.write() as s:
            if await s.scalar(select(m.Domain.id).where(m.Domain.name == attrs["name"])):
                if as_project:  # Keystone's words for a project acting as a domain
                    raise conflict(
                        "project",
                        "it is not permitted to have two projects acting as domains"
                        f" with the same name: {attrs['name']}",
                    )
                raise conflict("domain", f"a domain named {attrs['name']!r} exists")
            domain = m.Domain(
                id=attrs.pop("id", None) or m.new_id(),
                name=attrs.pop("name"),
                description=attrs.pop("description", None) or "",
                enabled=attrs.pop("enabled", True),
                extra=attrs,
            )
            s.add(domain)
        return domain

    async def update_domain(self, domain_id: str, attrs: dict[str, Any]) -> m.Domain:
        async with self.core.write() as s:
            domain = await self.get_domain(domain_id, s)
            if "name" in attrs and attrs["name"] != domain.name:
                if await s.scalar(select(m.Domain.id).where(m.Domain.name == attrs["name"])):
                    raise conflict("domain", f"a domain named {attrs['name']!r} exists")
                domain.name = attrs.pop("name")
            if "tags" in attrs:
                attrs["tags"] = _check_tags(attrs["tags"] or [])
            attrs.pop("options", None)
            for key in ("description", "enabled"):
                if key in attrs:
                    setattr(
                        domain,
                        key,
                        attrs.pop(key) if key != "description" else (attrs.pop(key) or ""),
                    )
            if attrs:
                domain.extra = {**domain.extra, **attrs}
        return domain

    async def delete_domain(self, domain_id: str) -> None:
        async with self.core.write() as s:
            domain = await self.get_domain(domain_id, s)
            if domain.id == DEFAULT_DOMAIN_ID:
                raise Forbidden("The default domain cannot be deleted.")
            if domain.enabled:
                raise Forbidden("Cannot delete a domain that is enabled; disable it first.")
            projects = select(m.Project.id).where(m.Project.domain_id == domain_id)
            users = select(m.User.id).where(m.User.domain_id == domain_id)
            groups = select(m.Group.id).where(m.Group.domain_id == domain_id)
            await s.execute(
                delete(m.RoleAssignment).where(
                    m.RoleAssignment.target_id.in_(projects)
                    | (m.RoleAssignment.target_id == domain_id)
                    | m.RoleAssignment.actor_id.in_(users)
                    | m.RoleAssignment.actor_id.in_(groups)
                )
            )
            await s.execute(delete(m.Role).where(m.Role.domain_id == domain_id))
            await s.execute(delete(m.User).where(m.User.domain_id == domain_id))
            await s.execute(delete(m.Group).where(m.Group.domain_id == domain_id))
            # Children before parents.
            rows = (
                await s.execute(
                    select(m.Project.id, m.Project.parent_id).where(
                        m.Project.domain_id == domain_id
                    )
                )
            ).all()
            parents = {pid: parent for pid, parent in rows}

            def depth(pid: str | None) -> int:
                return 0 if pid not in parents else 1 + depth(parents[pid])

            for pid in sorted(parents, key=depth, reverse=True):
                await s.execute(delete(m.Project).where(m.Project.id == pid))
            await s.delete(domain)

    # -- projects ----------------------------------------------------------

    async def get(self, project_id: str, session: AsyncSession | None = None) -> m.Project:
        if session is None:
            async with self.core.db.session() as s:
                return await self.get(project_id, s)
        project = await session.get(m.Project, project_id)
        if project is None:
            raise not_found("project", project_id)
        return project

    async def list_projects(
        self,
        filters: Mapping[str, str],
        *,
        enabled: bool | None = None,
        tags: Mapping[str, str | None] | None = None,
        ids: list[str] | None = None,
        limit: int | None = None,
        marker: str | None = None,
    ) -> Page[m.Project]:
        stmt = filter_strings(
            select(m.Project),
            {
                "name": m.Project.name,
                "domain_id": m.Project.domain_id,
                "parent_id": m.Project.parent_id,
            },
            filters,
        )
        if enabled is not None:
            stmt = stmt.where(m.Project.enabled == enabled)
        if ids is not None:
            stmt = stmt.where(m.Project.id.in_(ids))
        tags = tags or {}

        def has(tag: str) -> Any:
            return exists().where(m.ProjectTag.project_id == m.Project.id, m.ProjectTag.name == tag)

        for tag in _split_tags(tags.get("tags")):
            stmt = stmt.where(has(tag))
        if any_tags := _split_tags(tags.get("tags-any")):
            stmt = stmt.where(
                exists().where(
                    m.ProjectTag.project_id == m.Project.id, m.ProjectTag.name.in_(any_tags)
                )
            )
        if not_tags := _split_tags(tags.get("not-tags")):
            stmt = stmt.where(
                func.coalesce(
                    select(func.count())
                    .where(m.ProjectTag.project_id == m.Project.id, m.ProjectTag.name.in_(not_tags))
                    .scalar_subquery(),
                    0,
                )
                < len(set(not_tags))
            )
        for tag in _split_tags(tags.get("not-tags-any")):
            stmt = stmt.where(~has(tag))
        async with self.core.db.session() as s:
            return await paginate(
                s, stmt, m.Project.id, limit=limit, marker=marker, max_limit=self.core.list_limit
            )

    async def get_any(self, project_id: str) -> m.Project | m.Domain:
        """A project, or a domain: Keystone's projects acting as domains
        (``is_domain``) are this cloud's domains, seen through /v3/projects."""
        async with self.core.db.session() as s:
            found: m.Project | m.Domain | None = await s.get(m.Project, project_id)
            if found is None:
                found = await s.get(m.Domain, project_id)
        if found is None:
            raise not_found("project", project_id)
        return found

    async def _acts_as_domain(self, project_id: str) -> bool:
        async with self.core.db.session() as s:
            if await s.get(m.Project, project_id) is not None:
                return False
            return await s.get(m.Domain, project_id) is not None

    async def create(
        self, attrs: dict[str, Any], default_domain_id: str | None
    ) -> m.Project | m.Domain:
        if attrs.pop("is_domain", False):
            # Keystone: a project acting as a domain is a root: no parent, and
            # (since its domain_id would be its parent) no domain either.
            if attrs.pop("parent_id", None) or attrs.pop("domain_id", None):
                raise ValidationError("only root projects are allowed to act as domains.")
            return await self.create_domain(attrs, as_project=True)
        async with self.core.write() as s:
            parent_id = attrs.pop("parent_id", None)
            domain_id = attrs.pop("domain_id", None)
            if parent_id:
                parent = await s.get(m.Project, parent_id)
                if parent is None:
                    # A parent may also name the domain itself, as in Keystone.
                    if await s.get(m.Domain, parent_id) is None:
                        raise ValidationError(f"Could not find parent project {parent_id}.")
                    domain_id = domain_id or parent_id
                    parent_id = None
                else:
                    if domain_id and domain_id != parent.domain_id:
                        raise ValidationError("A project must be in its parent's domain.")
                    domain_id = parent.domain_id
            domain_id = domain_id or default_domain_id or DEFAULT_DOMAIN_ID
            if await s.get(m.Domain, domain_id) is None:
                raise ValidationError(f"Could not find domain: {domain_id}.")
            name = attrs.pop("name")
            if await s.scalar(
                select(m.Project.id).where(m.Project.domain_id == domain_id, m.Project.name == name)
            ):
                raise conflict("project", f"a project named {name!r} exists in domain {domain_id}")
            project = m.Project(
                id=attrs.pop("id", None) or m.new_id(),
                name=name,
                domain_id=domain_id,
                parent_id=parent_id,
                description=attrs.pop("description", None) or "",
                enabled=attrs.pop("enabled", True),
            )
            project.tags = [
                m.ProjectTag(name=t) for t in _check_tags(attrs.pop("tags", None) or [])
            ]
            attrs.pop("options", None)
            project.extra = attrs
            s.add(project)
        return project

    async def update(self, project_id: str, attrs: dict[str, Any]) -> m.Project | m.Domain:
        if await self._acts_as_domain(project_id):
            if attrs.pop("is_domain", True) is not True:
                raise ValidationError("Update of `is_domain` is not allowed.")
            if attrs.pop("parent_id", None) or attrs.pop("domain_id", None):
                raise Forbidden("Update of `parent_id` is not allowed.")
            return await self.update_domain(project_id, attrs)
        async with self.core.write() as s:
            project = await self.get(project_id, s)
            for key in ("domain_id", "parent_id", "is_domain"):
                if key in attrs and attrs[key] != getattr(project, key, False):
                    raise ValidationError(f"A project's {key} cannot be changed.")
                attrs.pop(key, None)
            if "name" in attrs and attrs["name"] != project.name:
                if await s.scalar(
                    select(m.Project.id).where(
                        m.Project.domain_id == project.domain_id, m.Project.name == attrs["name"]
                    )
                ):
                    raise conflict("project", f"a project named {attrs['name']!r} exists")
                project.name = attrs["name"]
            attrs.pop("name", None)
            if "description" in attrs:
                project.description = attrs.pop("description") or ""
            if "enabled" in attrs:
                project.enabled = attrs.pop("enabled")
            if "tags" in attrs:
                self._set_tags(project, attrs.pop("tags") or [])
            attrs.pop("options", None)
            if attrs:
                project.extra = {**project.extra, **attrs}
        return project

    async def delete(self, project_id: str) -> None:
        if await self._acts_as_domain(project_id):  # deleted as the domain it is: only once disabled
            await self.delete_domain(project_id)
            return
        async with self.core.write() as s:
            project = await self.get(project_id, s)
            if await s.scalar(
                select(m.Project.id).where(m.Project.parent_id == project.id).limit(1)
            ):
                raise Forbidden("Cannot delete a project that has child projects.")
            await s.execute(
                delete(m.RoleAssignment).where(m.RoleAssignment.target_id == project.id)
            )
            await s.delete(project)

    # -- tags ---------------------------------------------------------------
    # A domain is a project too (is_domain): /v3/projects/{domain_id}/tags
    # reads and writes the domain's tags, which it keeps with its attributes.

    @staticmethod
    async def _tagged(s: AsyncSession, project_id: str) -> m.Project | m.Domain:
        found: m.Project | m.Domain | None = await s.get(m.Project, project_id)
        if found is None:
            found = await s.get(m.Domain, project_id)
        if found is None:
            raise not_found("project", project_id)
        return found

    @staticmethod
    def _tag_names(owner: m.Project | m.Domain) -> list[str]:
        if isinstance(owner, m.Domain):
            return list(owner.extra.get("tags") or [])
        return [t.name for t in owner.tags]

    @staticmethod
    def _set_tags(owner: m.Project | m.Domain, tags: list[str]) -> None:
        wanted = _check_tags(tags)
        if isinstance(owner, m.Domain):
            owner.extra = {**owner.extra, "tags": wanted}
            return
        keep = {t.name: t for t in owner.tags}
        owner.tags = [keep.get(t) or m.ProjectTag(name=t) for t in wanted]

    async def list_tags(self, project_id: str) -> list[str]:
        async with self.core.db.session() as s:
            return self._tag_names(await self._tagged(s, project_id))

    async def set_tags(self, project_id: str, tags: list[str]) -> list[str]:
        async with self.core.write() as s:
            owner = await self._tagged(s, project_id)
            self._set_tags(owner, tags)
            return self._tag_names(owner)

    async def add_tag(self, project_id: str, tag: str) -> None:
        async with self.core.write() as s:
            owner = await self._tagged(s, project_id)
            names = self._tag_names(owner)
            if tag not in names:
                self._set_tags(owner, [*names, tag])

    async def delete_tag(self, project_id: str, tag: str | None) -> None:
        async with self.core.write() as s:
            owner = await self._tagged(s, project_id)
            names = self._tag_names(owner)
            if tag is not None and tag not in names:
                raise not_found("project tag", tag)
            self._set_tags(owner, [n for n in names if tag is not None and n != tag])
