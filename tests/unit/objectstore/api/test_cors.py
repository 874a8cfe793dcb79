"""CORS (Swift's proxy behaviour) over the in-memory cluster: preflights
answered from the container's metadata, and the headers of actual answers."""

from __future__ import annotations

from tests.unit.objectstore.api.conftest import Cloud

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
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == ORIGIN
    exposed = r.headers["access-control-expose-headers"].split(", ")
    assert {"etag", "x-object-meta-kind", "x-custom"} <= set(exposed)
    r = await cloud.http.get(f"{A}/web/page")
    assert "access-control-allow-origin" not in r.headers
    await cloud.http.put(f"{A}/closed")
    await cloud.http.put(f"{A}/closed/o", content=b"x")
    r = await cloud.http.get(f"{A}/closed/o", headers={"origin": ORIGIN})
    assert "access-control-allow-origin" not in r.headers
