"""Trusts (Keystone's OS-TRUST): a trustor delegates some of its roles on a
project to a trustee, who gets trust-scoped tokens with them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from stratus.identity import models as m
from stratus.identity.errors import Forbidden, ValidationError, not_found
from stratus.identity.service.core import Core
from stratus.identity.service.roles import NULL_DOMAIN, Roles


@dataclass(frozen=True)
class TrustRoles:
    """A trust's roles, checked against what its trustor still holds."""

    role_ids: list[str]  # the trust's own roles, then those they imply
    held: bool  # whether the trustor still has every role of the trust


def _usable(trust: m.Trust | None, now: datetime) -> bool:
    """Keystone hides a trust that expired or has no use left."""
    if trust is None:
        return False
    if trust.expires_at is not None and trust.expires_at <= now:
        return False
    return trust.remaining_uses is None or trust.remaining_uses > 0


class Trusts:
    def __init__(self, core: Core, roles: Roles):
        self.core = core
        self.roles = roles

    async def get(self, trust_id: str, s: AsyncSession | None = None) -> m.Trust:
        if s is None:
            async with self.core.db.session() as session:
                return await self.get(trust_id, session)
        trust = await s.get(m.Trust, trust_id)
        if trust is None or not _usable(trust, datetime.now(UTC)):
            raise not_found("trust", trust_id)
        return trust

    async def list_trusts(
        self, *, trustor: str | None, trustee: str | None, either: str | None = None
    ) -> list[m.Trust]:
        stmt = select(m.Trust).order_by(m.Trust.created_at, m.Trust.id)
        if trustor is not None:
            stmt = stmt.where(m.Trust.trustor_user_id == trustor)
        if trustee is not None:
            stmt = stmt.where(m.Trust.trustee_user_id == trustee)
        if either is not None:
            stmt = stmt.where(
                or_(m.Trust.trustor_user_id == either, m.Trust.trustee_user_id == either)
            )
        now = datetime.now(UTC)
        async with self.core.db.session() as s:
            return [t for t in (await s.scalars(stmt)).all() if _usable(t, now)]

    async def _role_id(self, s: AsyncSession, ref: dict[str, Any]) -> str:
        roles = await self.roles.names(s)
        if ref.get("id"):
            if ref["id"] not in roles:
                raise not_found("role", ref["id"])
            return str(ref["id"])
        name = ref.get("name")
        if not name:
            raise ValidationError("Invalid input for field 'roles': a role needs an id or a name.")
        for role in roles.values():
            if role.name == name and role.domain_id in (None, NULL_DOMAIN):
                return role.id
        raise not_found("role", name)

    async def trustor_roles(self, s: AsyncSession, user_id: str, project_id: str) -> list[str]:
        project = await s.get(m.Project, project_id)
        if project is None:
            return []
        return await self.roles.expand(
            s, await self.roles.direct_role_ids(s, user_id, project=project)
        )

    async def create(self, attrs: dict[str, Any]) -> m.Trust:
        now = datetime.now(UTC)
        expires_at: datetime | None = attrs.get("expires_at")
        if expires_at is not None:
            if expires_at.tzinfo is None:
                expires_at = expires_at.replace(tzinfo=UTC)
            if expires_at <= now:
                raise ValidationError("The trust's expires_at is in the past.")
        if attrs.get("allow_redelegation"):
            raise Forbidden("Redelegation of trusts is not allowed by this cloud.")
        project_id = attrs.get("project_id")
        refs: list[dict[str, Any]] = attrs.get("roles") or []
        async with self.core.write() as s:
            if await s.get(m.User, attrs["trustee_user_id"]) is None:
                raise not_found("user", attrs["trustee_user_id"])
            if project_id is None:
                if refs:
                    raise ValidationError("A trust with roles needs a project_id.")
            else:
                if await s.get(m.Project, project_id) is None:
                    raise not_found("project", project_id)
                if not refs:
                    raise ValidationError("At least one role should be specified.")
            role_ids = list(dict.fromkeys([await self._role_id(s, r) for r in refs]))
            if project_id is not None:
                held = await self.trustor_roles(s, attrs["trustor_user_id"], project_id)
                for role_id in role_ids:
                    if role_id not in held:
                        raise not_found("role", role_id)
            trust = m.Trust(
                id=m.new_id(),
                trustor_user_id=attrs["trustor_user_id"],
                trustee_user_id=attrs["trustee_user_id"],
                project_id=project_id,
                impersonation=attrs["impersonation"],
                expires_at=expires_at,
                remaining_uses=attrs.get("remaining_uses"),
                role_ids=role_ids,
                extra={},
                created_at=now,
            )
            s.add(trust)
        return trust

    async def delete(self, trust_id: str) -> None:
        async with self.core.write() as s:
            trust = await s.get(m.Trust, trust_id)
            if trust is None:
                raise not_found("trust", trust_id)
            await s.delete(trust)

    async def consume(self, trust_id: str) -> None:
        """Use up one of a limited trust's uses, as a token is issued from it.
        One who lost the race for the last use is refused as Keystone does."""
        async with self.core.write() as s:
            result = await s.execute(
                update(m.Trust)
                .where(
                    m.Trust.id == trust_id,
                    m.Trust.remaining_uses.is_not(None),
                    m.Trust.remaining_uses > 0,
                )
                .values(remaining_uses=m.Trust.remaining_uses - 1)
            )
            if result.rowcount == 0:  # type: ignore[attr-defined]
                raise Forbidden(f"Trust {trust_id} has no use left.")

    async def for_token(self, s: AsyncSession, trust: m.Trust) -> TrustRoles:
        """The roles a token from ``trust`` carries, and whether the trustor
        still holds them all (a token from a trust whose trustor lost a role
        is no longer valid, as in Keystone)."""
        if trust.project_id is None:
            return TrustRoles([], True)
        held = await self.trustor_roles(s, trust.trustor_user_id, trust.project_id)
        ok = all(r in held for r in trust.role_ids)
        return TrustRoles(await self.roles.expand(s, trust.role_ids), ok)
