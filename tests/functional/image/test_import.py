"""Interoperable image import: glance-direct, web-download, conversion."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import Server, start_cloud, stop_cloud
from tests.functional.image.conftest import (
    OCTET,
    User,
    WebServer,
    admin,
    create_image,
    make_user,
    md5,
    sha512,
    show,
    unique,
    virtual_size,
    wait_status,
    wait_task,
)


@pytest.fixture(scope="module")
def user(image_server: Server) -> User:
    return make_user(image_server)


@pytest.fixture()
def c(user: User) -> Iterator[httpx.Client]:
    with user.client() as client:
        yield client


def stage(c: httpx.Client, image_id: str, data: bytes) -> httpx.Response:
    return c.put(f"/v2/images/{image_id}/stage", content=data, headers={"Content-Type": OCTET})


def import_(c: httpx.Client, image_id: str, method: str, uri: str | None = None) -> httpx.Response:
    body: dict[str, object] = {"method": {"name": method, **({"uri": uri} if uri else {})}}
    return c.post(f"/v2/images/{image_id}/import", json=body)


def test_glance_direct(c: httpx.Client, user: User, tiny_qcow2: Path) -> None:
    data = tiny_qcow2.read_bytes()
    image = create_image(c, disk_format="qcow2")
    resp = stage(c, image["id"], data)
    assert resp.status_code == 204, resp.text
    assert show(c, image["id"])["status"] == "uploading"
    resp = import_(c, image["id"], "glance-direct")
    assert resp.status_code == 202, resp.text
    got = wait_status(c, image["id"])
    assert got["status"] == "active"
    assert got["checksum"] == md5(data)
    assert got["os_hash_value"] == sha512(data)
    assert got["size"] == len(data)
    assert got["virtual_size"] == virtual_size(tiny_qcow2)
    assert c.get(f"/v2/images/{image['id']}/file").content == data
    task = wait_task(c, image["id"])
    assert task["status"] == "success"
    assert task["type"] == "api_image_import"
    assert task["image_id"] == image["id"]
    assert task["owner"] == user.project_id
    assert task["input"]["import_req"]["method"]["name"] == "glance-direct"
    # The owner may read the task itself too.
    resp = c.get(f"/v2/tasks/{task['id']}")
    assert resp.status_code == 200, resp.text
    assert resp.json()["status"] == "success"


def test_glance_direct_needs_staging(c: httpx.Client) -> None:
    image = create_image(c)
    resp = import_(c, image["id"], "glance-direct")
    assert resp.status_code == 409, resp.text
    assert show(c, image["id"])["status"] == "queued"


def test_import_unknown_method_400(c: httpx.Client) -> None:
    image = create_image(c)
    assert import_(c, image["id"], "copy-image").status_code == 400
    assert import_(c, image["id"], "glance-download").status_code == 400


def test_import_on_other_projects_image(c: httpx.Client, image_server: Server) -> None:
    image = create_image(c)
    other = make_user(image_server)
    with other.client() as oc:
        assert stage(oc, image["id"], b"x").status_code == 404
        assert import_(oc, image["id"], "glance-direct").status_code == 404


def test_web_download(c: httpx.Client, web: WebServer) -> None:
    data = os.urandom(300_000)
    web.files["/wd.raw"] = data
    image = create_image(c)
    resp = import_(c, image["id"], "web-download", web.url("/wd.raw"))
    assert resp.status_code == 202, resp.text
    got = wait_status(c, image["id"])
    assert got["status"] == "active"
    assert got["checksum"] == md5(data)
    assert got["size"] == len(data)
    assert wait_task(c, image["id"])["status"] == "success"
    assert c.get(f"/v2/images/{image['id']}/file").content == data
    # /v2/info/stores is served, so the image names the store holding its data.
    stores = [s["id"] for s in c.get("/v2/info/stores").json()["stores"]]
    assert got["stores"] == "file" and stores == ["file"]
    assert "stores" not in create_image(c)


def test_web_download_source_404_fails(c: httpx.Client, web: WebServer) -> None:
    image = create_image(c)
    resp = import_(c, image["id"], "web-download", web.url("/missing"))
    assert resp.status_code == 202, resp.text
    task = wait_task(c, image["id"])
    assert task["status"] == "failure"
    assert task["message"]
    got = show(c, image["id"])
    assert got["status"] == "queued"
    assert got["os_glance_failed_import"] == "file"
    # Queued again, it may be imported again.
    web.files["/later.raw"] = b"here now"
    resp = import_(c, image["id"], "web-download", web.url("/later.raw"))
    assert resp.status_code == 202, resp.text
    assert wait_status(c, image["id"])["status"] == "active"


@pytest.mark.parametrize(
    "host",
    ["localhost", "127.0.0.2", "[::1]", "127.0.0.1.nip.io"],
)
def test_web_download_host_not_allowed(c: httpx.Client, web: WebServer, host: str) -> None:
    """As in Glance: accepted, then the import fails; the image is queued
    again, names the store that failed, and has no data."""
    web.files["/na.raw"] = b"not allowed"
    image = create_image(c)
    resp = import_(c, image["id"], "web-download", web.url("/na.raw", host=host))
    assert_failed_import(c, resp, image["id"])


def assert_failed_import(c: httpx.Client, resp: httpx.Response, image_id: str) -> None:
    assert resp.status_code == 202, resp.text
    task = wait_task(c, image_id)
    assert task["status"] == "failure"
    assert "not allowed" in task["message"]
    got = show(c, image_id)
    assert got["status"] == "queued"
    assert got["os_glance_failed_import"] == "file"
    assert got["size"] is None
    assert "stores" not in got


@pytest.mark.parametrize(
    "uri", ["file:///etc/passwd", "ftp://127.0.0.1/x", "http:///x", "not a uri"]
)
def test_web_download_bad_uri(c: httpx.Client, uri: str) -> None:
    image = create_image(c)
    resp = import_(c, image["id"], "web-download", uri)
    assert resp.status_code == 400, resp.text
    assert "does not pass filtering" in resp.text
    assert show(c, image["id"])["status"] == "queued"


def test_web_download_credentials_in_uri_do_not_change_host(
    c: httpx.Client, web: WebServer
) -> None:
    """http://127.0.0.1@localhost/ is a request to localhost."""
    image = create_image(c)
    resp = import_(c, image["id"], "web-download", f"http://127.0.0.1@localhost:{web.port}/na.raw")
    assert_failed_import(c, resp, image["id"])


def test_web_download_redirect_not_followed(c: httpx.Client, web: WebServer) -> None:
    """A redirect from an allowed host to another host is not followed."""
    import http.server
    import threading

    class Redirect(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            self.send_response(302)
            self.send_header("Location", f"http://localhost:{web.port}/r.raw")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    web.files["/r.raw"] = b"redirected data"
    httpd = http.server.HTTPServer(("127.0.0.1", 0), Redirect)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        image = create_image(c)
        resp = import_(
            c, image["id"], "web-download", f"http://127.0.0.1:{httpd.server_address[1]}/"
        )
        if resp.status_code == 202:
            task = wait_task(c, image["id"])
            assert task["status"] == "failure"
            assert show(c, image["id"])["status"] != "active"
        else:
            assert 400 <= resp.status_code < 500
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_web_download_refused_without_allow_list(
    tmp_path_factory: pytest.TempPathFactory, web: WebServer, database: str
) -> None:
    web.files["/x.raw"] = b"some data"
    srv = start_cloud(tmp_path_factory.mktemp("stratus-image-noallow"), database)
    try:
        user = make_user(srv)
        with user.client() as c:
            image = create_image(c)
            resp = import_(c, image["id"], "web-download", web.url("/x.raw"))
            assert_failed_import(c, resp, image["id"])
    finally:
        stop_cloud(srv)


@pytest.fixture(scope="module")
def convert_server(tmp_path_factory: pytest.TempPathFactory, database: str) -> Iterator[Server]:
    srv = start_cloud(
        tmp_path_factory.mktemp("stratus-image-convert"),
        database,
        STRATUS_IMAGE__IMPORT_CONVERT_TO="raw",
        STRATUS_IMAGE__WEB_DOWNLOAD_ALLOWED_HOSTS='["127.0.0.1"]',
    )
    yield srv
    stop_cloud(srv)


def test_import_converts_to_raw(convert_server: Server, tiny_qcow2: Path) -> None:
    user = make_user(convert_server)
    with user.client() as c:
        image = create_image(c, disk_format="qcow2")
        assert stage(c, image["id"], tiny_qcow2.read_bytes()).status_code == 204
        assert import_(c, image["id"], "glance-direct").status_code == 202
        got = wait_status(c, image["id"])
        assert got["status"] == "active", wait_task(c, image["id"])
        assert got["disk_format"] == "raw"
        assert got["size"] == got["virtual_size"] == virtual_size(tiny_qcow2)
        data = c.get(f"/v2/images/{image['id']}/file").content
        assert len(data) == got["size"]
        assert got["checksum"] == md5(data)
        assert wait_task(c, image["id"])["status"] == "success"


def test_web_download_converts_to_raw(
    convert_server: Server, tiny_qcow2: Path, web: WebServer
) -> None:
    web.files["/conv.qcow2"] = tiny_qcow2.read_bytes()
    user = make_user(convert_server)
    with user.client() as c:
        image = create_image(c, disk_format="qcow2")
        assert import_(c, image["id"], "web-download", web.url("/conv.qcow2")).status_code == 202
        got = wait_status(c, image["id"])
        assert got["status"] == "active"
        assert got["disk_format"] == "raw"
        assert got["size"] == virtual_size(tiny_qcow2)


def test_conversion_refuses_backing_file(convert_server: Server, backing_qcow2: Path) -> None:
    user = make_user(convert_server)
    with user.client() as c:
        image = create_image(c, disk_format="qcow2")
        assert stage(c, image["id"], backing_qcow2.read_bytes()).status_code == 204
        assert import_(c, image["id"], "glance-direct").status_code == 202
        task = wait_task(c, image["id"])
        assert task["status"] == "failure"
        assert show(c, image["id"])["status"] != "active"


def test_plain_upload_is_not_converted(convert_server: Server, tiny_qcow2: Path) -> None:
    user = make_user(convert_server)
    with user.client() as c:
        image = create_image(c, disk_format="qcow2")
        resp = c.put(
            f"/v2/images/{image['id']}/file",
            content=tiny_qcow2.read_bytes(),
            headers={"Content-Type": OCTET},
        )
        assert resp.status_code == 204
        assert show(c, image["id"])["disk_format"] == "qcow2"


def test_admin_sees_import_tasks(image_server: Server, c: httpx.Client) -> None:
    image = create_image(c)
    assert stage(c, image["id"], b"raw bytes").status_code == 204
    assert import_(c, image["id"], "glance-direct").status_code == 202
    wait_task(c, image["id"])
    with admin(image_server).client() as ac:
        tasks = ac.get("/v2/tasks").json()["tasks"]
    assert any(t["image_id"] == image["id"] for t in tasks)


def test_task_not_visible_to_other_project(image_server: Server, c: httpx.Client) -> None:
    image = create_image(c, name=unique("tv"))
    assert stage(c, image["id"], b"raw bytes").status_code == 204
    assert import_(c, image["id"], "glance-direct").status_code == 202
    task = wait_task(c, image["id"])
    other = make_user(image_server)
    with other.client() as oc:
        assert oc.get(f"/v2/tasks/{task['id']}").status_code == 404
        assert oc.get(f"/v2/images/{image['id']}/tasks").status_code == 404
