"""The role assignment list: grants as stored, or effective (groups expanded
into their members, inherited grants onto projects, roles into the roles
they imply)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from stratus.identity import models as m
from stratus.identity.service.core import Core
from stratus.identity.service.roles import Roles


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


@dataclass(frozen=True)
class AssignmentFilter:
    """What a role assignment list is narrowed to."""

    user_id: str | None = None
    group_id: str | None = None
    role_id: str | None = None
    project_id: str | None = None
    domain_id: str | None = None
    system: bool = False
    inherited: bool | None = None

    def matches(self, a: Assignment) -> bool:
        pairs = [
            (self.user_id, a.user_id),
            (self.group_id, a.group_id),
            (self.role_id, a.role_id),
            (self.project_id, a.project_id),
            (self.domain_id, a.domain_id),
        ]
        if any(wanted and wanted != got for wanted, got in pairs):
            return False
        if self.system and not a.system:
            return False
        return self.inherited is None or a.inherited == self.inherited


def _stored(r: m.RoleAssignment) -> Assignment:
    return Assignment(
        role_id=r.role_id,
        user_id=r.actor_id if r.type.startswith("User") else None,
        group_id=r.actor_id if r.type.startswith("Group") else None,
        project_id=r.target_id if r.type.endswith("Project") else None,
        domain_id=r.target_id if r.type.endswith("Domain") else None,
        system=r.type.endswith("System"),
        inherited=r.inherited,
    )


class _Tree:
    """Projects by domain and by parent; a top-level project's parent is its
    domain (the project acting as it), so a grant inherited from the
    domain's id reaches it."""

    def __init__(self, rows: list[tuple[str, str, str | None]]):
        self.children: dict[str, list[str]] = {}
        self.in_domain: dict[str, list[str]] = {}
        for pid, did, parent in rows:
            self.in_domain.setdefault(did, []).append(pid)
            self.children.setdefault(parent or did, []).append(pid)

    def subtree(self, pid: str) -> list[str]:
        out = []
        for child in self.children.get(pid, []):
            out += [child, *self.subtree(child)]
        return out

    def targets(self, a: Assignment) -> list[str]:
        """The projects an inherited assignment reaches."""
        if a.domain_id:
            return self.in_domain.get(a.domain_id, [])
        return self.subtree(a.project_id or "")


class Assignments:
    def __init__(self, core: Core, roles: Roles):
        self.core = core
        self.roles = roles

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
        wanted = AssignmentFilter(
            user_id, group_id, role_id, project_id, domain_id, system, inherited
        )
        async with self.core.db.session() as s:
            raw = [_stored(r) for r in (await s.scalars(select(m.RoleAssignment))).all()]
            if effective:
                raw = await self._effective(s, raw)
        return sorted(
            (a for a in raw if wanted.matches(a)),
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
        rows = (
            await s.execute(select(m.Project.id, m.Project.domain_id, m.Project.parent_id))
        ).all()
        placed = _placed(raw, _Tree([(pid, did, parent) for pid, did, parent in rows]))
        members: dict[str, list[str]] = {}
        for gid, uid in (
            await s.execute(select(m.GroupMembership.group_id, m.GroupMembership.user_id))
        ).all():
            members.setdefault(gid, []).append(uid)
        out = await self._implied(s, _per_user(placed, members))
        kept = set(await self.roles.global_only(s, {a.role_id for a in out}))
        return [a for a in out if a.role_id in kept]

    async def _implied(self, s: AsyncSession, users: list[Assignment]) -> list[Assignment]:
        """Each assignment with the roles its role implies; one per role and
        scope, a direct one preferred to an implied one."""
        out: dict[tuple[Any, ...], Assignment] = {}
        for a in users:
            for rid in await self.roles.expand(s, [a.role_id]):
                implied = replace(
                    a, role_id=rid, implied_by=a.role_id if rid != a.role_id else None
                )
                key = (rid, a.user_id, a.project_id, a.domain_id, a.system)
                if key not in out or (out[key].implied_by and not implied.implied_by):
                    out[key] = implied
        return list(out.values())

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


def _placed(raw: list[Assignment], tree: _Tree) -> list[Assignment]:
    """Inherited assignments put on each project they reach, the rest as they are."""
    placed: list[Assignment] = []
    for a in raw:
        if not a.inherited:
            placed.append(a)
            continue
        for pid in tree.targets(a):
            placed.append(Assignment(a.role_id, a.user_id, a.group_id, pid, None, False, False))
    return placed


def _per_user(placed: list[Assignment], members: dict[str, list[str]]) -> list[Assignment]:
    """A group's assignments given to each of its members."""
    users: list[Assignment] = []
    for a in placed:
        if not a.group_id:
            users.append(a)
            continue
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
    return users
