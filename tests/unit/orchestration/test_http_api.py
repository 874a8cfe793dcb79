"""The engine's client of the other services: a 401 mid-task asks the
stack's trust for a new token once and sends the request again."""

from __future__ import annotations

import httpx
import pytest

from stratus.orchestration.drivers.base import ApiError
from stratus.orchestration.drivers.openstack import HttpApi


async def test_a_refused_token_is_renewed_once_and_the_call_sent_again() -> None:
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["x-auth-token"])
        if request.headers["x-auth-token"] != "fresh":
            return httpx.Response(401, json={"error": {"message": "expired"}})
        return httpx.Response(200, json={"networks": []})

    renewals: list[int] = []

    async def renew() -> str | None:
        renewals.append(1)
        return "fresh" if len(renewals) == 1 else "stale"

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as client:
        api = HttpApi("http://cloud.test", "expired", "p", client, renew=renew)
        assert await api.call("network", "GET", "/v2.0/networks") == {"networks": []}
        assert seen == ["expired", "fresh"] and api.token == "fresh"
        api.token = "revoked"
        with pytest.raises(ApiError) as err:  # a token the trust no longer gives: one try
            await api.call("network", "GET", "/v2.0/networks")
        assert err.value.status == 401 and seen[2:] == ["revoked", "stale"]
        plain = HttpApi("http://cloud.test", "expired", "p", client)
        with pytest.raises(ApiError):
            await plain.call("network", "GET", "/v2.0/networks")
        assert seen[4:] == ["expired"]
