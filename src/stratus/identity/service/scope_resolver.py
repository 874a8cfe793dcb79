"""Resolving a token's payload to what it stands for: its user, its scope,
the roles it carries (through an application credential or a trust) and
whether they still hold."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from stratus.identity import models as m
from stratus.identity.service.roles import NULL_DOMAIN, Roles
from stratus.identity.service.token_info import AuthInfo, TokenInvalid
from stratus.identity.service.tokens import DOMAIN, PROJECT, SYSTEM, UNSCOPED
from stratus.identity.service.trusts import Trusts


class ScopeResolver:
    def __init__(self, roles: Roles, trusts: Trusts):
        self.roles = roles
        self.trusts = trusts

    async def resolve(
        self,
        s: AsyncSession,
        user_id: str,
        scope: int,
        scope_id: str | None,
        app_cred_id: str | None,
        trusted: bool = False,
    ) -> AuthInfo:
        info = await self._user_info(s, user_id)
        role_ids = await self._scope_roles(s, info, user_id, scope, scope_id)
        effective = await self.roles.expand(s, role_ids)
        if app_cred_id is not None:
            effective = await self._app_cred_roles(
                s, info, user_id, scope_id, app_cred_id, effective
            )
        if scope != UNSCOPED:
            names = await self.roles.names(s)
            # A domain-specific role only implies others: never in a token itself.
            effective = [r for r in effective if r in names and names[r].domain_id == NULL_DOMAIN]
            if not effective and not trusted:
                raise TokenInvalid("The user has no role on the token's scope.")
            info.roles = [{"id": r, "name": names[r].name} for r in effective]
        return info

    @staticmethod
    async def _user_info(s: AsyncSession, user_id: str) -> AuthInfo:
        user = await s.get(m.User, user_id)
        if user is None or not user.enabled:
            raise TokenInvalid("The token's user does not exist or is disabled.")
        user_domain = await s.get(m.Domain, user.domain_id)
        if user_domain is None or not user_domain.enabled:
            raise TokenInvalid("The token's user is in a disabled domain.")
        return AuthInfo(
            user={
                "id": user.id,
                "name": user.name,
                "domain": {"id": user_domain.id, "name": user_domain.name},
                "password_expires_at": None,
            }
        )

    async def _scope_roles(
        self, s: AsyncSession, info: AuthInfo, user_id: str, scope: int, scope_id: str | None
    ) -> list[str]:
        """Fill in the token's scope; the user's role ids on it, before inference."""
        if scope == PROJECT:
            project = await s.get(m.Project, scope_id)
            if project is None or not project.enabled:
                raise TokenInvalid(f"Project {scope_id} does not exist or is disabled.")
            project_domain = await s.get(m.Domain, project.domain_id)
            if project_domain is None or not project_domain.enabled:
                raise TokenInvalid(f"The domain of project {scope_id} is disabled.")
            info.project = {
                "id": project.id,
                "name": project.name,
                "domain": {"id": project_domain.id, "name": project_domain.name},
            }
            return await self.roles.direct_role_ids(s, user_id, project=project)
        if scope == DOMAIN:
            domain = await s.get(m.Domain, scope_id)
            if domain is None or not domain.enabled:
                raise TokenInvalid(f"Domain {scope_id} does not exist or is disabled.")
            info.domain = {"id": domain.id, "name": domain.name}
            return await self.roles.direct_role_ids(s, user_id, domain_id=domain.id)
        if scope == SYSTEM:
            info.system = True
            return await self.roles.direct_role_ids(s, user_id, system=True)
        return []

    async def _app_cred_roles(
        self,
        s: AsyncSession,
        info: AuthInfo,
        user_id: str,
        scope_id: str | None,
        app_cred_id: str,
        effective: list[str],
    ) -> list[str]:
        """The credential's roles the user still holds; its details and
        access rules go into ``info``."""
        cred = await s.get(m.ApplicationCredential, app_cred_id)
        if cred is None or cred.user_id != user_id or cred.project_id != scope_id:
            raise TokenInvalid("The application credential no longer exists.")
        kept = [r for r in await self.roles.expand(s, cred.role_ids) if r in effective]
        info.app_cred = {"id": cred.id, "name": cred.name, "restricted": not cred.unrestricted}
        rules = await s.scalars(
            select(m.AccessRule)
            .join(m.AppCredAccessRule, m.AppCredAccessRule.access_rule_id == m.AccessRule.id)
            .where(m.AppCredAccessRule.application_credential_id == cred.id)
            .order_by(m.AccessRule.service, m.AccessRule.path, m.AccessRule.method)
        )
        listed = [
            {"id": r.id, "service": r.service, "path": r.path, "method": r.method} for r in rules
        ]
        if listed:
            info.app_cred["access_rules"] = listed
        if cred.expires_at is not None:
            info.app_cred_expires = cred.expires_at.timestamp()
        return kept

    async def resolve_trust(self, s: AsyncSession, info: AuthInfo, trust_id: str) -> None:
        """Give a trust-scoped token its trust's roles, while the trust
        exists and its trustor still holds them."""
        trust = await s.get(m.Trust, trust_id)
        user_id = info.user["id"]
        if trust is None or (info.project or {}).get("id") != trust.project_id:
            raise TokenInvalid("The token's trust no longer exists.")
        if user_id != (trust.trustor_user_id if trust.impersonation else trust.trustee_user_id):
            raise TokenInvalid("The token's trust no longer exists.")
        for party in (trust.trustor_user_id, trust.trustee_user_id):
            user = await s.get(m.User, party)
            if user is None or not user.enabled:
                raise TokenInvalid("A party of the token's trust is disabled.")
        roles = await self.trusts.for_token(s, trust)
        if not roles.held or not roles.role_ids:
            raise TokenInvalid("The trustor no longer holds the roles of the trust.")
        names = await self.roles.names(s)
        info.roles = [{"id": r, "name": names[r].name} for r in roles.role_ids if r in names]
        info.trust = {
            "id": trust.id,
            "impersonation": trust.impersonation,
            "trustee_user": {"id": trust.trustee_user_id},
            "trustor_user": {"id": trust.trustor_user_id},
        }
        if trust.expires_at is not None:
            info.trust_expires = trust.expires_at.timestamp()
