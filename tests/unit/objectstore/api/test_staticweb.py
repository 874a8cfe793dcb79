"""Static web sites (Swift's staticweb middleware) over the in-memory cluster,
as an anonymous browser sees them."""

from __future__ import annotations

from tests.unit.objectstore.api.conftest import Cloud

A = "/v1/AUTH_p1"
ANON = {"x-auth-token": ""}


async def _site(cloud: Cloud, **meta: str) -> None:
    headers = {"x-container-read": ".r:*,.rlistings"}
    headers.update({f"x-container-meta-web-{k.replace('_', '-')}": v for k, v in meta.items()})
    assert (await cloud.http.put(f"{A}/site", headers=headers)).status_code == 201
    for name, data, kind in (
        ("index.html", b"<h1>home</h1>", "text/html"),
        ("docs/index.html", b"<h1>docs</h1>", "text/html"),
        ("files/a.txt", b"a" * 2048, "text/plain"),
        ("files/sub/b.txt", b"b", "text/plain"),
        ("marker", b"", "application/directory"),
        ("404error.html", b"<h1>lost</h1>", "text/html"),
    ):
        r = await cloud.http.put(f"{A}/site/{name}", content=data, headers={"content-type": kind})
        assert r.status_code == 201


async def test_index_redirects_and_error_pages(cloud: Cloud) -> None:
    await _site(cloud, index="index.html", error="error.html")
    r = await cloud.http.get(f"{A}/site/", headers=ANON)
    assert r.status_code == 200 and r.content == b"<h1>home</h1>"
    r = await cloud.http.get(f"{A}/site", headers=ANON)
    assert r.status_code == 301 and r.headers["location"] == f"{A}/site/"
    r = await cloud.http.get(f"{A}/site/docs/", headers=ANON)
    assert r.status_code == 200 and r.content == b"<h1>docs</h1>"
    r = await cloud.http.head(f"{A}/site/docs", headers=ANON)
    assert r.status_code == 301 and r.headers["location"] == f"{A}/site/docs/"
    # A missing object answers the container's 404 page with the 404.
    r = await cloud.http.get(f"{A}/site/nothing.html", headers=ANON)
    assert r.status_code == 404 and r.content == b"<h1>lost</h1>"
    assert r.headers["content-type"] == "text/html"
    r = await cloud.http.get(f"{A}/site/marker", headers=ANON)
    assert r.status_code == 404 and r.content == b"<h1>lost</h1>"
    # A folder without an index, listings off: 404 (the error page).
    assert (await cloud.http.get(f"{A}/site/files/", headers=ANON)).status_code == 404
    # Objects themselves, and the owner's API, are as without staticweb.
    r = await cloud.http.get(f"{A}/site/files/a.txt", headers=ANON)
    assert r.status_code == 200 and len(r.content) == 2048
    r = await cloud.http.get(f"{A}/site")
    assert r.status_code == 200 and "index.html" in r.text.split("\n")
    r = await cloud.http.get(f"{A}/site/", headers={"x-web-mode": "true"})
    assert r.content == b"<h1>home</h1>"


async def test_listings(cloud: Cloud) -> None:
    await _site(cloud, listings="true", listings_css="style.css")
    r = await cloud.http.get(f"{A}/site/", headers=ANON)
    assert r.status_code == 200 and r.headers["content-type"] == "text/html; charset=UTF-8"
    assert "<title>Listing of /v1/AUTH_p1/site/</title>" in r.text
    assert '<a href="docs/">docs/</a>' in r.text and '<a href="index.html">' in r.text
    assert 'href="style.css"' in r.text
    r = await cloud.http.get(f"{A}/site/files/", headers=ANON)
    assert '<a href="../">../</a>' in r.text and '<a href="sub/">sub/</a>' in r.text
    assert '<td class="colsize">2Ki</td>' in r.text and 'class="item type-text type-plain"' in r.text
    assert 'href="../style.css"' in r.text
    r = await cloud.http.get(f"{A}/site/files", headers=ANON)
    assert r.status_code == 301 and r.headers["location"] == f"{A}/site/files/"
    assert (await cloud.http.get(f"{A}/site/none/", headers=ANON)).status_code == 404


async def test_listings_need_rlistings(cloud: Cloud) -> None:
    headers = {"x-container-read": ".r:*", "x-container-meta-web-listings": "true"}
    await cloud.http.put(f"{A}/half", headers=headers)
    await cloud.http.put(f"{A}/half/o", content=b"x")
    assert (await cloud.http.get(f"{A}/half/", headers=ANON)).status_code == 401
    assert (await cloud.http.get(f"{A}/half/o", headers=ANON)).content == b"x"
    await cloud.http.put(f"{A}/private", headers={"x-container-meta-web-index": "i.html"})
    await cloud.http.put(f"{A}/private/i.html", content=b"x")
    assert (await cloud.http.get(f"{A}/private/", headers=ANON)).status_code == 401
    info = (await cloud.http.get("/info")).json()
    assert "staticweb" in info
