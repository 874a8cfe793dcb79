"""Bad input: odd names, oversized names and metadata, bad ranges and ETags,
bad lengths.  Each gets a clear 4xx (never a 5xx: the client hook fails the
test on one), and nothing is stored that should not be."""

from __future__ import annotations

import http.client
import socket
import time
from urllib.parse import urlsplit

import pytest

from tests.conftest import Server
from tests.functional.objectstore.conftest import Account, Swift, md5, meta_of, no_traceback, unique


def raw_request(
    acct: Account,
    method: str,
    path: bytes,
    headers: dict[str, str] | None = None,
    body: bytes = b"",
) -> tuple[int, dict[str, str], bytes]:
    """One request whose path goes out byte for byte (httpx would normalise
    ``..`` away); ``path`` is below the storage URL."""
    url = urlsplit(acct.url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    try:
        conn.putrequest(method, url.path + path.decode("latin-1"), skip_accept_encoding=True)
        conn.putheader("X-Auth-Token", acct.token)
        for k, v in (headers or {}).items():
            conn.putheader(k, v)
        if "Content-Length" not in (headers or {}):
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def listing(api: Swift, container: str) -> list[str]:
    resp = api.get(f"/{container}", params={"format": "json"})
    assert resp.status_code == 200, resp.text
    return [e["name"] for e in resp.json()]


def is_4xx(status: int) -> bool:
    return 400 <= status < 500


# -- names -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [b"..", b"a/../b", b"a/..", b"./a", b"a/./b", b"%2E%2E/x", b"a/%2e%2e/b"],
)
def test_dot_segments_in_object_names(
    owner: Account, api: Swift, container: str, name: bytes
) -> None:
    status, _h, body = raw_request(owner, "PUT", f"/{container}/".encode() + name, body=b"dots")
    assert is_4xx(status), (name, status, body)
    assert listing(api, container) == []


def test_dot_segment_container_names(owner: Account, api: Swift) -> None:
    before = [c["name"] for c in api.get("", params={"format": "json"}).json()]
    bad = []
    for name in (b"%2E%2E", b"..", b".", b"%2E"):
        status, _h, body = raw_request(owner, "PUT", b"/" + name)
        if not is_4xx(status):
            bad.append((name, status))
    assert not bad, bad
    after = [c["name"] for c in api.get("", params={"format": "json"}).json()]
    assert after == before


@pytest.mark.parametrize("name", ["a%00b", "%00", "bad%FFutf8", "a%C3"])
def test_nul_and_invalid_utf8_in_object_names(
    owner: Account, api: Swift, container: str, name: str
) -> None:
    status, _h, body = raw_request(owner, "PUT", f"/{container}/{name}".encode(), body=b"x")
    assert status == 412, (name, status, body)
    status, _h, _b = raw_request(owner, "GET", f"/{container}/{name}".encode())
    assert status == 412
    assert listing(api, container) == []


def test_nul_in_container_name(owner: Account, api: Swift) -> None:
    status, _h, body = raw_request(owner, "PUT", b"/nul%00box")
    assert status == 412, (status, body)
    assert not [c for c in api.get("", params={"format": "json"}).json() if "nul" in c["name"]]


def test_object_name_length(api: Swift, container: str) -> None:
    ok = "o" * 1024
    assert api.put(f"/{container}/{ok}", content=b"x").status_code == 201
    resp = api.put(f"/{container}/{'o' * 1025}", content=b"x")
    assert resp.status_code == 400, resp.status_code
    # the limit counts UTF-8 bytes: 513 two-byte characters are 1026 bytes
    resp = api.put(f"/{container}/{'é' * 513}", content=b"x")
    assert resp.status_code == 400, resp.status_code
    assert api.get(f"/{container}/{'o' * 1025}").status_code == 400
    assert listing(api, container) == [ok]


def test_container_name_length(api: Swift) -> None:
    ok = unique("c") + "c" * (256 - len(unique("c")))
    assert len(ok) == 256
    assert api.put(f"/{ok}").status_code == 201
    long = "c" * 257
    resp = api.put(f"/{long}")
    assert resp.status_code == 400, resp.status_code
    assert api.head(f"/{long}").status_code == 400
    names = [c["name"] for c in api.get("", params={"format": "json", "prefix": "ccc"}).json()]
    assert long not in names
    assert api.put(f"/{'é' * 129}").status_code == 400


def test_account_name_length(owner: Account) -> None:
    with Swift(f"{owner.server.url}/object-store/v1/{'A' * 300}", owner.token) as c:
        resp = c.head("")
        assert resp.status_code in (400, 403), resp.status_code
        c.checks.assert_clean()


# -- metadata ----------------------------------------------------------------------------------

BAD_METADATA = {
    "value-257": {"X-Object-Meta-Big": "v" * 257},
    "name-129": {"X-Object-Meta-" + "n" * 129: "v"},
    "91-items": {f"X-Object-Meta-K{i}": "v" for i in range(91)},
    "total-4097": {f"X-Object-Meta-K{i:02d}": "v" * 250 for i in range(16)}
    | {"X-Object-Meta-Last": "v" * (4097 - 16 * 253 - 4)},
    "empty-name": {"X-Object-Meta-": "v"},
}


def test_metadata_at_the_limits_is_accepted(api: Swift, container: str) -> None:
    edge = {
        "X-Object-Meta-" + "n" * 128: "v" * 256,
        **{f"X-Object-Meta-K{i}": "v" for i in range(89)},
    }
    assert api.put(f"/{container}/edge", content=b"x", headers=edge).status_code == 201
    assert len(meta_of(api.head(f"/{container}/edge"))) == 90
    total = {f"X-Object-Meta-K{i:02d}": "v" * 250 for i in range(16)} | {
        "X-Object-Meta-Last": "v" * (4096 - 16 * 253 - 4)
    }
    assert sum(len(k) - 14 + len(v) for k, v in total.items()) == 4096
    assert api.put(f"/{container}/total", content=b"x", headers=total).status_code == 201


@pytest.mark.parametrize("case", list(BAD_METADATA))
def test_oversized_object_metadata(api: Swift, container: str, case: str) -> None:
    headers = BAD_METADATA[case]
    if case == "total-4097":
        assert sum(len(k) - 14 + len(v) for k, v in headers.items()) == 4097
    resp = api.put(f"/{container}/m", content=b"x", headers=headers)
    assert resp.status_code == 400, (case, resp.status_code, resp.text)
    assert api.head(f"/{container}/m").status_code == 404
    assert listing(api, container) == []
    # nor on POST: the object keeps its metadata
    assert (
        api.put(f"/{container}/m", content=b"x", headers={"X-Object-Meta-Keep": "1"}).status_code
        == 201
    )
    resp = api.post(f"/{container}/m", headers=headers)
    assert resp.status_code == 400, (case, resp.status_code)
    assert meta_of(api.head(f"/{container}/m")) == {"keep": "1"}


@pytest.mark.parametrize("case", list(BAD_METADATA))
@pytest.mark.parametrize("level", ["container", "account"])
def test_oversized_container_and_account_metadata(api: Swift, level: str, case: str) -> None:
    headers = {
        k.replace("X-Object-", f"X-{level.title()}-"): v for k, v in BAD_METADATA[case].items()
    }
    if level == "container":
        name = unique("meta")
        resp = api.put(f"/{name}", headers=headers)
        assert resp.status_code == 400, (case, resp.status_code)
        assert api.head(f"/{name}").status_code == 404
        assert api.put(f"/{name}").status_code == 201
        resp = api.post(f"/{name}", headers=headers)
        assert resp.status_code == 400, (case, resp.status_code)
        assert meta_of(api.head(f"/{name}"), "container") == {}
    else:
        resp = api.post("", headers=headers)
        assert resp.status_code == 400, (case, resp.status_code)
        assert not [k for k in meta_of(api.head(""), "account") if k.startswith(("k", "big", "n"))]


def test_header_too_long(api: Swift, container: str) -> None:
    resp = api.put(f"/{container}/h", content=b"x", headers={"X-Object-Meta-A": "v" * 9000})
    assert is_4xx(resp.status_code), resp.status_code
    assert api.head(f"/{container}/h").status_code == 404


def test_bad_storage_policy(api: Swift) -> None:
    name = unique("pol")
    resp = api.put(f"/{name}", headers={"X-Storage-Policy": "gold-nonexistent"})
    assert resp.status_code == 400, resp.status_code
    assert api.head(f"/{name}").status_code == 404


# -- ranges, ETags, dates ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "spec",
    [
        "bytes=abc",
        "bytes=5-2",
        "items=0-1",
        "bytes=",
        "bytes=--1",
        "bytes=1-2-3",
        "bytes=0-1,3-4",
        "x" * 5000,
    ],
)
def test_bad_ranges_never_5xx(api: Swift, container: str, spec: str) -> None:
    path = f"/{container}/r"
    assert api.put(path, content=b"0123456789").status_code == 201
    resp = api.get(path, headers={"Range": spec})
    assert resp.status_code in (200, 206, 400, 416), (spec, resp.status_code)
    if resp.status_code == 200:
        assert resp.content == b"0123456789"
    if resp.status_code == 206 and spec == "bytes=0-1,3-4":
        assert resp.headers["content-type"].startswith("multipart/byteranges")


def test_unsatisfiable_ranges(api: Swift, container: str) -> None:
    path = f"/{container}/r"
    assert api.put(path, content=b"0123456789").status_code == 201
    for spec in ("bytes=10-", "bytes=10-20", "bytes=-0"):
        assert api.get(path, headers={"Range": spec}).status_code == 416, spec
    assert api.put(f"/{container}/empty", content=b"").status_code == 201
    resp = api.get(f"/{container}/empty", headers={"Range": "bytes=0-"})
    assert resp.status_code in (200, 416)
    if resp.status_code == 200:
        assert resp.content == b""


@pytest.mark.parametrize("etag", ["0" * 32, "not-an-md5", "", '"' + "f" * 32 + '"'])
def test_wrong_etag_is_422_and_nothing_stored(api: Swift, container: str, etag: str) -> None:
    resp = api.put(f"/{container}/e", content=b"payload", headers={"ETag": etag})
    if etag == "":
        assert resp.status_code in (201, 400, 422)  # an empty ETag may mean none
        return
    assert resp.status_code == 422, resp.status_code
    assert api.head(f"/{container}/e").status_code == 404
    assert listing(api, container) == []
    head = api.head(f"/{container}")
    assert head.headers["x-container-object-count"] == "0"
    assert head.headers["x-container-bytes-used"] == "0"


def test_wrong_etag_chunked(api: Swift, container: str) -> None:
    def gen():
        yield b"abc"
        yield b"def"

    resp = api.put(f"/{container}/e", content=gen(), headers={"ETag": md5(b"abcdeX")})
    assert resp.status_code == 422, resp.status_code
    assert api.head(f"/{container}/e").status_code == 404


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Delete-At": "soon"},
        {"X-Delete-After": "later"},
        {"X-Delete-After": "-1"},
        {"X-Delete-At": "1"},
    ],
)
def test_bad_expiry(api: Swift, container: str, headers: dict[str, str]) -> None:
    resp = api.put(f"/{container}/x", content=b"x", headers=headers)
    assert resp.status_code == 400, resp.status_code
    assert api.head(f"/{container}/x").status_code == 404


def test_garbage_conditional_headers(api: Swift, container: str) -> None:
    path = f"/{container}/c"
    assert api.put(path, content=b"x").status_code == 201
    for headers in (
        {"If-Modified-Since": "not a date"},
        {"If-Unmodified-Since": "31 Feb 99999"},
        {"If-None-Match": ""},
    ):
        resp = api.get(path, headers=headers)
        assert resp.status_code in (200, 304, 412), (headers, resp.status_code)


# -- copies --------------------------------------------------------------------------------------


@pytest.mark.parametrize("source", ["nocontainer", "/", "", "c/%00", "c/../x"])
def test_bad_copy_sources(api: Swift, container: str, source: str) -> None:
    resp = api.put(f"/{container}/copy", headers={"X-Copy-From": source, "Content-Length": "0"})
    assert is_4xx(resp.status_code), (source, resp.status_code)
    assert api.head(f"/{container}/copy").status_code == 404


def test_bad_copy_destinations(api: Swift, container: str) -> None:
    assert api.put(f"/{container}/src", content=b"s").status_code == 201
    for dest in ("nocontainer", "/", "x" * 300 + "/o", f"{container}/a/../b"):
        resp = api.request("COPY", f"/{container}/src", headers={"Destination": dest})
        assert is_4xx(resp.status_code), (dest, resp.status_code)
    assert listing(api, container) == ["src"]


def test_copy_from_with_a_body(api: Swift, container: str) -> None:
    assert api.put(f"/{container}/src", content=b"s").status_code == 201
    resp = api.put(
        f"/{container}/dst", content=b"body", headers={"X-Copy-From": f"{container}/src"}
    )
    assert resp.status_code == 400, resp.status_code
    assert api.head(f"/{container}/dst").status_code == 404


# -- listings ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "params",
    [
        {"limit": "abc"},
        {"limit": "-1"},
        {"limit": "10001"},
        {"delimiter": "ab"},
        {"marker": "x" * 2000},
        {"format": "yaml"},
        {"reverse": "maybe"},
    ],
)
def test_bad_listing_parameters(api: Swift, container: str, params: dict[str, str]) -> None:
    resp = api.get(f"/{container}", params=params)
    assert resp.status_code in (200, 204, 400, 412), (params, resp.status_code)
    if params.get("limit") == "10001" or "delimiter" in params:
        assert resp.status_code == 412, (params, resp.status_code)


def test_nul_in_listing_parameters(owner: Account, container: str) -> None:
    for q in (b"?prefix=a%00", b"?marker=%00", b"?delimiter=%00"):
        status, _h, _b = raw_request(owner, "GET", f"/{container}".encode() + q)
        assert status in (400, 412), (q, status)


# -- lengths ---------------------------------------------------------------------------------------


def raw_headers_only(
    acct: Account, path: str, headers: list[str], wait: float = 10
) -> tuple[bytes, float]:
    """Send the request line and headers, no body; return the start of the
    answer and how long it took to come."""
    url = urlsplit(acct.url)
    lines = [
        f"PUT {url.path}{path} HTTP/1.1",
        f"Host: {url.hostname}:{url.port}",
        f"X-Auth-Token: {acct.token}",
        *headers,
        "",
        "",
    ]
    start = time.monotonic()
    with socket.create_connection((url.hostname, url.port), timeout=wait) as s:
        s.sendall("\r\n".join(lines).encode())
        data = b""
        try:
            while b"\r\n\r\n" not in data:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        except TimeoutError:
            pass
    return data, time.monotonic() - start


def status_of(answer: bytes) -> int:
    assert answer.startswith(b"HTTP/1.1 "), answer[:200]
    return int(answer.split(b" ", 2)[1])


def test_over_5gib_declared_is_413_without_the_body(
    owner: Account, api: Swift, container: str
) -> None:
    answer, took = raw_headers_only(owner, f"/{container}/huge", ["Content-Length: 5368709121"])
    assert status_of(answer) == 413, answer[:300]
    assert took < 5
    assert api.head(f"/{container}/huge").status_code == 404
    # exactly 5 GiB is allowed: the server waits for the body instead of refusing
    answer, _took = raw_headers_only(
        owner, f"/{container}/max", ["Content-Length: 5368709120"], wait=1.5
    )
    assert answer == b"" or status_of(answer) in (100,), answer[:300]
    assert api.head(f"/{container}/max").status_code == 404


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        (["Content-Length: abc"], (400,)),
        (["Content-Length: -1"], (400,)),
        ([], (411,)),
        (["Transfer-Encoding: gzip"], (400, 501)),
    ],
)
def test_bad_lengths(
    owner: Account, api: Swift, container: str, headers: list[str], expected: tuple[int, ...]
) -> None:
    answer, _took = raw_headers_only(owner, f"/{container}/len", headers)
    assert status_of(answer) in expected, answer[:300]
    assert api.head(f"/{container}/len").status_code == 404


def test_short_body_is_not_stored(owner: Account, api: Swift, container: str) -> None:
    """A client that declares 100 bytes, sends 10 and hangs up stores nothing."""
    url = urlsplit(owner.url)
    head = (
        f"PUT {url.path}/{container}/short HTTP/1.1\r\nHost: x\r\n"
        f"X-Auth-Token: {owner.token}\r\nContent-Length: 100\r\n\r\n"
    )
    with socket.create_connection((url.hostname, url.port), timeout=10) as s:
        s.sendall(head.encode() + b"0123456789")
        s.shutdown(socket.SHUT_WR)
        try:
            s.recv(4096)
        except (TimeoutError, ConnectionError):
            pass
    time.sleep(0.3)
    assert api.head(f"/{container}/short").status_code == 404
    assert listing(api, container) == []


def test_unknown_methods_and_paths(owner: Account, api: Swift, container: str) -> None:
    resp = api.request("PATCH", f"/{container}")
    assert resp.status_code == 405
    assert "PUT" in resp.headers["allow"]
    with Swift(f"{owner.server.url}/object-store", owner.token) as c:
        for path in ("/v2/x", "/", "/v1", "/v1/"):
            assert is_4xx(c.get(path).status_code), path
        c.checks.assert_clean()


def test_no_traceback_in_the_log(store: Server) -> None:
    """Last in this module: nothing above made the server log a traceback."""
    no_traceback(store)
