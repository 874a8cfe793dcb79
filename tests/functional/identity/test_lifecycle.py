"""A cloud's life on disk: restarts, clean signals, secret files."""

from __future__ import annotations

import signal
import stat
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import Server, drop_database, start_cloud, start_server
from tests.functional.identity.helpers import issue, password_auth, unique

ADMIN = {"name": "admin", "domain": {"id": "default"}}
ADMIN_SCOPE = {"project": {"name": "admin", "domain": {"id": "default"}}}


@pytest.fixture
def cloud(tmp_path: Path, database: str) -> Iterator[Server]:
    srv = start_cloud(tmp_path / "cloud", database)
    yield srv
    if srv.process.poll() is None:
        srv.process.kill()
        srv.process.wait()
    drop_database(srv.database_url)


def test_state_survives_restart(cloud: Server) -> None:
    password = cloud.admin_password
    token = cloud.admin_token()
    name = unique("persist")
    created = httpx.post(
        f"{cloud.auth_url}/projects",
        json={"project": {"name": name, "tags": ["kept"]}},
        headers={"X-Auth-Token": token},
    )
    assert created.status_code == 201
    project_id = created.json()["project"]["id"]
    endpoints_before = httpx.get(f"{cloud.auth_url}/endpoints", headers={"X-Auth-Token": token}).json()["endpoints"]

    assert cloud.stop(signal.SIGTERM) == 0
    again = start_server(cloud.data_dir, cloud.database_url)
    try:
        assert again.admin_password == password
        # The admin password still works and the project is there.
        fresh = again.admin_token()
        resp = httpx.get(f"{again.auth_url}/projects/{project_id}", headers={"X-Auth-Token": fresh})
        assert resp.status_code == 200
        assert resp.json()["project"]["name"] == name
        assert resp.json()["project"]["tags"] == ["kept"]
        # A token issued before the restart still validates and still works.
        check = httpx.get(
            f"{again.auth_url}/auth/tokens", headers={"X-Auth-Token": fresh, "X-Subject-Token": token}
        )
        assert check.status_code == 200
        assert httpx.get(f"{again.auth_url}/projects", headers={"X-Auth-Token": token}).status_code == 200
        # Bootstrap did not run twice.
        projects = httpx.get(
            f"{again.auth_url}/projects", params={"name": "admin"}, headers={"X-Auth-Token": fresh}
        ).json()["projects"]
        assert len(projects) == 1
        endpoints = httpx.get(f"{again.auth_url}/endpoints", headers={"X-Auth-Token": fresh}).json()["endpoints"]
        assert sorted(e["id"] for e in endpoints) == sorted(e["id"] for e in endpoints_before)
    finally:
        assert again.stop(signal.SIGTERM) == 0


def test_revocation_survives_restart(cloud: Server) -> None:
    keep = cloud.admin_token()
    victim = cloud.admin_token()
    revoked = httpx.delete(
        f"{cloud.auth_url}/auth/tokens", headers={"X-Auth-Token": keep, "X-Subject-Token": victim}
    )
    assert revoked.status_code == 204
    assert cloud.stop(signal.SIGTERM) == 0
    again = start_server(cloud.data_dir, cloud.database_url)
    try:
        assert httpx.get(f"{again.auth_url}/projects", headers={"X-Auth-Token": victim}).status_code == 401
        assert httpx.get(f"{again.auth_url}/projects", headers={"X-Auth-Token": keep}).status_code == 200
    finally:
        again.stop()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_exits_zero(cloud: Server, sig: int) -> None:
    assert httpx.get(cloud.auth_url).status_code == 200
    assert cloud.stop(sig) == 0
    with pytest.raises(httpx.HTTPError):
        httpx.get(cloud.auth_url, timeout=2)


def test_secret_files_are_private(cloud: Server) -> None:
    for name in ("clouds.yaml", "admin-password"):
        mode = stat.S_IMODE((cloud.data_dir / name).stat().st_mode)
        assert mode == 0o600, f"{name} has mode {oct(mode)}"
    keys = cloud.data_dir / "fernet-keys"
    assert stat.S_IMODE(keys.stat().st_mode) & 0o077 == 0
    for key in keys.iterdir():
        assert stat.S_IMODE(key.stat().st_mode) & 0o077 == 0, key.name


def test_admin_password_not_logged(cloud: Server) -> None:
    password = cloud.admin_password
    assert password in (cloud.data_dir / "clouds.yaml").read_text()
    # Exercise the password: good and bad logins, a password change attempt.
    cloud.admin_token()
    issue(cloud, password_auth(ADMIN, password + "x", ADMIN_SCOPE))
    issue(cloud, password_auth({"name": "admin"}, password))
    assert cloud.stop(signal.SIGTERM) == 0
    log = cloud.log.read_text()
    assert log  # the server did log something
    assert password not in log
