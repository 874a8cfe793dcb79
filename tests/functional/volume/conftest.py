"""Fixtures and helpers for the block storage (Cinder v3) functional tests.

Every module runs a cloud of its own (compute's fake driver: no guest is
booted here), once on SQLite and once on PostgreSQL when
STRATUS_TEST_POSTGRES_URL is set.  Volumes are real files: the tests read
and write them with qemu-io and compare them with qemu-img, so they check
data, not only statuses."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests import clirun
from tests.conftest import BIN, POSTGRES_URL, Server, _database_params, reset_postgres, start_server
from tests.functional.apiclient import ApiClient
from tests.functional.identity.helpers import user_with_role

CLOUD_ENV = {"STRATUS_COMPUTE__DRIVER": "fake", "STRATUS_VOLUME__HOST": "volhost"}
TERMINAL = {"available", "error", "in-use", "error_deleting", "error_extending", "error_restoring"}


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def volume_cloud(
    factory: pytest.TempPathFactory, database: str, name: str = "volume", **env: str
) -> Server:
    url = POSTGRES_URL if database == "postgres" else ""
    if url:
        reset_postgres(url)
    return start_server(factory.mktemp(f"{name}-{database}"), url, **{**CLOUD_ENV, **env})


def stop_cloud(srv: Server) -> None:
    code = srv.stop()
    end_exports(srv.data_dir)
    assert code == 0, f"stratus did not stop cleanly ({code}):\n{srv.log.read_text()[-4000:]}"


def end_exports(data_dir: Path) -> None:
    """NBD exports, tgtd and image lock holders outlive the cloud (a remote guest keeps its
    disk while the volume agent restarts): those a test left end with its
    cloud."""
    for pid in os.listdir("/proc"):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        daemon = b"qemu-storage-daemon" in cmdline or cmdline.startswith(b"tgtd\0")
        daemon = daemon or b"\0stratus-lock-holder\0" in cmdline  # (lock_holder.MARK)
        if daemon and str(data_dir).encode() in cmdline:
            with contextlib.suppress(OSError):
                os.kill(int(pid), signal.SIGKILL)


@pytest.fixture(scope="module", params=_database_params())
def cloud(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    srv = volume_cloud(tmp_path_factory, request.param)
    yield srv
    stop_cloud(srv)


class Cinder(ApiClient):
    """Raw HTTP against /volume/v3/<project> with one token and a
    microversion.  Every response is checked for what holds everywhere: no
    5xx and an ``x-openstack-request-id`` header."""

    def __init__(self, server: Server, token: str, project_id: str, version: str | None = "3.71"):
        super().__init__(f"{server.url}/volume/v3/{project_id}", token)
        self.server = server
        self.project_id = project_id
        self.version = version

    def at(self, version: str | None) -> Cinder:
        return Cinder(self.server, self.token, self.project_id, version)

    def extra_headers(self) -> dict[str, str]:
        return {"OpenStack-API-Version": f"volume {self.version}"} if self.version else {}

    def action(self, volume_id: str, body: dict[str, Any]) -> httpx.Response:
        return self.post(f"/volumes/{volume_id}/action", json=body)

    def create(self, size: int = 1, status: str = "available", **extra: Any) -> dict[str, Any]:
        resp = self.post(
            "/volumes", json={"volume": {"size": size, "name": unique("vol"), **extra}}
        )
        assert resp.status_code == 202, resp.text
        return self.wait(resp.json()["volume"]["id"], status)

    def show(self, volume_id: str) -> dict[str, Any]:
        resp = self.get(f"/volumes/{volume_id}")
        assert resp.status_code == 200, resp.text
        return resp.json()["volume"]  # type: ignore[no-any-return]

    def wait(
        self, volume_id: str, status: str = "available", timeout: float = 60
    ) -> dict[str, Any]:
        return wait_for(lambda: self.show(volume_id), status, timeout, f"volume {volume_id}")

    def wait_gone(self, path: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.get(path).status_code == 404:
                return
            time.sleep(0.1)
        raise AssertionError(f"{path} still there after {timeout} s")

    def snapshot(self, volume_id: str, **extra: Any) -> dict[str, Any]:
        resp = self.post("/snapshots", json={"snapshot": {"volume_id": volume_id, **extra}})
        assert resp.status_code == 202, resp.text
        sid = resp.json()["snapshot"]["id"]
        return wait_for(
            lambda: self.get(f"/snapshots/{sid}").json()["snapshot"],
            "available",
            60,
            f"snapshot {sid}",
        )

    def backup(self, volume_id: str, status: str = "available", **extra: Any) -> dict[str, Any]:
        resp = self.post("/backups", json={"backup": {"volume_id": volume_id, **extra}})
        assert resp.status_code == 202, resp.text
        bid = resp.json()["backup"]["id"]
        return wait_for(
            lambda: self.get(f"/backups/{bid}").json()["backup"], status, 120, f"backup {bid}"
        )


def wait_for(fetch: Any, status: str, timeout: float, what: str) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    last: dict[str, Any] = {}
    while time.monotonic() < deadline:
        last = fetch()
        if last["status"] == status:
            return last
        if last["status"] in TERMINAL - {status}:
            raise AssertionError(f"{what} is {last['status']}, not {status}: {last}")
        time.sleep(0.1)
    raise AssertionError(f"{what} not {status} after {timeout} s: {last}")


def admin_project(server: Server) -> str:
    token = server.admin_token()
    resp = httpx.get(
        f"{server.auth_url}/auth/tokens", headers={"X-Auth-Token": token, "X-Subject-Token": token}
    )
    return resp.json()["token"]["project"]["id"]  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def cinder(cloud: Server) -> Cinder:
    """The cloud's admin at microversion 3.71."""
    return Cinder(cloud, cloud.admin_token(), admin_project(cloud))


def project_user(
    server: Server, role: str = "member"
) -> tuple[Cinder, dict[str, Any], dict[str, Any]]:
    """A fresh project with a user holding ``role``: their client, the user, the project."""
    user, project, token = user_with_role(server, role)
    return Cinder(server, token, project["id"]), user, project


# -- the volumes' files -------------------------------------------------------------------------


def volume_file(server: Server, volume_id: str) -> Path:
    folder = server.data_dir / "volumes" / "volhost" / "volumes"
    for fmt in ("qcow2", "raw"):
        path = folder / f"volume-{volume_id}.{fmt}"
        if path.exists():
            return path
    raise AssertionError(f"no file for volume {volume_id} in {folder}")


def qemu_write(path: Path, pattern: int, offset: int, length: int) -> None:
    """Write a byte pattern into a volume file, as a guest would."""
    fmt = path.suffix.lstrip(".")
    subprocess.run(
        ["qemu-io", "-f", fmt, "-c", f"write -P {pattern} {offset} {length}", str(path)],
        check=True,
        capture_output=True,
    )


def same_content(a: Path, b: Path) -> bool:
    """Whether two images hold the same bytes (qemu-img compare)."""
    proc = subprocess.run(
        [
            "qemu-img",
            "compare",
            "-U",
            "-f",
            a.suffix.lstrip(".") if a.suffix in (".qcow2", ".raw") else "qcow2",
            "-F",
            b.suffix.lstrip(".") if b.suffix in (".qcow2", ".raw") else "qcow2",
            str(a),
            str(b),
        ],
        capture_output=True,
        text=True,
    )
    return proc.returncode == 0


def image_format(path: Path) -> str:
    out = subprocess.run(
        ["qemu-img", "info", "-U", "--output=json", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    return str(json.loads(out.stdout)["format"])


# -- the openstack CLI ----------------------------------------------------------------------------


def osc(
    server: Server, *args: str, check: bool = True, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    proc = clirun.run(
        [str(BIN / "openstack"), *args],
        env=env or server.env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    if check:
        assert proc.returncode == 0, (
            f"openstack {' '.join(args)} → {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
        )
    return proc


def osc_json(server: Server, *args: str, env: dict[str, str] | None = None) -> Any:
    return json.loads(osc(server, *args, "-f", "json", env=env).stdout)


def osc_wait(
    server: Server, kind: str, name: str, status: str = "available", timeout: float = 120
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    last: dict[str, Any] = {}
    while time.monotonic() < deadline:
        last = osc_json(server, *kind.split(), "show", name)
        if last["status"] == status:
            return last
        if last["status"] in TERMINAL - {status}:
            raise AssertionError(f"{kind} {name} is {last['status']}: {last}")
        time.sleep(0.3)
    raise AssertionError(f"{kind} {name} not {status} after {timeout} s: {last}")
