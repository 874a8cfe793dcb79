"""Stacks outlive their owner's token: trusts (Keystone's OS-TRUST) from the
stack's user to the cloud's service user, as Heat's.

At stack create the API asks identity, with the user's token, for a trust on
the stack's project with the token's roles and impersonation; its id is kept
on the stack (``trust_id``).  The engine works on the stack (create, update,
delete, signals, scaling) with a token of that trust, which the service user
asks for with its own password: a stack whose creator's token was revoked or
expired is still created, updated and deleted.  The trust goes with the stack.
All of it over identity's public API.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime
from typing import Any

import httpx

from stratus.common import tls
from stratus.common.config import Config
from stratus.common.service_auth import (
    ServiceAuthError,
    ServiceSession,
    service_client,
    service_session,
)
from stratus.registry import SERVICES

log = logging.getLogger(__name__)

RENEW_BEFORE = 120.0


class StackTrusts:
    def __init__(self, cfg: Config, session: ServiceSession | None = None) -> None:
        identity = cfg.auth.identity_url or SERVICES["identity"].endpoint_url(cfg.public_url)
        self.url = identity.rstrip("/")
        self.session = session or service_session(cfg)
        self.client = tls.client(timeout=30.0)  # with the user's token or none
        self.admin = service_client(self.session, timeout=30.0)  # as the service user
        self.tokens: dict[str, tuple[str, float]] = {}

    async def create(self, user_token: str, user_id: str, project_id: str,
                     roles: tuple[str, ...] | list[str]) -> str | None:  # fmt: skip
        """A trust from the token's user to the service user, or None (logged)
        when identity refuses it: the engine then acts with the token itself."""
        try:
            await self.session.token()
            body = {"trust": {"trustor_user_id": user_id, "trustee_user_id": self.session.user_id,
                              "project_id": project_id, "impersonation": True,
                              "roles": [{"name": r} for r in roles]}}  # fmt: skip
            resp = await self.client.post(f"{self.url}/v3/OS-TRUST/trusts", json=body,
                                          headers={"X-Auth-Token": user_token})  # fmt: skip
        except (ServiceAuthError, httpx.HTTPError, OSError) as exc:
            log.warning("orchestration: no trust for a stack: %s", exc)
            return None
        if resp.status_code != 201:
            log.warning("orchestration: no trust for a stack: %s %s", resp.status_code,
                        resp.text[:200])  # fmt: skip
            return None
        return str(resp.json()["trust"]["id"])

    async def token(self, trust_id: str, fresh: bool = False) -> str | None:
        """A token of the trust (the service user's password, the trust as
        scope), kept until shortly before it expires (``fresh``: a new one);
        None if refused."""
        kept = self.tokens.get(trust_id)
        if kept and not fresh and kept[1] - RENEW_BEFORE > time.time():
            return kept[0]
        auth: dict[str, Any] = self.session.body["auth"]
        password = self.session.password
        try:
            secret = password() if callable(password) else password
        except OSError as exc:
            log.warning("orchestration: no token of trust %s: %s", trust_id, exc)
            return None
        user = dict(auth["identity"]["password"]["user"], password=secret)
        body = {"auth": {"identity": {"methods": ["password"], "password": {"user": user}},
                         "scope": {"OS-TRUST:trust": {"id": trust_id}}}}  # fmt: skip
        try:
            resp = await self.client.post(f"{self.url}/v3/auth/tokens?nocatalog", json=body)
        except (httpx.HTTPError, OSError) as exc:
            log.warning("orchestration: no token of trust %s: %s", trust_id, exc)
            return None
        if resp.status_code != 201:
            log.warning("orchestration: no token of trust %s: %s", trust_id, resp.status_code)
            return None
        expires = resp.json()["token"]["expires_at"].replace("Z", "+00:00")
        token = resp.headers["x-subject-token"]
        self.tokens[trust_id] = (token, datetime.fromisoformat(expires).timestamp())
        return token

    async def delete(self, trust_id: str) -> bool:
        """Delete the trust as the service user (an admin); gone is fine.
        False (logged) when identity could not be asked."""
        self.tokens.pop(trust_id, None)
        try:
            resp = await self.admin.delete(f"{self.url}/v3/OS-TRUST/trusts/{trust_id}")
        except (ServiceAuthError, httpx.HTTPError, OSError) as exc:
            log.warning("orchestration: trust %s not deleted: %s", trust_id, exc)
            return False
        if resp.status_code not in (204, 404):
            log.warning("orchestration: trust %s not deleted: %s", trust_id, resp.status_code)
            return False
        return True

    async def close(self) -> None:
        await self.client.aclose()
        await self.admin.aclose()
