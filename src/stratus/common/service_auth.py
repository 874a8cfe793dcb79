"""How one Stratus service calls another: as the cloud's service user.

``ServiceSession`` holds the service user's token (password authentication,
renewed before it expires).  ``ServiceTokenAuth`` is the ``httpx.Auth`` every
client of another service uses: it puts that token in ``X-Auth-Token`` and,
when the other side answers 401 (the token expired early or was revoked),
authenticates again and sends the request once more.  Both it and
``RenewableTokenAuth`` (a token given, renewed by a callback: the
orchestration engine's trust tokens) are a ``ReauthenticatingAuth``, the one
401-and-retry flow.  ``service_client``
makes such a client::

    session = service_session(cfg)              # one per process is enough
    images = service_client(session, timeout=30.0)
    resp = await images.get(f"{image_url}/v2/images/{image_id}")

A request whose body is a stream (an upload) cannot be sent twice: its 401
is returned to the caller, and the next request has the new token.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Generator
from datetime import datetime
from typing import Any

import httpx

from stratus.common import tls
from stratus.common.config import Config
from stratus.common.context import RequestContext
from stratus.registry import SERVICES

log = logging.getLogger(__name__)

RENEW_BEFORE = 120.0
# The user the all-in-one's own agents act as, made at bootstrap; its password
# is kept in the data folder.
SERVICE_USER = "stratus"
SERVICE_PASSWORD_FILE = "service-password"


class ServiceAuthError(Exception):
    pass


class ServiceSession:
    def __init__(
        self,
        identity_url: str,
        username: str,
        password: str | Callable[[], str],
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
                        "user": {"name": username, "domain": {"name": domain}, "password": ""}
                    },
                },
                "scope": {"project": {"name": project, "domain": {"name": domain}}},
            }
        }
        self.password = password
        self.client = client or tls.client(timeout=30.0)
        self._token: tuple[str, float] | None = None
        self.project_id: str | None = None  # the token's project, once authenticated
        self.user_id: str | None = None  # the service user's id, once authenticated
        self._lock = asyncio.Lock()

    async def token(self) -> str:
        async with self._lock:
            if self._token and self._token[1] - RENEW_BEFORE > time.time():
                return self._token[0]
            password = self.password() if callable(self.password) else self.password
            self.body["auth"]["identity"]["password"]["user"]["password"] = password
            try:
                resp = await self.client.post(f"{self.auth_url}?nocatalog", json=self.body)
            except httpx.HTTPError as exc:
                raise ServiceAuthError(f"identity unreachable: {exc}") from exc
            if resp.status_code != 201:
                raise ServiceAuthError(f"the service user cannot authenticate ({resp.status_code})")
            body = resp.json()["token"]
            self.project_id = (body.get("project") or {}).get("id")
            self.user_id = (body.get("user") or {}).get("id")
            expires = body["expires_at"]
            deadline = datetime.fromisoformat(expires.replace("Z", "+00:00")).timestamp()
            self._token = (resp.headers["x-subject-token"], deadline)
            return self._token[0]

    def forget(self) -> None:
        self._token = None

    async def close(self) -> None:
        await self.client.aclose()


# A request that takes a 401 as an answer (``extensions={ACCEPTS_401: True}``)
# is never sent again.
ACCEPTS_401 = "stratus.accepts_401"


class ReauthenticatingAuth(httpx.Auth):
    """The ``httpx.Auth`` of every client of another service: a token in
    ``X-Auth-Token`` and, when the other service answers 401, one new token
    and one retry.  A subclass says where tokens come from."""

    async def token(self) -> str:
        """The token to send."""
        raise NotImplementedError

    def refused(self) -> None:
        """The token sent was answered 401."""

    async def renewed(self, refused: str) -> str | None:
        """A new token in place of ``refused``, or None: no retry."""
        raise NotImplementedError

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, Any, None]:
        raise RuntimeError(f"{type(self).__name__} works with httpx.AsyncClient only")
        yield request  # pragma: no cover

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        replayable = isinstance(request.stream, httpx.ByteStream)  # not a stream being sent
        sent = request.headers["X-Auth-Token"] = await self.token()
        response = yield request
        if response.status_code != 401 or request.extensions.get(ACCEPTS_401):
            return
        self.refused()
        if not replayable:
            return  # a streamed body is spent: the caller sees the 401
        token = await self.renewed(sent)
        if token is None:
            return
        request.headers["X-Auth-Token"] = token
        yield request


class ServiceTokenAuth(ReauthenticatingAuth):
    """The service user's token on every request; one new token and one
    retry when the other service answers 401.  Raises ``ServiceAuthError``
    when the service user cannot authenticate at all."""

    def __init__(self, session: ServiceSession) -> None:
        self.session = session

    async def token(self) -> str:
        return await self.session.token()

    def refused(self) -> None:
        self.session.forget()

    async def renewed(self, refused: str) -> str | None:
        return await self.session.token()


class RenewableTokenAuth(ReauthenticatingAuth):
    """A token given (a user's, a trust's) and, if ``renew`` is given, a new
    one from it on a 401; the call is sent again only with a token other
    than the one refused."""

    def __init__(
        self, token: str, renew: Callable[[], Awaitable[str | None]] | None = None
    ) -> None:
        self.current = token
        self.renew = renew

    async def token(self) -> str:
        return self.current

    async def renewed(self, refused: str) -> str | None:
        if self.renew is None:
            return None
        token = await self.renew()
        if not token or token == refused:
            return None
        self.current = token
        return token


async def on_behalf_headers(ctx: RequestContext, session: ServiceSession | None) -> dict[str, str]:
    """The headers of a call made for a caller with its own token.  When
    access rules restrict that token, the service's token goes beside it
    (``X-Service-Token``, as Nova's service user token): the other service
    lets a call vouched for by a service through, since the rules were
    checked where the caller came in."""
    headers = {"X-Auth-Token": ctx.token or "", "X-Openstack-Request-Id": ctx.request_id}
    if ctx.access_rules is not None and session is not None:
        try:
            headers["X-Service-Token"] = await session.token()
        except ServiceAuthError as exc:
            log.warning("no service token to send beside a restricted token: %s", exc)
    return headers


def service_client(
    session: ServiceSession, timeout: httpx.Timeout | float = 30.0, **options: Any
) -> httpx.AsyncClient:
    """An HTTP client that calls other services as the service user."""
    return tls.client(auth=ServiceTokenAuth(session), timeout=timeout, **options)


def service_session(cfg: Config) -> ServiceSession:
    """Stratus's own identity (agents, stores): the configured service user,
    or (all-in-one) the one bootstrap made, its password in the data folder."""
    identity = cfg.auth.identity_url or SERVICES["identity"].endpoint_url(cfg.public_url)
    if cfg.auth.service_username:
        return ServiceSession(
            identity,
            cfg.auth.service_username,
            cfg.auth.service_password,
            cfg.auth.service_project,
            cfg.auth.service_domain,
        )
    path = cfg.data_dir / SERVICE_PASSWORD_FILE
    # Read when first needed: bootstrap writes it after the services are built.
    return ServiceSession(identity, SERVICE_USER, lambda: path.read_text().strip(), "service")
