"""``Api`` over HTTP: the cloud's public endpoints with the stack owner's
token, as any client of the cloud calls them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import httpx
import orjson

from stratus.common.service_auth import ACCEPTS_401, RenewableTokenAuth
from stratus.orchestration.drivers.base import ApiError
from stratus.registry import SERVICES

TIMEOUT = 60.0


def message_of(resp: httpx.Response) -> str:
    """The message of another service's error body, whatever its format."""
    try:
        body = resp.json()
    except ValueError:
        return resp.text.strip()[:500] or resp.reason_phrase

    def find(value: Any) -> str | None:
        if isinstance(value, dict):
            for key in ("message", "faultstring", "detail"):
                if isinstance(value.get(key), str):
                    return str(value[key])
            for v in value.values():
                found = find(v)
                if found:
                    return found
        return None

    return find(body) or resp.text[:500]


class HttpApi:
    def __init__(
        self,
        public_url: str,
        token: str,
        project_id: str,
        client: httpx.AsyncClient,
        guest_url: str = "",
        renew: Callable[[], Awaitable[str | None]] | None = None,
    ) -> None:
        self.public_url = public_url
        # The token on each call and, when the services answer 401, one new
        # token from ``renew`` (the stack's trust gives one again: a task
        # outlives the token it started with) and one retry.
        self.auth = RenewableTokenAuth(token, renew)
        self.guest_url = guest_url or public_url
        self.project_id = project_id
        self.client = client

    @property
    def token(self) -> str:
        return self.auth.current

    @token.setter
    def token(self, token: str) -> None:
        self.auth.current = token

    def endpoint(self, service: str, guest: bool = False) -> str:
        """The service's URL for this project; as guests reach it with ``guest``."""
        url = SERVICES[service].endpoint_url(self.guest_url if guest else self.public_url)
        return url.replace("$(project_id)s", self.project_id)

    async def call(
        self,
        service: str,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        ok: tuple[int, ...] = (200, 201, 202, 204),
    ) -> Any:
        if service not in SERVICES:
            raise ApiError(503, f"the {service} service is not part of this cloud")
        hdrs = {"Accept": "application/json", **(headers or {})}
        if service == "compute":
            hdrs.setdefault("OpenStack-API-Version", "compute 2.1")
        content = orjson.dumps(json) if json is not None else None
        if content is not None:  # a JSON patch names its own media type
            hdrs.setdefault("Content-Type", "application/json")
        url = f"{self.endpoint(service)}{path}"
        try:
            resp = await self.client.request(method, url, content=content, params=params,
                                             headers=hdrs, auth=self.auth,
                                             extensions={ACCEPTS_401: 401 in ok})  # fmt: skip
        except httpx.HTTPError as exc:
            raise ApiError(503, f"{service} unreachable: {exc}") from exc
        if resp.status_code not in ok:
            raise ApiError(resp.status_code, message_of(resp))
        if not resp.content or "json" not in resp.headers.get("content-type", ""):
            return None
        return resp.json()
