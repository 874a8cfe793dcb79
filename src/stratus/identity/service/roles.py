"""Roles, role inference, and role assignments (grants)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from stratus.common.listing import Page, filter_strings, paginate
from stratus.identity import models as m
from stratus.identity.errors import Forbidden, NotFound, ValidationError, conflict, not_found
from stratus.identity.service.core import Core

NULL_DOMAIN = "<<null>>"


@dataclass(frozen=True)
class Assignment:
    """One (possibly effective) role assignment, as the API lists it."""

    role_id: str
    user_id: str | None
    group_id: str | None
    project_id: str | None
    domain_id: str | None
    system: bool
    inherited: bool
    via_group_id: str | None = None  # effective: came through this group
    implied_by: str | None = None  # effective: implied by this role


def assignment_type(actor: str, target: str) -> str:
    return {
        ("user", "project"): m.USER_PROJECT,
        ("group", "project"): m.GROUP_PROJECT,
        ("user", "domain"): m.USER_DOMAIN,
        ("group", "domain"): m.GROUP_DOMAIN,
        ("user", "system"): m.USER_SYSTEM,
        ("group", "system"): m.GROUP_SYSTEM,
    }[(actor, target)]


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

    # -- grants -------------------------------------------------------------------------

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
        role = await self.get(role_id, s)
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

    # -- listing assignments ---------------------------------------------------------

    async def list_assignments(
        self,
        *,
        user_id: str | None = None,
        group_id: str | None = None,
        role_id: str | None = None,
        project_id: str | None = None,
        domain_id: str | None = None,
        system: bool = False,
        inherited: bool | None = None,
        effective: bool = False,
    ) -> list[Assignment]:
        async with self.core.db.session() as s:
            rows = (await s.scalars(select(m.RoleAssignment))).all()
            raw = [
                Assignment(
                    role_id=r.role_id,
                    user_id=r.actor_id if r.type.startswith("User") else None,
                    group_id=r.actor_id if r.type.startswith("Group") else None,
                    project_id=r.target_id if r.type.endswith("Project") else None,
                    domain_id=r.target_id if r.type.endswith("Domain") else None,
                    system=r.type.endswith("System"),
                    inherited=r.inherited,
                )
                for r in rows
            ]
            if effective:
                raw = await self._effective(s, raw)
        out = []
        for a in raw:
            if user_id and a.user_id != user_id:
                continue
            if group_id and a.group_id != group_id:
                continue
            if role_id and a.role_id != role_id:
                continue
            if project_id and a.project_id != project_id:
                continue
            if domain_id and a.domain_id != domain_id:
                continue
            if system and not a.system:
                continue
            if inherited is not None and a.inherited != inherited:
                continue
            out.append(a)
        return sorted(
            out,
            key=lambda a: (
                a.user_id or "",
                a.group_id or "",
                a.project_id or "",
                a.domain_id or "",
                a.role_id,
            ),
        )

    async def _effective(self, s: AsyncSession, raw: list[Assignment]) -> list[Assignment]:
        """Expand groups into their members, inherited grants onto projects,
        and roles into the roles they imply."""
        members: dict[str, list[str]] = {}
        for gid, uid in (
            await s.execute(select(m.GroupMembership.group_id, m.GroupMembership.user_id))
        ).all():
            members.setdefault(gid, []).append(uid)
        projects = (
            await s.execute(select(m.Project.id, m.Project.domain_id, m.Project.parent_id))
        ).all()
        children: dict[str, list[str]] = {}
        in_domain: dict[str, list[str]] = {}
        for pid, did, parent in projects:
            in_domain.setdefault(did, []).append(pid)
            # A top-level project's parent is its domain (the project acting
            # as it), so a grant inherited from the domain's id reaches it.
            children.setdefault(parent or did, []).append(pid)

        def subtree(pid: str) -> list[str]:
            out = []
            for child in children.get(pid, []):
                out += [child, *subtree(child)]
            return out

        placed: list[Assignment] = []
        for a in raw:
            if not a.inherited:
                placed.append(a)
                continue
            targets = in_domain.get(a.domain_id, []) if a.domain_id else subtree(a.project_id or "")
            for pid in targets:
                placed.append(Assignment(a.role_id, a.user_id, a.group_id, pid, None, False, False))
        users: list[Assignment] = []
        for a in placed:
            if a.group_id:
                for uid in members.get(a.group_id, []):
                    users.append(
                        Assignment(
                            a.role_id,
                            uid,
                            None,
                            a.project_id,
                            a.domain_id,
                            a.system,
                            False,
                            via_group_id=a.group_id,
                        )
                    )
            else:
                users.append(a)
        out: dict[tuple[Any, ...], Assignment] = {}
        for a in users:
            for rid in await self.expand(s, [a.role_id]):
                implied = Assignment(
                    rid,
                    a.user_id,
                    None,
                    a.project_id,
                    a.domain_id,
                    a.system,
                    False,
                    a.via_group_id,
                    implied_by=a.role_id if rid != a.role_id else None,
                )
                key = (rid, a.user_id, a.project_id, a.domain_id, a.system)
                if key not in out or (out[key].implied_by and not implied.implied_by):
                    out[key] = implied
        kept = set(await self.global_only(s, {a.role_id for a in out.values()}))
        return [a for a in out.values() if a.role_id in kept]

    async def user_project_ids(self, user_id: str) -> list[str]:
        """Projects the user holds any role on, directly, through a group or by inheritance."""
        assignments = await self.list_assignments(user_id=user_id, effective=True)
        return sorted({a.project_id for a in assignments if a.project_id})

    async def user_domain_ids(self, user_id: str) -> list[str]:
        assignments = await self.list_assignments(user_id=user_id, effective=True)
        return sorted({a.domain_id for a in assignments if a.domain_id})

    async def user_has_system(self, user_id: str) -> bool:
        assignments = await self.list_assignments(user_id=user_id, effective=True, system=True)
        return bool(assignments)

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

    async def assignment_names(self) -> dict[str, dict[str, Any]]:
        """Every role, user, group, project and domain by id: the names a
        role assignment list shows with ``include_names``."""
        models: dict[str, Any] = {
            "roles": m.Role,
            "users": m.User,
            "groups": m.Group,
            "projects": m.Project,
            "domains": m.Domain,
        }
        async with self.core.db.session() as s:
            return {
                key: {row.id: row for row in (await s.scalars(select(model))).all()}
                for key, model in models.items()
            }
