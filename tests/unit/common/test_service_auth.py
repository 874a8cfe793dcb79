"""The client every service uses to call another: the service token on each
request, one new token and one retry on a 401, streamed bodies never sent
twice."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator

import httpx
import pytest

from stratus.common.service_auth import (
    ServiceAuthError,
    ServiceSession,
    ServiceTokenAuth,
    service_client,
)

EXPIRES = "2999-01-01T00:00:00.000000Z"


class Identity:
    """Keystone's token issue, answering a new token each time."""

    def __init__(self, status: int = 201) -> None:
        self.status = status
        self.issued: list[str] = []
        self.numbers = itertools.count(1)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if self.status != 201:
            return httpx.Response(self.status)
        token = f"token-{next(self.numbers)}"
        self.issued.append(token)
        body = {"token": {"expires_at": EXPIRES, "project": {"id": "service-project"}}}
        return httpx.Response(201, json=body, headers={"X-Subject-Token": token})


class Other:
    """Another service: accepts only the tokens in ``good``; records what it got."""

    def __init__(self) -> None:
        self.good: set[str] = set()
        self.seen: list[tuple[str, bytes]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        token = request.headers.get("x-auth-token", "")
        self.seen.append((token, request.read()))
        return httpx.Response(200 if token in self.good else 401)


def session(identity: Identity) -> ServiceSession:
    client = httpx.AsyncClient(transport=httpx.MockTransport(identity))
    return ServiceSession("http://identity", "stratus", "secret", "service", client=client)


def client_for(s: ServiceSession, other: Other) -> httpx.AsyncClient:
    return httpx.AsyncClient(auth=ServiceTokenAuth(s), transport=httpx.MockTransport(other))


async def test_the_token_goes_on_every_request_and_is_reused() -> None:
    identity, other = Identity(), Other()
    s = session(identity)
    async with client_for(s, other) as client:
        other.good = {"token-1"}
        assert (await client.get("http://other/a")).status_code == 200
        assert (await client.post("http://other/b", json={"x": 1})).status_code == 200
    assert identity.issued == ["token-1"]
    assert [t for t, _ in other.seen] == ["token-1", "token-1"]
    assert s.project_id == "service-project"
    await s.close()


async def test_a_401_gets_one_new_token_and_one_retry() -> None:
    identity, other = Identity(), Other()
    s = session(identity)
    async with client_for(s, other) as client:
        await s.token()  # token-1, which the other service no longer takes
        other.good = {"token-2"}
        resp = await client.put("http://other/a", content=b"body")
        assert resp.status_code == 200
        assert other.seen == [("token-1", b"body"), ("token-2", b"body")]
        # A token the other side never takes: one retry, then the 401 stays.
        other.good = set()
        other.seen.clear()
        assert (await client.get("http://other/a")).status_code == 401
        assert [t for t, _ in other.seen] == ["token-2", "token-3"]
    await s.close()


async def test_a_streamed_body_is_not_sent_twice() -> None:
    identity, other = Identity(), Other()
    s = session(identity)

    async def chunks() -> AsyncIterator[bytes]:
        yield b"part"

    async with client_for(s, other) as client:
        await s.token()
        other.good = {"token-2"}
        resp = await client.put("http://other/a", content=chunks())
        assert resp.status_code == 401
        assert len(other.seen) == 1
        # The token was forgotten: the next request has a new one.
        assert (await client.get("http://other/a")).status_code == 200
        assert other.seen[-1][0] == "token-2"
    await s.close()


async def test_a_service_user_that_cannot_authenticate_raises() -> None:
    s = session(Identity(status=401))
    async with client_for(s, Other()) as client:
        with pytest.raises(ServiceAuthError):
            await client.get("http://other/a")
    await s.close()


async def test_service_client_is_an_async_client_with_the_auth() -> None:
    s = session(Identity())
    client = service_client(s, timeout=5.0)
    assert isinstance(client.auth, ServiceTokenAuth)
    assert client.timeout.read == 5.0
    await client.aclose()
    await s.close()
