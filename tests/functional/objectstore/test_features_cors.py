"""CORS against a real all-in-one, as a browser does it: a preflight
OPTIONS without a token, then the request with an Origin, at the storage URL
the catalog gives (``/v1/AUTH_...``) and under ``/object-store``."""

from __future__ import annotations

import httpx

from tests.functional.objectstore.conftest import Account, Swift, unique

ORIGIN = "https://dashboard.example.org"


def test_preflight_and_request(owner: Account, api: Swift) -> None:
    c = unique("cors")
    r = api.put(f"/{c}", headers={"X-Container-Meta-Access-Control-Allow-Origin": ORIGIN})
    assert r.status_code == 201
    api.put(f"/{c}/data.json", content=b"{}", headers={"X-Object-Meta-Rev": "3"})
    for base in (owner.url, f"{owner.server.url}/v1/{owner.name}"):
        r = httpx.options(
            f"{base}/{c}/data.json",
            headers={
                "Origin": ORIGIN,
                "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": "x-auth-token",
            },
            timeout=30,
        )
        assert r.status_code == 200, (base, r.status_code, r.text)
        assert r.headers["access-control-allow-origin"] == ORIGIN
        assert r.headers["access-control-allow-headers"] == "x-auth-token"
        r = httpx.options(
            f"{base}/{c}/data.json",
            headers={"Origin": "https://elsewhere.example", "Access-Control-Request-Method": "GET"},
            timeout=30,
        )
        assert r.status_code == 401
    r = api.get(f"/{c}/data.json", headers={"Origin": ORIGIN})
    assert r.headers["access-control-allow-origin"] == ORIGIN
    assert "x-object-meta-rev" in r.headers["access-control-expose-headers"]
    r = httpx.options(f"{owner.url}/{c}", timeout=30)
    assert r.status_code == 200 and "OPTIONS" in r.headers["allow"]
    # /info where Swift's tools look: OPTIONS answers Allow, GET allows any origin.
    r = httpx.options(f"{owner.server.url}/info", headers={"Origin": ORIGIN}, timeout=30)
    assert r.status_code == 200 and r.headers["allow"] == "HEAD, GET, OPTIONS"
    r = httpx.get(f"{owner.server.url}/info", headers={"Origin": ORIGIN}, timeout=30)
    assert r.headers["access-control-allow-origin"] == ORIGIN
