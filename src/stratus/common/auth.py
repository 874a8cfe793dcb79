"""Token validation for services that do not hold the identity keys: ask the
identity service, and cache its answers for ``[auth] cache_ttl`` seconds (as
keystonemiddleware does).  A revoked token may therefore keep working in such
a process until its cache entry ages out; the all-in-one validates locally and
sees revocations at once."""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import Any

import httpx

from stratus.common.access_rules import AccessRule
from stratus.common.config import AuthConfig
from stratus.common.context import RequestContext
from stratus.common.errors import StratusError, Unauthorized
from stratus.common.service_auth import ServiceAuthError, ServiceSession, service_client

log = logging.getLogger(__name__)

MAX_CACHED = 10000
ACCESS_RULES_HEADER = "OpenStack-Identity-Access-Rules"


class IdentityUnavailable(StratusError):
    status = 503
    title = "Service Unavailable"
    default_message = "The identity service cannot be reached to validate the token."


def context_from_token(body: dict[str, Any], token: str, request_id: str) -> RequestContext:
    """A request context from a Keystone token body (``{"token": {...}}``)."""
    t = body["token"]
    user, project, domain = t["user"], t.get("project") or {}, t.get("domain") or {}
    roles = t.get("roles") or []
    app_cred = t.get("application_credential") or {}
    rules = app_cred.get("access_rules")
    return RequestContext(
        request_id=request_id,
        user_id=user["id"],
        user_name=user.get("name"),
        user_domain_id=(user.get("domain") or {}).get("id"),
        user_domain_name=(user.get("domain") or {}).get("name"),
        project_id=project.get("id"),
        project_name=project.get("name"),
        project_domain_id=(project.get("domain") or {}).get("id"),
        project_domain_name=(project.get("domain") or {}).get("name"),
        domain_id=domain.get("id"),
        domain_name=domain.get("name"),
        system_scope="all" if t.get("system") else None,
        roles=tuple(r["name"] for r in roles),
        role_ids=tuple(r["id"] for r in roles),
        auth_methods=tuple(t.get("methods") or ()),
        audit_ids=tuple(t.get("audit_ids") or ()),
        application_credential_id=app_cred.get("id"),
        access_rules=None if rules is None else tuple(AccessRule.from_token(r) for r in rules),
        expires_at=t.get("expires_at"),
        token=token,
    )


class RemoteValidator:
    def __init__(self, cfg: AuthConfig, client: httpx.AsyncClient | None = None):
        if not cfg.identity_url:
            raise ValueError("[auth] mode = 'remote' needs [auth] identity_url")
        self.cfg = cfg
        self.base = cfg.identity_url.rstrip("/")
        self.session = ServiceSession(
            self.base,
            cfg.service_username,
            cfg.service_password,
            cfg.service_project,
            cfg.service_domain,
        )
        self.client = client or service_client(self.session, 10.0)
        self._cache: dict[str, tuple[float, RequestContext | None]] = {}

    async def validate(self, token: str, request_id: str) -> RequestContext:
        now = time.monotonic()
        hit = self._cache.get(token)
        if hit is not None and hit[0] > now:
            if hit[1] is None:
                raise Unauthorized()
            return dataclasses.replace(hit[1], request_id=request_id)
        try:
            resp = await self.client.get(
                f"{self.base}/v3/auth/tokens?nocatalog",
                # This validator enforces access rules (keystonemiddleware's
                # header): identity refuses to validate tokens that carry
                # them for a caller that would not.
                headers={"X-Subject-Token": token, ACCESS_RULES_HEADER: "1.0"},
            )
        except ServiceAuthError as exc:
            if isinstance(exc.__cause__, httpx.HTTPError):
                log.error("auth: identity service unreachable: %s", exc.__cause__)
                raise IdentityUnavailable() from exc
            log.error("auth: the service user cannot authenticate (%s)", exc)
            raise IdentityUnavailable(
                "This service cannot authenticate to the identity service."
            ) from exc
        except httpx.HTTPError as exc:
            log.error("auth: identity service unreachable: %s", exc)
            raise IdentityUnavailable() from exc
        if len(self._cache) >= MAX_CACHED:
            self._cache.clear()
        if resp.status_code == 200:
            ctx = context_from_token(resp.json(), token, request_id)
            self._cache[token] = (now + self.cfg.cache_ttl, ctx)
            return ctx
        if resp.status_code in (401, 404):
            self._cache[token] = (now + self.cfg.cache_ttl, None)
            raise Unauthorized()
        if resp.status_code == 403:
            self.session.forget()
        log.error("auth: identity answered %s validating a token", resp.status_code)
        raise IdentityUnavailable()

    async def close(self) -> None:
        await self.client.aclose()
        await self.session.close()
