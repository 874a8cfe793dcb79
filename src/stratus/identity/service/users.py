"""Users, their passwords, groups and group membership."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from stratus.common.db import utcnow
from stratus.common.listing import Page, filter_strings, paginate
from stratus.identity import models as m
from stratus.identity.errors import Unauthorized, ValidationError, conflict, not_found
from stratus.identity.service.core import Core
from stratus.identity.service.projects import DEFAULT_DOMAIN_ID
from stratus.identity.service.revocation import revoke_user

MIN_PASSWORD, MAX_PASSWORD = 1, 4096


def _check_password(password: str) -> str:
    if not (MIN_PASSWORD <= len(password) <= MAX_PASSWORD):
        raise ValidationError(f"A password is {MIN_PASSWORD} to {MAX_PASSWORD} characters.")
    return password


class Users:
    def __init__(self, core: Core):
        self.core = core

    async def get(self, user_id: str, session: AsyncSession | None = None) -> m.User:
        if session is None:
            async with self.core.db.session() as s:
                return await self.get(user_id, s)
        user = await session.get(m.User, user_id)
        if user is None:
            raise not_found("user", user_id)
        return user

    async def list_users(
        self,
        filters: Mapping[str, str],
        enabled: bool | None,
        limit: int | None,
        marker: str | None,
        group_id: str | None = None,
    ) -> Page[m.User]:
        stmt = filter_strings(
            select(m.User), {"name": m.User.name, "domain_id": m.User.domain_id}, filters
        )
        if enabled is not None:
            stmt = stmt.where(m.User.enabled == enabled)
        if group_id is not None:
            stmt = stmt.join(m.GroupMembership, m.GroupMembership.user_id == m.User.id).where(
                m.GroupMembership.group_id == group_id
            )
        async with self.core.db.session() as s:
            if group_id is not None and await s.get(m.Group, group_id) is None:
                raise not_found("group", group_id)
            return await paginate(
                s, stmt, m.User.id, limit=limit, marker=marker, max_limit=self.core.list_limit
            )

    async def create(self, attrs: dict[str, Any], default_domain_id: str | None) -> m.User:
        password = attrs.pop("password", None)
        hashed = await self.core.hasher.hash(_check_password(password)) if password else None
        async with self.core.write() as s:
            domain_id = attrs.pop("domain_id", None) or default_domain_id or DEFAULT_DOMAIN_ID
            if await s.get(m.Domain, domain_id) is None:
                raise not_found("domain", domain_id)  # Keystone's 404
            name = attrs.pop("name")
            if await s.scalar(
                select(m.User.id).where(m.User.domain_id == domain_id, m.User.name == name)
            ):
                raise conflict("user", f"a user named {name!r} exists in domain {domain_id}")
            default_project = attrs.pop("default_project_id", None)
            if default_project and await s.get(m.Project, default_project) is None:
                raise ValidationError(f"Could not find default project: {default_project}.")
            attrs.pop("options", None)
            user = m.User(
                id=attrs.pop("id", None) or m.new_id(),
                name=name,
                domain_id=domain_id,
                enabled=attrs.pop("enabled", True),
                default_project_id=default_project,
                password_hash=hashed,
                password_created_at=utcnow() if hashed else None,
                extra=attrs,
            )
            s.add(user)
        return user

    async def update(self, user_id: str, attrs: dict[str, Any]) -> m.User:
        password = attrs.pop("password", None)
        hashed = await self.core.hasher.hash(_check_password(password)) if password else None
        async with self.core.write() as s:
            user = await self.get(user_id, s)
            if "domain_id" in attrs and attrs.pop("domain_id") != user.domain_id:
                raise ValidationError("A user's domain_id cannot be changed.")
            if "name" in attrs and attrs["name"] != user.name:
                if await s.scalar(
                    select(m.User.id).where(
                        m.User.domain_id == user.domain_id, m.User.name == attrs["name"]
                    )
                ):
                    raise conflict("user", f"a user named {attrs['name']!r} exists")
                user.name = attrs["name"]
            attrs.pop("name", None)
            if "default_project_id" in attrs:
                project = attrs.pop("default_project_id")
                if project and await s.get(m.Project, project) is None:
                    raise ValidationError(f"Could not find default project: {project}.")
                user.default_project_id = project
            revoke = False
            if "enabled" in attrs:
                enabled = attrs.pop("enabled")
                revoke = user.enabled and not enabled
                user.enabled = enabled
            if hashed:
                user.password_hash, user.password_created_at = hashed, utcnow()
                revoke = True
            attrs.pop("options", None)
            if attrs:
                user.extra = {**user.extra, **attrs}
            if revoke:
                await revoke_user(self.core, s, user.id)
        return user

    async def delete(self, user_id: str) -> None:
        async with self.core.write() as s:
            user = await self.get(user_id, s)
            await s.execute(delete(m.RoleAssignment).where(m.RoleAssignment.actor_id == user.id))
            await revoke_user(self.core, s, user.id)
            await s.delete(user)

    async def change_password(self, user_id: str, original: str, new: str) -> None:
        """Keystone's self-service change: no token needed, the original
        password is the proof; an unknown or disabled user is the same 401."""
        async with self.core.db.session() as s:
            user = await s.get(m.User, user_id)
        if user is None or not user.enabled:
            await self.core.hasher.verify(None, original)  # the same time either way
            raise Unauthorized("Error when changing user password: Invalid user / password")
        if not await self.core.hasher.verify(user.password_hash, original):
            raise Unauthorized("Error when changing user password: Invalid user / password")
        await self.update(user_id, {"password": new})

    # -- groups --------------------------------------------------------------

    async def get_group(self, group_id: str, session: AsyncSession | None = None) -> m.Group:
        if session is None:
            async with self.core.db.session() as s:
                return await self.get_group(group_id, s)
        group = await session.get(m.Group, group_id)
        if group is None:
            raise not_found("group", group_id)
        return group

    async def list_groups(
        self,
        filters: Mapping[str, str],
        limit: int | None,
        marker: str | None,
        user_id: str | None = None,
    ) -> Page[m.Group]:
        stmt = filter_strings(
            select(m.Group), {"name": m.Group.name, "domain_id": m.Group.domain_id}, filters
        )
        if user_id is not None:
            stmt = stmt.join(m.GroupMembership, m.GroupMembership.group_id == m.Group.id).where(
                m.GroupMembership.user_id == user_id
            )
        async with self.core.db.session() as s:
            if user_id is not None:
                await self.get(user_id, s)
            return await paginate(
                s, stmt, m.Group.id, limit=limit, marker=marker, max_limit=self.core.list_limit
            )

    async def create_group(self, attrs: dict[str, Any], default_domain_id: str | None) -> m.Group:
        async with self.core.write() as s:
            domain_id = attrs.pop("domain_id", None) or default_domain_id or DEFAULT_DOMAIN_ID
            if await s.get(m.Domain, domain_id) is None:
                raise ValidationError(f"Could not find domain: {domain_id}.")
            name = attrs.pop("name")
            if await s.scalar(
                select(m.Group.id).where(m.Group.domain_id == domain_id, m.Group.name == name)
            ):
                raise conflict("group", f"a group named {name!r} exists in domain {domain_id}")
            group = m.Group(
                id=attrs.pop("id", None) or m.new_id(),
                name=name,
                domain_id=domain_id,
                description=attrs.pop("description", None) or "",
                extra=attrs,
            )
            s.add(group)
        return group

    async def update_group(self, group_id: str, attrs: dict[str, Any]) -> m.Group:
        async with self.core.write() as s:
            group = await self.get_group(group_id, s)
            if "domain_id" in attrs and attrs.pop("domain_id") != group.domain_id:
                raise ValidationError("A group's domain_id cannot be changed.")
            if "name" in attrs and attrs["name"] != group.name:
                if await s.scalar(
                    select(m.Group.id).where(
                        m.Group.domain_id == group.domain_id, m.Group.name == attrs["name"]
                    )
                ):
                    raise conflict("group", f"a group named {attrs['name']!r} exists")
                group.name = attrs["name"]
            attrs.pop("name", None)
            if "description" in attrs:
                group.description = attrs.pop("description") or ""
            if attrs:
                group.extra = {**group.extra, **attrs}
        return group

    async def delete_group(self, group_id: str) -> None:
        async with self.core.write() as s:
            group = await self.get_group(group_id, s)
            await s.execute(delete(m.RoleAssignment).where(m.RoleAssignment.actor_id == group.id))
            await s.delete(group)

    async def add_member(self, group_id: str, user_id: str) -> None:
        async with self.core.write() as s:
            await self.get_group(group_id, s)
            await self.get(user_id, s)
            if await s.get(m.GroupMembership, (group_id, user_id)) is None:
                s.add(m.GroupMembership(group_id=group_id, user_id=user_id))

    async def remove_member(self, group_id: str, user_id: str) -> None:
        async with self.core.write() as s:
            membership = await s.get(m.GroupMembership, (group_id, user_id))
            if membership is None:
                await self.get_group(group_id, s)
                await self.get(user_id, s)
                raise not_found("membership", f"user {user_id} in group {group_id}")
            await s.delete(membership)

    async def is_member(self, group_id: str, user_id: str) -> None:
        async with self.core.db.session() as s:
            await self.get_group(group_id, s)
            await self.get(user_id, s)
            if await s.get(m.GroupMembership, (group_id, user_id)) is None:
                raise not_found("membership", f"user {user_id} in group {group_id}")
