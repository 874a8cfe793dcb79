"""Authentication, token issue, validation and revocation."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from stratus.common.context import RequestContext
from stratus.identity import models as m
from stratus.identity.errors import BadRequest, Forbidden, Unauthorized
from stratus.identity.service.auth_request import (
    AuthRequest,
    find_app_cred,
    find_user,
    scope_target,
)
from stratus.identity.service.catalog import Catalog
from stratus.identity.service.core import Core
from stratus.identity.service.revocation import revoke_audit_id
from stratus.identity.service.roles import Roles
from stratus.identity.service.scope_resolver import ScopeResolver
from stratus.identity.service.token_info import AuthInfo, TokenInvalid, to_context
from stratus.identity.service.tokens import (
    PROJECT,
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


@dataclass
class _Proof:
    """What a token request has proved so far: the user, and what the new
    token carries over (expiry, audit chain, methods, credential)."""

    now: float
    expires: float
    audit_ids: tuple[str, ...]
    user_id: str | None = None
    app_cred: m.ApplicationCredential | None = None
    token_methods: list[str] = field(default_factory=list)


def _checked_methods(requested: tuple[str, ...]) -> tuple[str, ...]:
    methods = tuple(dict.fromkeys(requested))
    if not methods:
        raise BadRequest(
            "Invalid input for field 'identity.methods': at least one method is required."
        )
    for method in methods:
        if method not in SUPPORTED_METHODS:
            raise Unauthorized(f"Unsupported authentication method: {method}.")
    return methods


class Auth:
    def __init__(self, core: Core, roles: Roles, catalog: Catalog, trusts: Trusts):
        self.core = core
        self.roles = roles
        self.catalog = catalog
        self.trusts = trusts
        self.resolver = ScopeResolver(roles, trusts)
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
            info = await self.resolver.resolve(
                s, user_id, scope, scope_id, app_cred_id, trusted=trust_id is not None
            )
            if trust_id is not None:
                await self.resolver.resolve_trust(s, info, trust_id)
        if scope != UNSCOPED:
            # After the session is closed: never hold two connections at once.
            project_id = info.project["id"] if info.project else None
            info.catalog = await self.catalog.for_scope(project_id, user_id)
        return info

    # -- authentication --------------------------------------------------------

    # -- authentication --------------------------------------------------------

    async def authenticate(self, req: AuthRequest) -> tuple[str, TokenPayload, AuthInfo]:
        methods = _checked_methods(req.methods)
        now = time.time()
        proof = _Proof(now, now + self.core.cfg.identity.token_expiration, (new_audit_id(),))
        # Sessions stay short and never overlap: no connection is held while
        # a password hashes or another token validates.
        if "token" in methods:
            await self._by_token(req, proof)
        if "password" in methods:
            await self._by_password(req, proof)
        if "application_credential" in methods:
            await self._by_app_cred(req, proof)
        assert proof.user_id is not None
        scope, scope_id, trust = await self._token_scope(req, methods, proof)
        app_cred = proof.app_cred
        payload = TokenPayload(
            user_id=proof.user_id,
            methods=tuple(dict.fromkeys([*proof.token_methods, *methods])),
            issued_at=now,
            expires_at=proof.expires,
            audit_ids=proof.audit_ids,
            scope=scope,
            scope_id=scope_id,
            app_cred_id=app_cred.id if app_cred else None,
            trust_id=trust.id if trust else None,
        )
        info = await self._resolve_issued(payload, trust)
        if trust is not None and trust.remaining_uses is not None:
            await self.trusts.consume(trust.id)
        return self.core.tokens.encode(payload), payload, info

    async def _by_token(self, req: AuthRequest, proof: _Proof) -> None:
        """Re-scoping: the new token keeps the old one's user, expiry and audit chain."""
        if not req.token:
            raise BadRequest("Invalid input for field 'identity.token': an id is required.")
        parent, _ = await self.validate(req.token)
        if parent.app_cred_id is not None:
            raise Forbidden("A token from an application credential cannot be re-scoped.")
        if parent.trust_id is not None:
            raise Forbidden("A trust-scoped token cannot be re-scoped.")
        proof.user_id = parent.user_id
        proof.expires = parent.expires_at
        proof.audit_ids = (proof.audit_ids[0], parent.audit_ids[-1])
        proof.token_methods = list(parent.methods)

    async def _by_password(self, req: AuthRequest, proof: _Proof) -> None:
        if req.password_user is None or req.password is None:
            raise BadRequest(
                "Invalid input for field 'identity.password': a user and a password are required."
            )
        async with self.core.db.session() as s:
            user = await find_user(s, req.password_user)
        ok = await self.core.hasher.verify(user.password_hash if user else None, req.password)
        if (
            not ok
            or user is None
            or not user.enabled
            or (proof.user_id and user.id != proof.user_id)
        ):
            log.info("identity: password authentication failed")
            raise Unauthorized(GENERIC_FAILURE)
        proof.user_id = user.id

    async def _by_app_cred(self, req: AuthRequest, proof: _Proof) -> None:
        async with self.core.db.session() as s:
            app_cred = await find_app_cred(s, req)
        ok = await self.core.hasher.verify(
            app_cred.secret_hash if app_cred else None, req.app_cred_secret or ""
        )
        if not ok or app_cred is None or (proof.user_id and app_cred.user_id != proof.user_id):
            log.info("identity: application credential authentication failed")
            raise Unauthorized(GENERIC_FAILURE)
        if app_cred.expires_at is not None and app_cred.expires_at.timestamp() <= proof.now:
            raise Unauthorized(GENERIC_FAILURE)
        proof.user_id = app_cred.user_id
        proof.app_cred = app_cred
        if app_cred.expires_at is not None:
            proof.expires = min(proof.expires, app_cred.expires_at.timestamp())

    async def _token_scope(
        self, req: AuthRequest, methods: tuple[str, ...], proof: _Proof
    ) -> tuple[int, str | None, m.Trust | None]:
        """The new token's scope (and trust): the one asked for, the
        credential's project, or the user's default project."""
        app_cred, user_id = proof.app_cred, proof.user_id or ""
        async with self.core.db.session() as s:
            if req.scope_kind == "trust":
                trust = await self._trust_scope(s, req, proof)
                return PROJECT, trust.project_id, trust
            if app_cred is not None:
                if req.scope_kind is not None:
                    scope, scope_id = await scope_target(s, req)
                    if scope != PROJECT or scope_id != app_cred.project_id:
                        raise Unauthorized(
                            "An application credential is scoped to its own project only."
                        )
                return PROJECT, app_cred.project_id, None
            scope, scope_id = await scope_target(s, req)
            if req.scope_kind is None and "token" not in methods:
                scope, scope_id = await self._default_scope(s, user_id)
            return scope, scope_id, None

    async def _trust_scope(self, s: AsyncSession, req: AuthRequest, proof: _Proof) -> m.Trust:
        """The trust a trustee asks to act through; an impersonating trust
        makes the token the trustor's."""
        if proof.app_cred is not None:
            raise Forbidden("An application credential cannot use a trust.")
        trust = await self.trusts.get((req.scope.id if req.scope else None) or "", s)
        if trust.trustee_user_id != proof.user_id:
            raise Forbidden("The user is not the trustee of the trust.")
        if trust.project_id is None:
            raise Forbidden("A trust with no project gives no token.")
        if trust.impersonation:
            proof.user_id = trust.trustor_user_id
        if trust.expires_at is not None:
            proof.expires = min(proof.expires, trust.expires_at.timestamp())
        return trust

    async def _resolve_issued(self, payload: TokenPayload, trust: m.Trust | None) -> AuthInfo:
        """What a new token resolves to; a scope it cannot have refuses it."""
        try:
            return await self.resolve(
                payload.user_id,
                payload.scope,
                payload.scope_id,
                payload.app_cred_id,
                payload.trust_id,
            )
        except TokenInvalid as exc:
            if trust is not None:
                raise Forbidden(f"The trust cannot be used: {exc.message}") from exc
            if payload.scope == UNSCOPED:
                raise Unauthorized(GENERIC_FAILURE) from exc
            raise Unauthorized(
                f"The user has no access to the requested scope: {exc.message}"
            ) from exc

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
