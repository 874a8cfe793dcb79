"""Role grants: one role for a user or group on a project, a domain or the
system, directly or inherited to projects below."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from stratus.identity import models as m
from stratus.identity.errors import Forbidden, NotFound, not_found
from stratus.identity.service.core import Core
from stratus.identity.service.roles import NULL_DOMAIN, Roles


def assignment_type(actor: str, target: str) -> str:
    return {
        ("user", "project"): m.USER_PROJECT,
        ("group", "project"): m.GROUP_PROJECT,
        ("user", "domain"): m.USER_DOMAIN,
        ("group", "domain"): m.GROUP_DOMAIN,
        ("user", "system"): m.USER_SYSTEM,
        ("group", "system"): m.GROUP_SYSTEM,
    }[(actor, target)]


class Grants:
    def __init__(self, core: Core, roles: Roles):
        self.core = core
        self.roles = roles

    @staticmethod
    async def _check_actor_target(
        s: AsyncSession, actor: str, actor_id: str, target: str, target_id: str
    ) -> None:
        """404 when the user or group, or the project or domain, is missing."""
        if actor == "user":
            if await s.get(m.User, actor_id) is None:
                raise not_found("user", actor_id)
        elif await s.get(m.Group, actor_id) is None:
            raise not_found("group", actor_id)
        if target == "project" and await s.get(m.Project, target_id) is None:
            # Keystone's domains are projects too (is_domain): a grant under
            # /v3/projects/{domain_id} is a project grant on the domain's id.
            if await s.get(m.Domain, target_id) is None:
                raise not_found("project", target_id)
        if target == "domain" and await s.get(m.Domain, target_id) is None:
            raise not_found("domain", target_id)

    async def _check_grant_parts(
        self, s: AsyncSession, actor: str, actor_id: str, target: str, target_id: str, role_id: str
    ) -> None:
        role = await self.roles.get(role_id, s)
        await self._check_actor_target(s, actor, actor_id, target, target_id)
        if target == "project" and role.domain_id != NULL_DOMAIN:
            project = await s.get(m.Project, target_id)
            # A project acting as a domain has no domain: no domain role fits it.
            if project is None or project.domain_id != role.domain_id:
                raise Forbidden(
                    f"Project {target_id} must be in the same domain as the role {role_id}"
                    " being assigned."
                )

    @staticmethod
    def _no_grant(actor: str, actor_id: str, target: str, target_id: str, role_id: str) -> NotFound:
        return not_found(
            "role assignment", f"role {role_id} for {actor} {actor_id} on {target} {target_id}"
        )

    async def grant(
        self,
        actor: str,
        actor_id: str,
        target: str,
        target_id: str,
        role_id: str,
        inherited: bool = False,
    ) -> None:
        async with self.core.write() as s:
            await self._check_grant_parts(s, actor, actor_id, target, target_id, role_id)
            key = (assignment_type(actor, target), actor_id, target_id, role_id, inherited)
            if await s.get(m.RoleAssignment, key) is None:
                s.add(
                    m.RoleAssignment(
                        type=key[0],
                        actor_id=actor_id,
                        target_id=target_id,
                        role_id=role_id,
                        inherited=inherited,
                    )
                )

    async def check_grant(
        self,
        actor: str,
        actor_id: str,
        target: str,
        target_id: str,
        role_id: str,
        inherited: bool = False,
    ) -> None:
        async with self.core.db.session() as s:
            await self._check_grant_parts(s, actor, actor_id, target, target_id, role_id)
            key = (assignment_type(actor, target), actor_id, target_id, role_id, inherited)
            if await s.get(m.RoleAssignment, key) is None:
                raise self._no_grant(actor, actor_id, target, target_id, role_id)

    async def revoke(
        self,
        actor: str,
        actor_id: str,
        target: str,
        target_id: str,
        role_id: str,
        inherited: bool = False,
    ) -> None:
        async with self.core.write() as s:
            key = (assignment_type(actor, target), actor_id, target_id, role_id, inherited)
            row = await s.get(m.RoleAssignment, key)
            if row is None:
                await self._check_grant_parts(s, actor, actor_id, target, target_id, role_id)
                raise self._no_grant(actor, actor_id, target, target_id, role_id)
            await s.delete(row)

    async def list_grants(
        self, actor: str, actor_id: str, target: str, target_id: str, inherited: bool = False
    ) -> list[m.Role]:
        async with self.core.db.session() as s:
            await self._check_actor_target(s, actor, actor_id, target, target_id)
            stmt = (
                select(m.Role)
                .join(m.RoleAssignment, m.RoleAssignment.role_id == m.Role.id)
                .where(
                    m.RoleAssignment.type == assignment_type(actor, target),
                    m.RoleAssignment.actor_id == actor_id,
                    m.RoleAssignment.target_id == target_id,
                    m.RoleAssignment.inherited == inherited,
                )
                .order_by(m.Role.name)
            )
            return list((await s.scalars(stmt)).all())
