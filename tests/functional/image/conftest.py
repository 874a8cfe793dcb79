"""Fixtures and helpers for the image (Glance v2) tests.

The image tests run their own servers (``start_cloud``, on SQLite and on
PostgreSQL: ``database``) rather than the shared ``server`` fixture: most
tests use one server per module that allows web-download from 127.0.0.1; the
quota and conversion tests start small servers of their own."""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import pty
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests import clirun
from tests.conftest import BIN, Server, start_cloud, stop_cloud

PATCH_TYPE = "application/openstack-images-v2.1-json-patch"
OCTET = "application/octet-stream"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


# -- test images ------------------------------------------------------------------------


def qemu_img(*args: str) -> None:
    subprocess.run(["qemu-img", *args], check=True, capture_output=True, timeout=60)


def qcow2(path: Path, size: str = "64M", *options: str) -> Path:
    qemu_img("create", "-f", "qcow2", *options, str(path), size)
    return path


def virtual_size(path: Path) -> int:
    out = subprocess.run(
        ["qemu-img", "info", "--output=json", str(path)],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    return int(json.loads(out)["virtual-size"])


def md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def sha512(data: bytes) -> str:
    return hashlib.sha512(data).hexdigest()


@pytest.fixture(scope="session")
def images_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("test-images")


@pytest.fixture(scope="session")
def tiny_qcow2(images_dir: Path) -> Path:
    """A small valid qcow2 (64 MiB virtual) with a little data written in it."""
    path = qcow2(images_dir / "tiny.qcow2")
    raw = images_dir / "tiny-src.raw"
    raw.write_bytes(os.urandom(256 * 1024) + b"\0" * (1 << 20))
    qemu_img("convert", "-f", "raw", "-O", "qcow2", str(raw), str(path))
    qemu_img("resize", str(path), "64M")
    return path


@pytest.fixture(scope="session")
def backing_qcow2(images_dir: Path) -> Path:
    base = qcow2(images_dir / "base.qcow2", "16M")
    return qcow2(images_dir / "overlay.qcow2", "16M", "-b", str(base), "-F", "qcow2")


@pytest.fixture(scope="session")
def data_file_qcow2(images_dir: Path) -> Path:
    return qcow2(
        images_dir / "extdata.qcow2", "16M", "-o", f"data_file={images_dir / 'ext.raw'}"
    )


# -- servers -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def image_server(tmp_path_factory: pytest.TempPathFactory, database: str) -> Iterator[Server]:
    """The image tests' main server: web-download allowed from 127.0.0.1."""
    srv = start_cloud(
        tmp_path_factory.mktemp("stratus-image"),
        database,
        STRATUS_IMAGE__WEB_DOWNLOAD_ALLOWED_HOSTS='["127.0.0.1"]',
    )
    yield srv
    stop_cloud(srv)


def server_log_has_no_traceback(srv: Server) -> None:
    text = srv.log.read_text(errors="replace")
    assert "Traceback" not in text, text[-5000:]


# -- users -----------------------------------------------------------------------------------


@dataclass
class User:
    server: Server
    name: str
    password: str
    project_name: str
    project_id: str
    user_id: str
    token: str

    def env(self) -> dict[str, str]:
        """Environment for the openstack and glance CLIs as this user."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
        env.update(
            OS_AUTH_URL=self.server.auth_url,
            OS_USERNAME=self.name,
            OS_PASSWORD=self.password,
            OS_PROJECT_NAME=self.project_name,
            OS_USER_DOMAIN_NAME="Default",
            OS_PROJECT_DOMAIN_NAME="Default",
            OS_IDENTITY_API_VERSION="3",
            OS_INTERFACE="public",
        )
        return env

    def client(self) -> httpx.Client:
        return image_client(self.server, self.token)


_ADMINS: dict[Path, User] = {}  # by data folder: a later cloud may reuse a port


def admin(server: Server) -> User:
    user = _ADMINS.get(server.data_dir)
    if user is None:
        token = server.admin_token()
        info = httpx.get(
            f"{server.auth_url}/auth/tokens",
            headers={"X-Auth-Token": token, "X-Subject-Token": token},
        ).json()["token"]
        user = User(
            server,
            "admin",
            server.admin_password,
            "admin",
            info["project"]["id"],
            info["user"]["id"],
            token,
        )
        _ADMINS[server.data_dir] = user
    return user


def make_user(server: Server, role: str = "member") -> User:
    """A new project with a new user holding ``role`` on it, and its token."""
    headers = {"X-Auth-Token": admin(server).token}
    base = server.auth_url
    with httpx.Client(base_url=base, headers=headers, timeout=30) as c:
        pname = unique("proj")
        resp = c.post("/projects", json={"project": {"name": pname, "domain_id": "default"}})
        assert resp.status_code == 201, resp.text
        project_id = resp.json()["project"]["id"]
        uname, password = unique("user"), "pw-" + uuid.uuid4().hex
        resp = c.post(
            "/users", json={"user": {"name": uname, "password": password, "domain_id": "default"}}
        )
        assert resp.status_code == 201, resp.text
        user_id = resp.json()["user"]["id"]
        roles = c.get("/roles", params={"name": role}).json()["roles"]
        assert roles, f"no role {role}"
        resp = c.put(f"/projects/{project_id}/users/{user_id}/roles/{roles[0]['id']}")
        assert resp.status_code in (200, 204), resp.text
    body = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {"user": {"id": user_id, "password": password}},
            },
            "scope": {"project": {"id": project_id}},
        }
    }
    resp = httpx.post(f"{base}/auth/tokens", json=body, timeout=30)
    assert resp.status_code == 201, resp.text
    return User(
        server, uname, password, pname, project_id, user_id, resp.headers["x-subject-token"]
    )


def image_client(server: Server, token: str) -> httpx.Client:
    return httpx.Client(
        base_url=f"{server.url}/image", headers={"X-Auth-Token": token}, timeout=60
    )


# -- image API helpers ------------------------------------------------------------------------


def create_image(c: httpx.Client, **attrs: Any) -> dict[str, Any]:
    body = {"disk_format": "raw", "container_format": "bare", "name": unique("img"), **attrs}
    resp = c.post("/v2/images", json=body)
    assert resp.status_code == 201, resp.text
    return resp.json()  # type: ignore[no-any-return]


def upload(c: httpx.Client, image_id: str, data: bytes) -> httpx.Response:
    return c.put(f"/v2/images/{image_id}/file", content=data, headers={"Content-Type": OCTET})


def patch(c: httpx.Client, image_id: str, ops: list[dict[str, Any]]) -> httpx.Response:
    return c.patch(
        f"/v2/images/{image_id}",
        content=json.dumps(ops),
        headers={"Content-Type": PATCH_TYPE},
    )


def show(c: httpx.Client, image_id: str) -> dict[str, Any]:
    resp = c.get(f"/v2/images/{image_id}")
    assert resp.status_code == 200, resp.text
    return resp.json()  # type: ignore[no-any-return]


def wait_status(
    c: httpx.Client, image_id: str, want: tuple[str, ...] = ("active", "killed"), timeout: float = 60
) -> dict[str, Any]:
    """Poll the image until its status is one of ``want`` (or the time is up)."""
    deadline = time.monotonic() + timeout
    while True:
        image = show(c, image_id)
        if image["status"] in want or time.monotonic() > deadline:
            return image
        time.sleep(0.1)


def wait_task(c: httpx.Client, image_id: str, timeout: float = 60) -> dict[str, Any]:
    """The image's newest import task, once it has finished (or the time is up)."""
    deadline = time.monotonic() + timeout
    while True:
        resp = c.get(f"/v2/images/{image_id}/tasks")
        assert resp.status_code == 200, resp.text
        tasks = resp.json()["tasks"]
        if tasks and tasks[0]["status"] in ("success", "failure"):
            return tasks[0]  # type: ignore[no-any-return]
        if time.monotonic() > deadline:
            raise AssertionError(f"the import task did not finish: {tasks}")
        time.sleep(0.1)


def active_image(c: httpx.Client, data: bytes = b"hello image" * 100, **attrs: Any) -> dict[str, Any]:
    image = create_image(c, **attrs)
    resp = upload(c, image["id"], data)
    assert resp.status_code == 204, resp.text
    return show(c, image["id"])


# -- CLIs -------------------------------------------------------------------------------------------


def openstack(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = clirun.run(
        [str(BIN / "openstack"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    if check:
        assert result.returncode == 0, f"openstack {' '.join(args)}:\n{result.stderr}"
    return result


def openstack_json(env: dict[str, str], *args: str) -> Any:
    return json.loads(openstack(env, *args, "-f", "json").stdout)


def glance(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run the glance CLI with a terminal as stdin (it reads a non-tty stdin as image data)."""
    master, slave = pty.openpty()
    try:
        result = subprocess.run(
            [str(BIN / "glance"), *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            stdin=slave,
        )
    finally:
        os.close(slave)
        os.close(master)
    if check:
        assert result.returncode == 0, f"glance {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
    return result


# -- a loopback web server for web-download ---------------------------------------------------------


class _Handler(http.server.BaseHTTPRequestHandler):
    files: dict[str, bytes] = {}

    def do_GET(self) -> None:  # noqa: N802
        data = self.files.get(self.path)
        if data is None:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", OCTET)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@dataclass
class WebServer:
    port: int
    files: dict[str, bytes]

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"


@pytest.fixture(scope="session")
def web() -> Iterator[WebServer]:
    files: dict[str, bytes] = {}
    handler = type("Handler", (_Handler,), {"files": files})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield WebServer(httpd.server_address[1], files)
    httpd.shutdown()
    httpd.server_close()
