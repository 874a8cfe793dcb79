"""Bad input that once got a 500, or held the server: each is a clear 4xx in
the service's own error format, and nothing is lost or half-done.

- a value echoed in a header that is not Latin-1 (a project tag in Location);
- integers too big for their column (2**70 as a quota, 2**31 as a flavor's
  RAM, in JSON bodies, digit strings and query strings);
- a flavor id with "/";
- an image whose virtual disk is bigger than the flavor's disk;
- clients that never finish their headers or their body, and more
  connections than the server takes.
"""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from tests.conftest import Server, start_cloud, stop_cloud
from tests.functional.compute.conftest import FAKE, Nova, tiny_image, unique

BIG = 2**70


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory, database: str) -> Iterator[Server]:
    srv = start_cloud(tmp_path_factory.mktemp("bad-input"), database, **FAKE)
    tiny_image(srv)
    yield srv
    stop_cloud(srv)


@pytest.fixture(scope="module")
def token(cloud: Server) -> str:
    return cloud.admin_token()


@pytest.fixture(scope="module")
def nova(cloud: Server, token: str) -> Nova:
    return Nova(cloud, token, "2.96")


def admin_project(cloud: Server, token: str) -> str:
    resp = httpx.get(f"{cloud.auth_url}/projects", params={"name": "admin"}, headers={"X-Auth-Token": token})
    return str(resp.json()["projects"][0]["id"])


# -- headers ---------------------------------------------------------------------------------


def test_a_tag_that_is_not_latin_1_is_stored_and_its_location_percent_encoded(cloud: Server, token: str) -> None:
    project = admin_project(cloud, token)
    headers = {"X-Auth-Token": token}
    for tag in ("snow☃man", "café"):
        url = f"{cloud.auth_url}/projects/{project}/tags/{quote(tag)}"
        resp = httpx.put(url, headers=headers)
        assert resp.status_code == 201, resp.text
        location = resp.headers["location"]
        assert location.isascii() and location.endswith("/tags/" + quote(tag)), location
        assert httpx.get(location, headers=headers).status_code == 204  # it leads to the tag
    tags = httpx.get(f"{cloud.auth_url}/projects/{project}/tags", headers=headers).json()["tags"]
    assert {"snow☃man", "café"} <= set(tags)
    assert "Traceback" not in cloud.log.read_text()


# -- integers beyond their columns ---------------------------------------------------------------


def test_a_quota_beyond_the_column_is_a_400_and_changes_nothing(cloud: Server, nova: Nova, token: str) -> None:
    project = admin_project(cloud, token)
    before = nova.get(f"/os-quota-sets/{project}").json()["quota_set"]
    for value in (BIG, str(BIG), 2**31, -(2**31) - 1, float(BIG)):
        resp = nova.put(f"/os-quota-sets/{project}", json={"quota_set": {"instances": value}})
        assert resp.status_code == 400, (value, resp.text)
        assert "instances" in resp.json()["badRequest"]["message"]
    assert nova.get(f"/os-quota-sets/{project}").json()["quota_set"] == before
    ok = nova.put(f"/os-quota-sets/{project}", json={"quota_set": {"instances": str(2**31 - 1)}})
    assert ok.status_code == 200 and ok.json()["quota_set"]["instances"] == 2**31 - 1
    nova.put(f"/os-quota-sets/{project}", json={"quota_set": {"instances": before["instances"]}})


def test_big_integers_are_400_in_every_service(cloud: Server, nova: Nova, token: str) -> None:
    headers = {"X-Auth-Token": token}
    flavor = {"name": unique("big"), "ram": 2**31, "vcpus": 1, "disk": 1}
    resp = nova.post("/flavors", json={"flavor": flavor})
    assert resp.status_code == 400 and "ram" in resp.json()["badRequest"]["message"]
    assert nova.post("/servers", json={"server": {"name": "x", "flavorRef": "1", "imageRef": tiny_image(cloud), "max_count": str(BIG)}}).status_code == 400
    assert nova.get("/servers", params={"limit": str(BIG)}).status_code == 400

    services = httpx.get(f"{cloud.auth_url}/services", headers=headers).json()["services"]
    body = {"registered_limits": [{"service_id": services[0]["id"], "resource_name": unique("r"), "default_limit": BIG}]}
    resp = httpx.post(f"{cloud.auth_url}/registered_limits", json=body, headers=headers)
    assert resp.status_code == 400 and resp.json()["error"]["code"] == 400, resp.text

    glance = httpx.Client(base_url=f"{cloud.url}/image/v2", headers=headers, timeout=30)
    name = unique("img")
    for attrs in ({"min_disk": BIG}, {"min_ram": 2**31}, {"min_disk": str(BIG)}):
        resp = glance.post("/images", json={"name": name, "disk_format": "raw", "container_format": "bare", **attrs})
        assert resp.status_code == 400, (attrs, resp.text)
    assert glance.get("/images", params={"name": name}).json()["images"] == []  # nothing stored
    assert glance.get("/images", params={"size_min": str(2**40)}).status_code == 200  # a 64-bit column
    assert glance.get("/images", params={"size_min": str(BIG)}).status_code == 400
    image = glance.post("/images", json={"name": name, "disk_format": "raw", "container_format": "bare"}).json()
    patch = [{"op": "replace", "path": "/min_disk", "value": BIG}]
    resp = glance.patch(
        f"/images/{image['id']}", json=patch,
        headers={"Content-Type": "application/openstack-images-v2.1-json-patch"},
    )
    assert resp.status_code == 400, resp.text
    assert glance.get(f"/images/{image['id']}").json()["min_disk"] == 0
    glance.delete(f"/images/{image['id']}")
    glance.close()
    assert "Traceback" not in cloud.log.read_text()


# -- flavors and images ------------------------------------------------------------------------------


def test_a_flavor_id_with_a_slash_is_refused(nova: Nova) -> None:
    for bad in ("a/b", " lead", "trail ", "ü"):
        resp = nova.post("/flavors", json={"flavor": {"name": unique("f"), "ram": 64, "vcpus": 1, "id": bad}})
        assert resp.status_code == 400, (bad, resp.text)
    good = unique("ok.id_1")
    resp = nova.post("/flavors", json={"flavor": {"name": good, "ram": 64, "vcpus": 1, "id": good}})
    assert resp.status_code == 200, resp.text
    assert nova.get(f"/flavors/{good}").status_code == 200
    nova.delete(f"/flavors/{good}")


@pytest.fixture(scope="module")
def big_image(cloud: Server, token: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A qcow2 of 2 GiB virtual size (a few hundred KiB of file)."""
    path = tmp_path_factory.mktemp("big-image") / "big.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(path), "2G"], check=True, timeout=60)
    with httpx.Client(base_url=f"{cloud.url}/image/v2", headers={"X-Auth-Token": token}, timeout=60) as c:
        image = c.post(
            "/images",
            json={"name": unique("big"), "disk_format": "qcow2", "container_format": "bare", "visibility": "public"},
        ).json()
        up = c.put(f"/images/{image['id']}/file", content=path.read_bytes(), headers={"Content-Type": "application/octet-stream"})
        assert up.status_code == 204, up.text
        shown = c.get(f"/images/{image['id']}").json()
    assert shown["status"] == "active" and shown["virtual_size"] == 2 << 30
    return str(image["id"])


def test_an_image_bigger_than_the_flavor_disk_is_refused(nova: Nova, big_image: str) -> None:
    resp = nova.create_server(unique("small"), flavor="1", imageRef=big_image)  # m1.tiny: 1 GiB
    assert resp.status_code == 400, resp.text
    message = resp.json()["badRequest"]["message"]
    assert "Flavor's disk is too small for requested image" in message and str(2 << 30) in message
    vm = nova.boot(unique("fits"), flavor="2", imageRef=big_image)  # m1.small: 20 GiB
    nova.delete(f"/servers/{vm['id']}")
    # a rebuild onto the big image of a 1 GiB server too
    small = nova.boot(unique("tiny"), flavor="1")
    resp = nova.action(small["id"], {"rebuild": {"imageRef": big_image}})
    assert resp.status_code == 400 and "too small" in resp.json()["badRequest"]["message"]
    assert nova.show(small["id"])["status"] == "ACTIVE"
    nova.delete(f"/servers/{small['id']}")


# -- slow and too many clients -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory, database: str) -> Iterator[Server]:
    srv = start_cloud(
        tmp_path_factory.mktemp("guarded"),
        database,
        STRATUS_SERVICES__ENABLED='["identity"]',
        STRATUS_SERVER__HEADER_TIMEOUT="2",
        STRATUS_SERVER__BODY_TIMEOUT="2",
        STRATUS_SERVER__MAX_CONNECTIONS="16",
    )
    yield srv
    stop_cloud(srv)


def _port(srv: Server) -> int:
    return int(srv.url.rsplit(":", 1)[1])


def _response(sock: socket.socket) -> bytes:
    """One whole response (its head and its Content-Length of body: the two
    may come in separate segments), read off a kept-alive connection."""
    sock.settimeout(10)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return data  # closed by the server
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        (int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
         if line.lower().startswith(b"content-length:")),
        0,
    )  # fmt: skip
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return data


def _closed_by_server(sock: socket.socket, timeout: float = 60) -> bool:
    """Whether the server closes ``sock`` (EOF or reset) within ``timeout``."""
    sock.settimeout(timeout)
    try:
        while sock.recv(4096):
            pass  # a response (e.g. 408/400) before the close is fine too
        return True
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def _closed(srv: Server) -> dict[str, float]:
    text = httpx.get(f"{srv.url}/metrics").text
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("stratus_http_connections_closed_total{"):
            reason = line.split('reason="')[1].split('"')[0]
            out[reason] = out.get(reason, 0.0) + float(line.rsplit(" ", 1)[1])
    return out


def test_a_client_that_never_finishes_its_headers_is_dropped(guarded: Server) -> None:
    before = _closed(guarded)
    with socket.create_connection(("127.0.0.1", _port(guarded))) as sock:
        sock.sendall(b"GET /identity/v3 HTTP/1.1\r\nHost: x\r\nX-Slow: 1\r\n")  # no blank line
        assert _closed_by_server(sock)
    assert _closed(guarded).get("header_timeout", 0) > before.get("header_timeout", 0)
    assert httpx.get(f"{guarded.url}/identity/v3").status_code == 200


def test_a_client_that_stops_sending_its_body_is_dropped(guarded: Server) -> None:
    before = _closed(guarded)
    with socket.create_connection(("127.0.0.1", _port(guarded))) as sock:
        sock.sendall(
            b"POST /identity/v3/auth/tokens HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 1000\r\n\r\n{\"auth\": "
        )
        assert _closed_by_server(sock)
    assert _closed(guarded).get("body_timeout", 0) > before.get("body_timeout", 0)


def test_idle_sockets_beyond_the_limit_are_closed_and_the_server_recovers(guarded: Server) -> None:
    before = _closed(guarded)
    socks: list[socket.socket] = []
    try:
        for _ in range(40):
            sock = socket.create_connection(("127.0.0.1", _port(guarded)))
            sock.sendall(b"GET / HTTP/1.1\r\n")
            socks.append(sock)
        assert all(_closed_by_server(s) for s in socks)  # the limit, then the header timeout
    finally:
        for sock in socks:
            sock.close()
    after = _closed(guarded)
    assert after.get("limit", 0) - before.get("limit", 0) >= 40 - 16
    assert after.get("header_timeout", 0) > before.get("header_timeout", 0)
    deadline = time.monotonic() + 30
    status: Any = None
    while time.monotonic() < deadline:
        try:
            status = httpx.get(f"{guarded.url}/identity/v3", timeout=5).status_code
            break
        except httpx.HTTPError as exc:
            status = exc
            time.sleep(0.2)
    assert status == 200


def test_an_idle_kept_alive_connection_outlasts_a_clients_polling_period(cloud: Server) -> None:
    """python-heatclient's --wait polls every 5 s on one connection: a server
    that drops idle connections at 5 s (uvicorn's default) fails a poll now and
    then with "Remote end closed connection without response"."""
    with socket.create_connection(("127.0.0.1", _port(cloud))) as sock:
        request = b"GET /identity/v3 HTTP/1.1\r\nHost: x\r\n\r\n"
        for _ in range(2):
            sock.sendall(request)
            head = _response(sock)
            assert head.startswith(b"HTTP/1.1 200"), head[:200]
            time.sleep(6)
        assert not _closed_by_server(sock, timeout=0.1)


def test_slow_clients_leave_no_trace_in_the_log(guarded: Server) -> None:
    assert "Traceback" not in guarded.log.read_text()


# -- unknown paths and methods ------------------------------------------------------------------


def _message(service: str, resp: httpx.Response) -> str:
    """The error message in the service's upstream format."""
    if service == "image":  # Glance's errors are webob's pages
        assert resp.headers["content-type"].startswith("text/html"), resp.text
        return resp.text
    body = resp.json()
    if service == "network":  # Neutron wraps its router's webob errors as NeutronError
        kind = body["NeutronError"]["type"]
        assert kind == {404: "HTTPNotFound", 405: "HTTPMethodNotAllowed"}[resp.status_code]
        return str(body["NeutronError"]["message"])
    if service in ("compute", "volume", "database"):
        ((fault, detail),) = body.items()
        assert fault == {404: "itemNotFound", 405: "badMethod"}[resp.status_code]
        assert detail["code"] == resp.status_code
        return str(detail["message"])
    if service == "load-balancer":
        assert body["faultcode"] == "Client"
        return str(body["faultstring"])
    if service == "orchestration":
        assert body["code"] == resp.status_code and body["error"]["type"].startswith(("HTTP", "Entity"))
        return str(body["error"]["message"])
    assert body["error"]["code"] == resp.status_code  # Keystone's
    return str(body["error"]["message"])


@pytest.mark.parametrize(
    ("service", "unknown", "known"),
    [
        ("compute", "/compute/v2.1/nonexistent", "/compute/v2.1/servers"),
        ("network", "/network/v2.0/bogus", "/network/v2.0/networks"),
        ("volume", "/volume/v3/{p}/bogus", "/volume/v3/{p}/volumes"),
        ("image", "/image/v2/bogus", "/image/v2/images"),
        ("load-balancer", "/load-balancer/v2/bogus", "/load-balancer/v2/lbaas/loadbalancers"),
        ("database", "/database/v1.0/{p}/bogus", "/database/v1.0/{p}/instances"),
        ("orchestration", "/orchestration/v1/{p}/bogus", "/orchestration/v1/{p}/stacks"),
        ("identity", "/identity/v3/bogus", "/identity/v3/users"),
    ],
)
def test_unknown_paths_and_methods_get_the_services_own_errors(
    cloud: Server, token: str, service: str, unknown: str, known: str
) -> None:
    project = admin_project(cloud, token)
    headers = {"X-Auth-Token": token}
    missing = httpx.get(cloud.url + unknown.format(p=project), headers=headers)
    assert missing.status_code == 404, missing.text
    assert "serves nothing at" in _message(service, missing)
    wrong = httpx.put(cloud.url + known.format(p=project), headers=headers, json={})
    assert wrong.status_code == 405, wrong.text
    assert wrong.headers["allow"] == "GET, HEAD, POST"
    assert "The method PUT is not allowed" in _message(service, wrong)
