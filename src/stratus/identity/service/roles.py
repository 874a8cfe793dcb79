"""Roles, role inference, and the roles a user holds on one scope."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import and_, delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from stratus.common.listing import Page, filter_strings, paginate
from stratus.identity import models as m
from stratus.identity.errors import Forbidden, ValidationError, conflict, not_found
from stratus.identity.service.core import Core

NULL_DOMAIN = "<<null>>"


class Roles:
    def __init__(self, core: Core):
        self.core = core

    # -- roles ------------------------------------------------------------------

    async def get(self, role_id: str, session: AsyncSession | None = None) -> m.Role:
        if session is None:
            async with self.core.db.session() as s:
                return await self.get(role_id, s)
        role = await session.get(m.Role, role_id)
        if role is None:
            raise not_found("role", role_id)
        return role

    async def list_roles(
        self,
        filters: Mapping[str, str],
        domain_id: str | None,
        limit: int | None,
        marker: str | None,
    ) -> Page[m.Role]:
        stmt = filter_strings(select(m.Role), {"name": m.Role.name}, filters)
        stmt = stmt.where(m.Role.domain_id == (domain_id or NULL_DOMAIN))
        async with self.core.db.session() as s:
            return await paginate(
                s, stmt, m.Role.id, limit=limit, marker=marker, max_limit=self.core.list_limit
            )

    async def create(self, attrs: dict[str, Any]) -> m.Role:
        async with self.core.write() as s:
            domain_id = attrs.pop("domain_id", None) or NULL_DOMAIN
            name = attrs.pop("name")
            if await s.scalar(
                select(m.Role.id).where(m.Role.name == name, m.Role.domain_id == domain_id)
            ):
                raise conflict("role", f"a role named {name!r} exists")
            if domain_id != NULL_DOMAIN and await s.get(m.Domain, domain_id) is None:
                raise ValidationError(f"Could not find domain: {domain_id}.")
            attrs.pop("options", None)
            role = m.Role(
                id=attrs.pop("id", None) or m.new_id(),
                name=name,
                domain_id=domain_id,
                description=attrs.pop("description", None) or "",
                extra=attrs,
            )
            s.add(role)
        return role

    async def update(self, role_id: str, attrs: dict[str, Any]) -> m.Role:
        async with self.core.write() as s:
            role = await self.get(role_id, s)
            if "domain_id" in attrs and (attrs.pop("domain_id") or NULL_DOMAIN) != role.domain_id:
                raise ValidationError("A role's domain_id cannot be changed.")
            if "name" in attrs and attrs["name"] != role.name:
                if await s.scalar(
                    select(m.Role.id).where(
                        m.Role.name == attrs["name"], m.Role.domain_id == role.domain_id
                    )
                ):
                    raise conflict("role", f"a role named {attrs['name']!r} exists")
                role.name = attrs["name"]
            attrs.pop("name", None)
            if "description" in attrs:
                role.description = attrs.pop("description") or ""
            attrs.pop("options", None)
            if attrs:
                role.extra = {**role.extra, **attrs}
        return role

    async def delete(self, role_id: str) -> None:
        async with self.core.write() as s:
            role = await self.get(role_id, s)
            await s.delete(role)

    # -- inference ----------------------------------------------------------------

    async def implications(self, session: AsyncSession) -> dict[str, set[str]]:
        cache = self.core.state.cache("implied_roles")
        if "map" not in cache:
            rows = (
                await session.execute(
                    select(m.ImpliedRole.prior_role_id, m.ImpliedRole.implied_role_id)
                )
            ).all()
            direct: dict[str, set[str]] = {}
            for prior, implied in rows:
                direct.setdefault(prior, set()).add(implied)
            cache["map"] = direct
        return cache["map"]  # type: ignore[no-any-return]

    async def expand(self, session: AsyncSession, role_ids: Iterable[str]) -> list[str]:
        """The roles plus every role they imply, transitively, in stable order."""
        direct = await self.implications(session)
        seen: dict[str, None] = {}
        stack = list(role_ids)
        while stack:
            rid = stack.pop(0)
            if rid in seen:
                continue
            seen[rid] = None
            stack.extend(sorted(direct.get(rid, ())))
        return list(seen)

    async def list_implied(self, prior_id: str | None = None) -> list[tuple[m.Role, list[m.Role]]]:
        async with self.core.db.session() as s:
            if prior_id:
                await self.get(prior_id, s)
            stmt = select(m.ImpliedRole)
            if prior_id:
                stmt = stmt.where(m.ImpliedRole.prior_role_id == prior_id)
            rules = (await s.scalars(stmt)).all()
            roles = {r.id: r for r in (await s.scalars(select(m.Role))).all()}
        grouped: dict[str, list[m.Role]] = {}
        for rule in rules:
            grouped.setdefault(rule.prior_role_id, []).append(roles[rule.implied_role_id])
        if prior_id and prior_id not in grouped:
            grouped[prior_id] = []
        return [(roles[p], implied) for p, implied in grouped.items()]

    async def create_implied(self, prior_id: str, implied_id: str) -> tuple[m.Role, m.Role]:
        async with self.core.write() as s:
            prior, implied = await self.get(prior_id, s), await self.get(implied_id, s)
            if implied.name == "admin":
                raise Forbidden("The admin role cannot be implied by another role.")
            if prior.domain_id == NULL_DOMAIN and implied.domain_id != NULL_DOMAIN:
                raise Forbidden("Global role cannot imply a domain-specific role")
            if prior_id in await self.expand(s, [implied_id]):
                raise ValidationError("That implication would make a cycle.")
            if await s.get(m.ImpliedRole, (prior_id, implied_id)) is None:
                s.add(m.ImpliedRole(prior_role_id=prior_id, implied_role_id=implied_id))
        return prior, implied

    async def get_implied(self, prior_id: str, implied_id: str) -> tuple[m.Role, m.Role]:
        async with self.core.db.session() as s:
            prior, implied = await self.get(prior_id, s), await self.get(implied_id, s)
            if await s.get(m.ImpliedRole, (prior_id, implied_id)) is None:
                raise not_found("implied role", f"{prior_id} implies {implied_id}")
        return prior, implied

    async def delete_implied(self, prior_id: str, implied_id: str) -> None:
        async with self.core.write() as s:
            rule = await s.get(m.ImpliedRole, (prior_id, implied_id))
            if rule is None:
                raise not_found("implied role", f"{prior_id} implies {implied_id}")
            await s.delete(rule)

    # -- effective roles (token scopes) --------------------------------------------

    async def user_groups(self, s: AsyncSession, user_id: str) -> list[str]:
        return list(
            (
                await s.scalars(
                    select(m.GroupMembership.group_id).where(m.GroupMembership.user_id == user_id)
                )
            ).all()
        )

    async def project_ancestry(self, s: AsyncSession, project: m.Project) -> list[str]:
        chain: list[str] = []
        parent = project.parent_id
        while parent and len(chain) < 16:
            chain.append(parent)
            parent = await s.scalar(select(m.Project.parent_id).where(m.Project.id == parent))
        return chain

    async def direct_role_ids(
        self,
        s: AsyncSession,
        user_id: str,
        *,
        project: m.Project | None = None,
        domain_id: str | None = None,
        system: bool = False,
    ) -> list[str]:
        """Role ids the user holds on one scope (through groups and
        inheritance too), before inference."""
        actors = [user_id, *await self.user_groups(s, user_id)]
        ra = m.RoleAssignment
        if project is not None:
            inherited_targets = [project.domain_id, *await self.project_ancestry(s, project)]
            cond = or_(
                and_(
                    ra.type.in_([m.USER_PROJECT, m.GROUP_PROJECT]),
                    ra.target_id == project.id,
                    ra.inherited.is_(False),
                ),
                and_(
                    ra.type.in_([m.USER_PROJECT, m.GROUP_PROJECT, m.USER_DOMAIN, m.GROUP_DOMAIN]),
                    ra.target_id.in_(inherited_targets),
                    ra.inherited.is_(True),
                ),
            )
        elif domain_id is not None:
            cond = and_(
                ra.type.in_([m.USER_DOMAIN, m.GROUP_DOMAIN]),
                ra.target_id == domain_id,
                ra.inherited.is_(False),
            )
        elif system:
            cond = and_(
                ra.type.in_([m.USER_SYSTEM, m.GROUP_SYSTEM]), ra.target_id == m.SYSTEM_TARGET
            )
        else:
            return []
        rows = await s.scalars(select(ra.role_id).where(ra.actor_id.in_(actors), cond).distinct())
        return sorted(rows.all())

    async def global_only(self, s: AsyncSession, role_ids: Iterable[str]) -> list[str]:
        """The roles that are not domain-specific: a domain-specific role only
        implies others, and is never in a token or an effective assignment."""
        local = set(
            (await s.scalars(select(m.Role.id).where(m.Role.domain_id != NULL_DOMAIN))).all()
        )
        return [r for r in role_ids if r not in local]

    async def names(self, s: AsyncSession | None = None) -> dict[str, m.Role]:
        if s is None:
            async with self.core.db.session() as session:
                return await self.names(session)
        return {r.id: r for r in (await s.scalars(select(m.Role))).all()}

    async def delete_for_target(self, s: AsyncSession, target_id: str) -> None:
        await s.execute(delete(m.RoleAssignment).where(m.RoleAssignment.target_id == target_id))
