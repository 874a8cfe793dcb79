"""CORS (Swift's proxy behaviour) over the in-memory cluster: preflights
answered from the container's metadata, and the headers of actual answers."""

from __future__ import annotations

from stratus.objectstore.api.cors import CorsPolicy
from tests.unit.objectstore.api.conftest import Cloud, cloud_with

A = "/v1/AUTH_p1"
ORIGIN = "https://app.example.com"


async def _container(cloud: Cloud, allow: str) -> None:
    headers = {
        "x-container-meta-access-control-allow-origin": allow,
        "x-container-meta-access-control-max-age": "600",
        "x-container-meta-access-control-expose-headers": "X-Custom",
    }
    assert (await cloud.http.put(f"{A}/web", headers=headers)).status_code == 201
    await cloud.http.put(f"{A}/web/page", content=b"hi", headers={"x-object-meta-kind": "html"})


async def test_preflight_allowed_and_refused(cloud: Cloud) -> None:
    await _container(cloud, f"https://other.example {ORIGIN}")
    anonymous = {"x-auth-token": ""}
    r = await cloud.http.options(
        f"{A}/web/page",
        headers={
            **anonymous,
            "origin": ORIGIN,
            "access-control-request-method": "PUT",
            "access-control-request-headers": "x-auth-token, content-type",
        },
    )
    assert r.status_code == 200, r.text
    assert r.headers["access-control-allow-origin"] == ORIGIN
    assert "PUT" in r.headers["access-control-allow-methods"]
    assert r.headers["access-control-allow-headers"] == "x-auth-token, content-type"
    assert r.headers["access-control-max-age"] == "600"
    r = await cloud.http.options(
        f"{A}/web/page",
        headers={
            **anonymous,
            "origin": "https://evil.example",
            "access-control-request-method": "GET",
        },
    )
    assert r.status_code == 401
    r = await cloud.http.options(
        f"{A}/web",
        headers={**anonymous, "origin": ORIGIN, "access-control-request-method": "TRACE"},
    )
    assert r.status_code == 401
    r = await cloud.http.options(f"{A}/web/page", headers=anonymous)
    assert (
        r.status_code == 200 and r.headers["allow"] == "COPY, DELETE, GET, HEAD, OPTIONS, POST, PUT"
    )


async def test_actual_requests_carry_cors_headers(cloud: Cloud) -> None:
    await _container(cloud, "*")
    r = await cloud.http.get(f"{A}/web/page", headers={"origin": ORIGIN})
    # A container open to all says "*", as Swift's proxy.
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "*"
    exposed = r.headers["access-control-expose-headers"].split(", ")
    assert {"etag", "x-object-meta-kind", "x-custom"} <= set(exposed)
    r = await cloud.http.get(f"{A}/web/page")
    assert "access-control-allow-origin" not in r.headers
    await cloud.http.put(f"{A}/closed")
    await cloud.http.put(f"{A}/closed/o", content=b"x")
    r = await cloud.http.get(f"{A}/closed/o", headers={"origin": ORIGIN})
    assert "access-control-allow-origin" not in r.headers


async def test_named_origin_account_and_info(cloud: Cloud) -> None:
    await _container(cloud, ORIGIN)
    r = await cloud.http.head(f"{A}/web", headers={"origin": ORIGIN})
    assert r.headers["access-control-allow-origin"] == ORIGIN and r.headers["vary"] == "Origin"
    anonymous = {"x-auth-token": ""}
    preflight = {**anonymous, "origin": ORIGIN, "access-control-request-method": "GET"}
    r = await cloud.http.options(f"{A}/web", headers=preflight)
    assert r.status_code == 200 and r.headers["vary"] == "Origin"
    # No CORS at an account: Swift answers its OPTIONS with Allow alone.
    r = await cloud.http.options(A, headers=preflight)
    assert r.status_code == 200 and "access-control-allow-origin" not in r.headers
    assert r.headers["allow"] == "DELETE, GET, HEAD, OPTIONS, POST, PUT"
    r = await cloud.http.options("/info", headers=preflight)
    assert r.status_code == 200 and r.headers["allow"] == "HEAD, GET, OPTIONS"
    r = await cloud.http.get("/info", headers={"origin": ORIGIN})
    assert r.headers["access-control-allow-origin"] == ORIGIN
    assert r.headers["access-control-expose-headers"] == "x-trans-id"


async def test_operator_policy() -> None:
    """cors_allow_origin opens every container to an origin; with
    strict_cors_mode off, an origin not allowed still gets the headers."""
    policy = CorsPolicy(allow_origin=(ORIGIN,), expose_headers=("X-Op",), strict=False)
    async with cloud_with(policy) as cloud:
        await cloud.http.put(f"{A}/plain")
        await cloud.http.put(f"{A}/plain/o", content=b"x")
        anonymous = {"x-auth-token": ""}
        r = await cloud.http.options(
            f"{A}/plain/o",
            headers={**anonymous, "origin": ORIGIN, "access-control-request-method": "GET"},
        )
        assert r.status_code == 200 and r.headers["access-control-allow-origin"] == ORIGIN
        r = await cloud.http.options(
            f"{A}/plain/o",
            headers={
                **anonymous,
                "origin": "https://x.example",
                "access-control-request-method": "GET",
            },
        )
        assert r.status_code == 401
        r = await cloud.http.get(f"{A}/plain/o", headers={"origin": "https://x.example"})
        assert r.headers["access-control-allow-origin"] == "https://x.example"
        assert "x-op" in r.headers["access-control-expose-headers"].split(", ")
        assert (await cloud.http.get("/info")).json()["swift"]["strict_cors_mode"] is False
