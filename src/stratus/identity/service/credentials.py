"""Application credentials: a user's delegation of (some of) their roles on
one project to a secret that authenticates without their password."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from stratus.common.context import RequestContext
from stratus.common.db import utcnow
from stratus.identity import models as m
from stratus.identity.errors import Forbidden, ValidationError, conflict, not_found
from stratus.identity.service.core import Core
from stratus.identity.service.tokens import generated_secret

AccessRules = dict[str, list[m.AccessRule]]  # an application credential's id -> its rules


def _future_expiry(expires_at: datetime | None) -> datetime | None:
    """A credential's expiry, in UTC when naive; it must be in the future."""
    if expires_at is not None and expires_at.tzinfo is None:
        expires_at = expires_at.replace(tzinfo=UTC)
    if expires_at is not None and expires_at <= utcnow():
        raise ValidationError("expires_at must be in the future.")
    return expires_at


def _held_roles(ctx: RequestContext, wanted: list[dict[str, Any]]) -> list[str]:
    """The role ids a new credential gets: those asked for (by id or name),
    each held by the caller on its project; all the caller's by default."""
    if not wanted:
        return list(dict.fromkeys(ctx.role_ids))
    held = dict(zip(ctx.role_ids, ctx.roles, strict=False))
    role_ids: list[str] = []
    for ref in wanted:
        rid = ref.get("id")
        if rid is None:
            rid = next((i for i, n in held.items() if n == ref.get("name")), None)
        if rid is None or rid not in held:
            raise Forbidden(
                f"You hold no role {ref.get('id') or ref.get('name')!r} on this project."
            )
        role_ids.append(rid)
    return list(dict.fromkeys(role_ids))


class Credentials:
    def __init__(self, core: Core):
        self.core = core

    async def get(
        self, user_id: str, cred_id: str, s: AsyncSession | None = None
    ) -> m.ApplicationCredential:
        if s is None:
            async with self.core.db.session() as session:
                return await self.get(user_id, cred_id, session)
        cred = await s.get(m.ApplicationCredential, cred_id)
        if cred is None or cred.user_id != user_id:
            raise not_found("application credential", cred_id)
        return cred

    async def list_credentials(
        self, user_id: str, name: str | None
    ) -> list[m.ApplicationCredential]:
        async with self.core.db.session() as s:
            if await s.get(m.User, user_id) is None:
                raise not_found("user", user_id)
            stmt = select(m.ApplicationCredential).where(m.ApplicationCredential.user_id == user_id)
            if name:
                stmt = stmt.where(m.ApplicationCredential.name == name)
            return list((await s.scalars(stmt.order_by(m.ApplicationCredential.name))).all())

    async def create(
        self, ctx: RequestContext, user_id: str, attrs: dict[str, Any]
    ) -> tuple[m.ApplicationCredential, str, list[m.AccessRule]]:
        """Create a credential from the caller's project-scoped token; return
        it with its secret, which is never shown again, and its access rules."""
        if ctx.project_id is None:
            raise Forbidden("An application credential is created with a project-scoped token.")
        await self._check_parent(ctx)
        expires_at = _future_expiry(attrs.get("expires_at"))
        secret = attrs.get("secret") or generated_secret(48)
        secret_hash = await self.core.hasher.hash(secret)
        async with self.core.write() as s:
            role_ids = _held_roles(ctx, attrs.get("roles") or [])
            name = attrs["name"]
            if await s.scalar(
                select(m.ApplicationCredential.id).where(
                    m.ApplicationCredential.user_id == user_id, m.ApplicationCredential.name == name
                )
            ):
                raise conflict("application credential", f"you have one named {name!r}")
            cred = m.ApplicationCredential(
                id=m.new_id(),
                name=name,
                user_id=user_id,
                project_id=ctx.project_id,
                secret_hash=secret_hash,
                description=attrs.get("description"),
                expires_at=expires_at,
                unrestricted=bool(attrs.get("unrestricted")),
                role_ids=role_ids,
            )
            s.add(cred)
            rules = await self._rules_for(s, user_id, attrs.get("access_rules") or [])
            for rule in rules:
                s.add(
                    m.AppCredAccessRule(application_credential_id=cred.id, access_rule_id=rule.id)
                )
        return cred, secret, rules

    async def _check_parent(self, ctx: RequestContext) -> None:
        """A token from a restricted application credential makes no other."""
        if ctx.application_credential_id is None:
            return
        async with self.core.db.session() as s:
            parent = await s.get(m.ApplicationCredential, ctx.application_credential_id)
        if parent is None or not parent.unrestricted:
            raise Forbidden(
                "A restricted application credential cannot create application credentials."
            )

    async def _rules_for(
        self, s: AsyncSession, user_id: str, refs: list[dict[str, Any]]
    ) -> list[m.AccessRule]:
        """The user's access rules a new credential names: by id (the
        user's own), or by service, path and method (the user's identical
        rule, else a new one), as Keystone shares them."""
        rules: dict[str, m.AccessRule] = {}
        for ref in refs:
            rule: m.AccessRule | None = None
            if ref.get("id"):
                rule = rules.get(ref["id"]) or await s.get(m.AccessRule, ref["id"])
                other_users = rule is not None and rule.user_id != user_id
                if other_users or (rule is None and ref.get("service") is None):
                    raise not_found("access rule", ref["id"])
            if rule is None:
                key = (ref["service"], ref["path"], ref["method"])
                rule = next(
                    (r for r in rules.values() if (r.service, r.path, r.method) == key), None
                ) or await s.scalar(
                    select(m.AccessRule).where(
                        m.AccessRule.user_id == user_id,
                        m.AccessRule.service == key[0],
                        m.AccessRule.path == key[1],
                        m.AccessRule.method == key[2],
                    )
                )
            if rule is None:
                rule = m.AccessRule(
                    id=ref.get("id") or m.new_id(),  # a new rule may name its id
                    user_id=user_id,
                    service=ref["service"],
                    path=ref["path"],
                    method=ref["method"],
                )
                s.add(rule)
            rules[rule.id] = rule
        return list(rules.values())

    async def rules_of(self, cred_ids: list[str], s: AsyncSession | None = None) -> AccessRules:
        """The access rules of each credential named (none: no entry)."""
        if s is None:
            async with self.core.db.session() as session:
                return await self.rules_of(cred_ids, session)
        out: AccessRules = {}
        if not cred_ids:
            return out
        rows = await s.execute(
            select(m.AppCredAccessRule.application_credential_id, m.AccessRule)
            .join(m.AccessRule, m.AccessRule.id == m.AppCredAccessRule.access_rule_id)
            .where(m.AppCredAccessRule.application_credential_id.in_(cred_ids))
            .order_by(m.AccessRule.service, m.AccessRule.path, m.AccessRule.method)
        )
        for cred_id, rule in rows.all():
            out.setdefault(cred_id, []).append(rule)
        return out

    # -- access rules (/v3/users/{user_id}/access_rules) --------------------------

    async def list_access_rules(
        self, user_id: str, filters: dict[str, str | None]
    ) -> list[m.AccessRule]:
        async with self.core.db.session() as s:
            if await s.get(m.User, user_id) is None:
                raise not_found("user", user_id)
            stmt = select(m.AccessRule).where(m.AccessRule.user_id == user_id)
            for name, value in filters.items():
                if value is not None:
                    stmt = stmt.where(getattr(m.AccessRule, name) == value)
            order = (m.AccessRule.service, m.AccessRule.path, m.AccessRule.method)
            return list((await s.scalars(stmt.order_by(*order))).all())

    async def get_access_rule(
        self, user_id: str, rule_id: str, s: AsyncSession | None = None
    ) -> m.AccessRule:
        if s is None:
            async with self.core.db.session() as session:
                return await self.get_access_rule(user_id, rule_id, session)
        rule = await s.get(m.AccessRule, rule_id)
        if rule is None or rule.user_id != user_id:
            raise not_found("access rule", rule_id)
        return rule

    async def delete_access_rule(self, user_id: str, rule_id: str) -> None:
        async with self.core.write() as s:
            rule = await self.get_access_rule(user_id, rule_id, s)
            used = await s.scalar(
                select(func.count())
                .select_from(m.AppCredAccessRule)
                .where(m.AppCredAccessRule.access_rule_id == rule.id)
            )
            if used:
                raise Forbidden("May not delete access rule in use")
            await s.delete(rule)

    async def delete(self, user_id: str, cred_id: str) -> None:
        async with self.core.write() as s:
            cred = await self.get(user_id, cred_id, s)
            await s.delete(cred)
