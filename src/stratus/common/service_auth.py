"""A token for Stratus's own services (agents, validators): password
authentication of a service user, renewed before it expires."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from typing import Any

import httpx

RENEW_BEFORE = 120.0


class ServiceAuthError(Exception):
    pass


class ServiceSession:
    def __init__(
        self,
        identity_url: str,
        username: str,
        password: str,
        project: str,
        domain: str = "Default",
        client: httpx.AsyncClient | None = None,
    ):
        self.auth_url = identity_url.rstrip("/") + "/v3/auth/tokens"
        self.body: dict[str, Any] = {
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {
                        "user": {"name": username, "domain": {"name": domain}, "password": password}
                    },
                },
                "scope": {"project": {"name": project, "domain": {"name": domain}}},
            }
        }
        self.client = client or httpx.AsyncClient(timeout=30.0)
        self._token: tuple[str, float] | None = None
        self._lock = asyncio.Lock()

    async def token(self) -> str:
        async with self._lock:
            if self._token and self._token[1] - RENEW_BEFORE > time.time():
                return self._token[0]
            try:
                resp = await self.client.post(f"{self.auth_url}?nocatalog", json=self.body)
            except httpx.HTTPError as exc:
                raise ServiceAuthError(f"identity unreachable: {exc}") from exc
            if resp.status_code != 201:
                raise ServiceAuthError(f"the service user cannot authenticate ({resp.status_code})")
            expires = resp.json()["token"]["expires_at"]
            deadline = datetime.fromisoformat(expires.replace("Z", "+00:00")).timestamp()
            self._token = (resp.headers["x-subject-token"], deadline)
            return self._token[0]

    def forget(self) -> None:
        self._token = None

    async def close(self) -> None:
        await self.client.aclose()
