"""Authentication, token issue, validation and revocation."""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from stratus.common.access_rules import AccessRule
from stratus.common.context import RequestContext
from stratus.identity import models as m
from stratus.identity.errors import BadRequest, Forbidden, Unauthorized
from stratus.identity.service.catalog import Catalog
from stratus.identity.service.core import Core
from stratus.identity.service.revocation import revoke_audit_id
from stratus.identity.service.roles import NULL_DOMAIN, Roles
from stratus.identity.service.tokens import (
    DOMAIN,
    PROJECT,
    SYSTEM,
    UNSCOPED,
    TokenFormatError,
    TokenPayload,
    new_audit_id,
)
from stratus.identity.service.trusts import Trusts

log = logging.getLogger(__name__)

GENERIC_FAILURE = "The request you have made requires authentication."
DECODED_CACHE = 50_000  # tokens whose decrypted payload and context are kept
SUPPORTED_METHODS = ("password", "token", "application_credential")


class TokenInvalid(Unauthorized):
    """The token is garbled, expired, revoked, or no longer resolves."""

    default_message = "The token is not valid: it is expired, revoked or malformed."


@dataclass(frozen=True)
class NamedRef:
    """Something named by id, or by name within a domain named by id or name."""

    id: str | None = None
    name: str | None = None
    domain_id: str | None = None
    domain_name: str | None = None


@dataclass(frozen=True)
class AuthRequest:
    methods: tuple[str, ...]
    password_user: NamedRef | None = None
    password: str | None = None
    token: str | None = None
    app_cred_id: str | None = None
    app_cred_name: str | None = None
    app_cred_user: NamedRef | None = None
    app_cred_secret: str | None = None
    scope_kind: str | None = None  # "project" | "domain" | "system" | "trust" | None
    scope: NamedRef | None = None


@dataclass
class AuthInfo:
    """What a token payload resolves to; cached until identity data changes."""

    user: dict[str, Any]
    project: dict[str, Any] | None = None
    domain: dict[str, Any] | None = None
    system: bool = False
    roles: list[dict[str, str]] = field(default_factory=list)
    catalog: list[dict[str, Any]] = field(default_factory=list)
    app_cred: dict[str, Any] | None = None
    app_cred_expires: float | None = None
    trust: dict[str, Any] | None = None
    trust_expires: float | None = None


@functools.lru_cache(maxsize=65536)
def isotime(ts: float) -> str:
    """A token time as Keystone writes it: whole seconds (``...:07.000000Z``),
    the same when the token is issued, validated or re-scoped."""
    return datetime.fromtimestamp(int(ts), UTC).strftime("%Y-%m-%dT%H:%M:%S.000000Z")


class Auth:
    def __init__(self, core: Core, roles: Roles, catalog: Catalog, trusts: Trusts):
        self.core = core
        self.roles = roles
        self.catalog = catalog
        self.trusts = trusts
        self._decoded: dict[str, TokenPayload] = {}
        # The context built for a token, valid while its resolved identity
        # (AuthInfo, dropped on any identity change) is the same object.
        self._contexts: dict[str, tuple[AuthInfo, RequestContext]] = {}

    # -- validation ---------------------------------------------------------

    def decode(self, token: str) -> TokenPayload:
        payload = self._decoded.get(token)
        if payload is None:
            try:
                payload = self.core.tokens.decode(token)
            except TokenFormatError as exc:
                raise TokenInvalid() from exc
            # A token's payload never changes: decrypt each token once.
            if len(self._decoded) >= DECODED_CACHE:
                self._decoded.clear()
            self._decoded[token] = payload
        if payload.expires_at <= time.time():
            raise TokenInvalid("The token has expired.")
        if self.core.state.revocations.revoked(payload):
            raise TokenInvalid("The token has been revoked.")
        return payload

    async def validate(self, token: str) -> tuple[TokenPayload, AuthInfo]:
        payload = self.decode(token)
        info = await self.resolve(
            payload.user_id, payload.scope, payload.scope_id, payload.app_cred_id, payload.trust_id
        )
        if info.app_cred_expires is not None and info.app_cred_expires <= time.time():
            raise TokenInvalid("The application credential has expired.")
        if info.trust_expires is not None and info.trust_expires <= time.time():
            raise TokenInvalid("The token's trust has expired.")
        return payload, info

    async def context(self, token: str, request_id: str) -> RequestContext:
        payload, info = await self.validate(token)
        cached = self._contexts.get(token)
        if cached is not None and cached[0] is info:
            return cached[1].for_request(request_id)
        ctx = to_context(payload, info, token, request_id)
        if len(self._contexts) >= DECODED_CACHE:
            self._contexts.clear()
        self._contexts[token] = (info, ctx)
        return ctx

    async def resolve(
        self,
        user_id: str,
        scope: int,
        scope_id: str | None,
        app_cred_id: str | None,
        trust_id: str | None = None,
    ) -> AuthInfo:
        cache = self.core.state.cache("auth")
        key = (user_id, scope, scope_id, app_cred_id, trust_id)
        found: asyncio.Future[AuthInfo] | None = cache.get(key)
        if found is None:
            # One lookup per key at a time: concurrent requests after a cache
            # drop share it instead of each taking a database connection.
            found = asyncio.ensure_future(
                self._load(user_id, scope, scope_id, app_cred_id, trust_id)
            )
            cache[key] = found
        hit: asyncio.Future[AuthInfo] = found
        try:
            return await asyncio.shield(hit)
        except BaseException:
            if cache.get(key) is hit and hit.done():
                del cache[key]  # failures are not cached
            raise

    async def _load(
        self,
        user_id: str,
        scope: int,
        scope_id: str | None,
        app_cred_id: str | None,
        trust_id: str | None,
    ) -> AuthInfo:
        async with self.core.db.session() as s:
            info = await self._resolve(
                s, user_id, scope, scope_id, app_cred_id, trusted=trust_id is not None
            )
            if trust_id is not None:
                await self._resolve_trust(s, info, trust_id)
        if scope != UNSCOPED:
            # After the session is closed: never hold two connections at once.
            project_id = info.project["id"] if info.project else None
            info.catalog = await self.catalog.for_scope(project_id, user_id)
        return info

    async def _resolve(
        self,
        s: AsyncSession,
        user_id: str,
        scope: int,
        scope_id: str | None,
        app_cred_id: str | None,
        trusted: bool = False,
    ) -> AuthInfo:
        user = await s.get(m.User, user_id)
        if user is None or not user.enabled:
            raise TokenInvalid("The token's user does not exist or is disabled.")
        user_domain = await s.get(m.Domain, user.domain_id)
        if user_domain is None or not user_domain.enabled:
            raise TokenInvalid("The token's user is in a disabled domain.")
        info = AuthInfo(
            user={
                "id": user.id,
                "name": user.name,
                "domain": {"id": user_domain.id, "name": user_domain.name},
                "password_expires_at": None,
            }
        )
        role_ids: list[str] = []
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
            role_ids = await self.roles.direct_role_ids(s, user.id, project=project)
        elif scope == DOMAIN:
            domain = await s.get(m.Domain, scope_id)
            if domain is None or not domain.enabled:
                raise TokenInvalid(f"Domain {scope_id} does not exist or is disabled.")
            info.domain = {"id": domain.id, "name": domain.name}
            role_ids = await self.roles.direct_role_ids(s, user.id, domain_id=domain.id)
        elif scope == SYSTEM:
            info.system = True
            role_ids = await self.roles.direct_role_ids(s, user.id, system=True)
        effective = await self.roles.expand(s, role_ids)
        if app_cred_id is not None:
            cred = await s.get(m.ApplicationCredential, app_cred_id)
            if cred is None or cred.user_id != user.id or cred.project_id != scope_id:
                raise TokenInvalid("The application credential no longer exists.")
            effective = [r for r in await self.roles.expand(s, cred.role_ids) if r in effective]
            info.app_cred = {"id": cred.id, "name": cred.name, "restricted": not cred.unrestricted}
            rules = await s.scalars(
                select(m.AccessRule)
                .join(m.AppCredAccessRule, m.AppCredAccessRule.access_rule_id == m.AccessRule.id)
                .where(m.AppCredAccessRule.application_credential_id == cred.id)
                .order_by(m.AccessRule.service, m.AccessRule.path, m.AccessRule.method)
            )
            listed = [
                {"id": r.id, "service": r.service, "path": r.path, "method": r.method}
                for r in rules
            ]
            if listed:
                info.app_cred["access_rules"] = listed
            if cred.expires_at is not None:
                info.app_cred_expires = cred.expires_at.timestamp()
        if scope != UNSCOPED:
            names = await self.roles.names(s)
            # A domain-specific role only implies others: never in a token itself.
            effective = [r for r in effective if r in names and names[r].domain_id == NULL_DOMAIN]
            if not effective and not trusted:
                raise TokenInvalid("The user has no role on the token's scope.")
            info.roles = [{"id": r, "name": names[r].name} for r in effective]
        return info

    async def _resolve_trust(self, s: AsyncSession, info: AuthInfo, trust_id: str) -> None:
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

    # -- authentication --------------------------------------------------------

    async def _find_user(self, s: AsyncSession, ref: NamedRef) -> m.User | None:
        if ref.id:
            return await s.get(m.User, ref.id)
        if not ref.name:
            raise BadRequest(
                "Invalid input for field 'user': an id, or a name and a domain, is required."
            )
        domain_id = ref.domain_id
        if domain_id is None:
            if ref.domain_name is None:
                raise BadRequest(
                    "Invalid input for field 'user': a user named by name needs a domain."
                )
            domain_id = await s.scalar(select(m.Domain.id).where(m.Domain.name == ref.domain_name))
            if domain_id is None:
                return None
        return await s.scalar(
            select(m.User).where(m.User.domain_id == domain_id, m.User.name == ref.name)
        )

    async def _scope_target(self, s: AsyncSession, req: AuthRequest) -> tuple[int, str | None]:
        ref = req.scope
        if req.scope_kind is None or ref is None:
            return UNSCOPED, None
        if req.scope_kind == "system":
            return SYSTEM, "all"
        if req.scope_kind == "domain":
            if ref.id:
                return DOMAIN, ref.id
            if not ref.name:
                raise BadRequest(
                    "Invalid input for field 'scope.domain': an id or a name is required."
                )
            domain_id = await s.scalar(select(m.Domain.id).where(m.Domain.name == ref.name))
            if domain_id is None:
                raise Unauthorized(f"Could not find domain: {ref.name}.")
            return DOMAIN, domain_id
        if ref.id:
            return PROJECT, ref.id
        if not ref.name or not (ref.domain_id or ref.domain_name):
            raise BadRequest(
                "Invalid input for field 'scope.project': an id, or a name and a domain, is required."
            )
        domain_id = ref.domain_id or await s.scalar(
            select(m.Domain.id).where(m.Domain.name == ref.domain_name)
        )
        project_id = await s.scalar(
            select(m.Project.id).where(m.Project.domain_id == domain_id, m.Project.name == ref.name)
        )
        if project_id is None:
            raise Unauthorized(f"Could not find project: {ref.name}.")
        return PROJECT, project_id

    async def authenticate(self, req: AuthRequest) -> tuple[str, TokenPayload, AuthInfo]:
        methods = tuple(dict.fromkeys(req.methods))
        if not methods:
            raise BadRequest(
                "Invalid input for field 'identity.methods': at least one method is required."
            )
        for method in methods:
            if method not in SUPPORTED_METHODS:
                raise Unauthorized(f"Unsupported authentication method: {method}.")
        now = time.time()
        expires = now + self.core.cfg.identity.token_expiration
        audit_ids: tuple[str, ...] = (new_audit_id(),)
        user_id: str | None = None
        app_cred: m.ApplicationCredential | None = None
        token_methods: list[str] = []
        # Sessions stay short and never overlap: no connection is held while
        # a password hashes or another token validates.
        if "token" in methods:
            if not req.token:
                raise BadRequest("Invalid input for field 'identity.token': an id is required.")
            parent, _ = await self.validate(req.token)
            if parent.app_cred_id is not None:
                raise Forbidden("A token from an application credential cannot be re-scoped.")
            if parent.trust_id is not None:
                raise Forbidden("A trust-scoped token cannot be re-scoped.")
            user_id = parent.user_id
            expires = parent.expires_at
            audit_ids = (audit_ids[0], parent.audit_ids[-1])
            token_methods = list(parent.methods)
        if "password" in methods:
            if req.password_user is None or req.password is None:
                raise BadRequest(
                    "Invalid input for field 'identity.password': a user and a password are required."
                )
            async with self.core.db.session() as s:
                user = await self._find_user(s, req.password_user)
            ok = await self.core.hasher.verify(user.password_hash if user else None, req.password)
            if not ok or user is None or not user.enabled or (user_id and user.id != user_id):
                log.info("identity: password authentication failed")
                raise Unauthorized(GENERIC_FAILURE)
            user_id = user.id
        if "application_credential" in methods:
            async with self.core.db.session() as s:
                app_cred = await self._find_app_cred(s, req)
            ok = await self.core.hasher.verify(
                app_cred.secret_hash if app_cred else None, req.app_cred_secret or ""
            )
            if not ok or app_cred is None or (user_id and app_cred.user_id != user_id):
                log.info("identity: application credential authentication failed")
                raise Unauthorized(GENERIC_FAILURE)
            if app_cred.expires_at is not None and app_cred.expires_at.timestamp() <= now:
                raise Unauthorized(GENERIC_FAILURE)
            user_id = app_cred.user_id
            if app_cred.expires_at is not None:
                expires = min(expires, app_cred.expires_at.timestamp())
        assert user_id is not None
        trust: m.Trust | None = None
        scope_id: str | None
        async with self.core.db.session() as s:
            if req.scope_kind == "trust":
                if app_cred is not None:
                    raise Forbidden("An application credential cannot use a trust.")
                trust = await self.trusts.get((req.scope.id if req.scope else None) or "", s)
                if trust.trustee_user_id != user_id:
                    raise Forbidden("The user is not the trustee of the trust.")
                if trust.project_id is None:
                    raise Forbidden("A trust with no project gives no token.")
                if trust.impersonation:
                    user_id = trust.trustor_user_id
                scope, scope_id = PROJECT, trust.project_id
                if trust.expires_at is not None:
                    expires = min(expires, trust.expires_at.timestamp())
            elif app_cred is not None:
                if req.scope_kind is not None:
                    scope, scope_id = await self._scope_target(s, req)
                    if scope != PROJECT or scope_id != app_cred.project_id:
                        raise Unauthorized(
                            "An application credential is scoped to its own project only."
                        )
                scope, scope_id = PROJECT, app_cred.project_id
            else:
                scope, scope_id = await self._scope_target(s, req)
                if req.scope_kind is None and "token" not in methods:
                    scope, scope_id = await self._default_scope(s, user_id)
        payload = TokenPayload(
            user_id=user_id,
            methods=tuple(dict.fromkeys([*token_methods, *methods])),
            issued_at=now,
            expires_at=expires,
            audit_ids=audit_ids,
            scope=scope,
            scope_id=scope_id,
            app_cred_id=app_cred.id if app_cred else None,
            trust_id=trust.id if trust else None,
        )
        try:
            info = await self.resolve(
                user_id, scope, scope_id, payload.app_cred_id, payload.trust_id
            )
        except TokenInvalid as exc:
            if trust is not None:
                raise Forbidden(f"The trust cannot be used: {exc.message}") from exc
            if scope == UNSCOPED:
                raise Unauthorized(GENERIC_FAILURE) from exc
            raise Unauthorized(
                f"The user has no access to the requested scope: {exc.message}"
            ) from exc
        if trust is not None and trust.remaining_uses is not None:
            await self.trusts.consume(trust.id)
        return self.core.tokens.encode(payload), payload, info

    async def _find_app_cred(
        self, s: AsyncSession, req: AuthRequest
    ) -> m.ApplicationCredential | None:
        if req.app_cred_secret is None:
            raise BadRequest(
                "Invalid input for field 'identity.application_credential': a secret is required."
            )
        if req.app_cred_id:
            return await s.get(m.ApplicationCredential, req.app_cred_id)
        if not req.app_cred_name or req.app_cred_user is None:
            raise BadRequest(
                "Invalid input for field 'identity.application_credential': an id, or a name and a user, is required."
            )
        user = await self._find_user(s, req.app_cred_user)
        if user is None:
            return None
        return await s.scalar(
            select(m.ApplicationCredential).where(
                m.ApplicationCredential.user_id == user.id,
                m.ApplicationCredential.name == req.app_cred_name,
            )
        )

    async def _default_scope(self, s: AsyncSession, user_id: str) -> tuple[int, str | None]:
        """With no scope asked for, Keystone scopes to the user's default
        project when the user holds a role there."""
        user = await s.get(m.User, user_id)
        if user is None or not user.default_project_id:
            return UNSCOPED, None
        project = await s.get(m.Project, user.default_project_id)
        if project is None or not project.enabled:
            return UNSCOPED, None
        if not await self.roles.direct_role_ids(s, user_id, project=project):
            return UNSCOPED, None
        return PROJECT, project.id

    # -- revocation --------------------------------------------------------------

    async def revoke(self, payload: TokenPayload) -> None:
        async with self.core.db.transaction() as s:
            await revoke_audit_id(self.core, s, payload.audit_ids[0], payload.expires_at)


def render_token(payload: TokenPayload, info: AuthInfo, *, catalog: bool = True) -> dict[str, Any]:
    token: dict[str, Any] = {
        "methods": list(payload.methods),
        "user": info.user,
        "audit_ids": list(payload.audit_ids),
        "expires_at": isotime(payload.expires_at),
        "issued_at": isotime(payload.issued_at),
    }
    if info.project is not None:
        token["project"] = info.project
        token["is_domain"] = False
    elif info.domain is not None:
        token["domain"] = info.domain
    elif info.system:
        token["system"] = {"all": True}
    if payload.scope != UNSCOPED:
        token["roles"] = info.roles
        if catalog:
            token["catalog"] = info.catalog
    if info.app_cred is not None:
        token["application_credential"] = info.app_cred
    if info.trust is not None:
        token["OS-TRUST:trust"] = info.trust
    return {"token": token}


def to_context(
    payload: TokenPayload, info: AuthInfo, token: str, request_id: str
) -> RequestContext:
    project = info.project or {}
    project_domain = project.get("domain") or {}
    domain = info.domain or {}
    rules = (info.app_cred or {}).get("access_rules")
    return RequestContext(
        request_id=request_id,
        user_id=payload.user_id,
        user_name=info.user["name"],
        user_domain_id=info.user["domain"]["id"],
        user_domain_name=info.user["domain"]["name"],
        project_id=project.get("id"),
        project_name=project.get("name"),
        project_domain_id=project_domain.get("id"),
        project_domain_name=project_domain.get("name"),
        domain_id=domain.get("id"),
        domain_name=domain.get("name"),
        system_scope="all" if info.system else None,
        roles=tuple(r["name"] for r in info.roles),
        role_ids=tuple(r["id"] for r in info.roles),
        auth_methods=payload.methods,
        audit_ids=payload.audit_ids,
        application_credential_id=payload.app_cred_id,
        access_rules=None if rules is None else tuple(AccessRule.from_token(r) for r in rules),
        expires_at=isotime(payload.expires_at),
        token=token,
    )
