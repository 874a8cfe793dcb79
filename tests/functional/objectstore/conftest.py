"""Fixtures and helpers for the object-store (Swift API v1) functional tests.

Every module runs its own SQLite all-in-one (identity, image and the object
store; no compute), started with ``start_server`` by the module-scoped
``store`` fixture.  ``Account`` is one project's view of it: a token, the
storage URL ``/object-store/v1/AUTH_<project_id>`` and the environment for
the swift and openstack CLIs.  ``Swift`` is raw HTTP against an account; it
checks on every response what must hold everywhere: no 5xx, and the headers
every Swift response carries (X-Trans-Id, Date, Content-Type, and
Content-Length unless the status is 204 or 304).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests import clirun
from tests.conftest import BIN, Server, start_cloud, stop_cloud
from tests.functional.identity.helpers import user_with_role

STORE_ENV = {"STRATUS_SERVICES__ENABLED": '["identity", "image", "object-store"]'}


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def wait_until(check: Callable[[], bool], timeout: float = 10, step: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if check():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(step)


# -- HTTP ------------------------------------------------------------------------------------------


@dataclass
class Violation:
    method: str
    url: str
    status: int
    problem: str


@dataclass
class Checks:
    """What every response must hold; collected rather than raised, so that a
    test can still make its own assertion (``assert_clean`` raises them)."""

    violations: list[Violation] = field(default_factory=list)

    def __call__(self, resp: httpx.Response) -> None:
        req = resp.request
        problems = []
        if resp.status_code >= 500:
            resp.read()
            problems.append(f"5xx: {resp.text[:300]!r}")
        for name in ("x-trans-id", "date", "content-type"):
            if name not in resp.headers:
                problems.append(f"no {name}")
        if (
            resp.status_code not in (204, 304)
            and "content-length" not in resp.headers
            and resp.headers.get("transfer-encoding", "").lower() != "chunked"
        ):
            problems.append("no content-length")
        for p in problems:
            self.violations.append(Violation(req.method, str(req.url), resp.status_code, p))

    def assert_clean(self) -> None:
        found, self.violations = self.violations, []
        assert not found, "\n".join(f"{v.method} {v.url} -> {v.status}: {v.problem}" for v in found)


class Swift(httpx.Client):
    """An httpx client rooted at a storage URL, sending ``token`` (none if None)."""

    def __init__(self, base_url: str, token: str | None, checks: Checks | None = None) -> None:
        self.checks = checks if checks is not None else Checks()
        headers = {"X-Auth-Token": token} if token else {}
        super().__init__(
            base_url=base_url,
            headers=headers,
            timeout=60,
            event_hooks={"response": [self.checks]},
        )


# -- accounts --------------------------------------------------------------------------------------


@dataclass
class Account:
    server: Server
    user_name: str
    password: str
    project_name: str
    project_id: str
    token: str

    @property
    def name(self) -> str:
        return f"AUTH_{self.project_id}"

    @property
    def url(self) -> str:
        return f"{self.server.url}/object-store/v1/{self.name}"

    def client(self, token: str | None = "", *, account: str | None = None) -> Swift:
        """Raw HTTP on this account (or ``account``'s URL) with this account's
        token, or with ``token`` (None: no token)."""
        base = self.url if account is None else f"{self.server.url}/object-store/v1/{account}"
        return Swift(base, self.token if token == "" else token)

    def env(self) -> dict[str, str]:
        """The environment for the swift and openstack CLIs, as this user."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OS_", "ST_"))}
        env.update(
            OS_AUTH_URL=self.server.auth_url,
            OS_USERNAME=self.user_name,
            OS_PASSWORD=self.password,
            OS_PROJECT_NAME=self.project_name,
            OS_USER_DOMAIN_NAME="Default",
            OS_PROJECT_DOMAIN_NAME="Default",
            OS_IDENTITY_API_VERSION="3",
            OS_INTERFACE="public",
        )
        return env


def admin_account(server: Server) -> Account:
    token = server.admin_token()
    info = httpx.get(
        f"{server.auth_url}/auth/tokens",
        headers={"X-Auth-Token": token, "X-Subject-Token": token},
        timeout=30,
    ).json()["token"]
    return Account(server, "admin", server.admin_password, "admin", info["project"]["id"], token)


def project_account(server: Server, role: str = "member") -> Account:
    """A new project with a new user holding ``role`` on it."""
    user, project, token = user_with_role(server, role)
    return Account(server, user["name"], user["password"], project["name"], project["id"], token)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, database: str) -> Iterator[Server]:
    """This module's all-in-one with the object store (no compute)."""
    srv = start_cloud(tmp_path_factory.mktemp("stratus-objectstore"), database, **STORE_ENV)
    yield srv
    stop_cloud(srv)


@pytest.fixture(scope="module")
def admin(store: Server) -> Account:
    return admin_account(store)


@pytest.fixture(scope="module")
def owner(store: Server) -> Account:
    """A project member: the owner of its account."""
    return project_account(store, "member")


@pytest.fixture
def api(owner: Account) -> Iterator[Swift]:
    """Raw HTTP on ``owner``'s account; fails the test on a 5xx or a missing
    common header in any response."""
    with owner.client() as c:
        yield c
        c.checks.assert_clean()


@pytest.fixture
def container(api: Swift) -> str:
    """A new, empty container in ``owner``'s account."""
    name = unique("c")
    resp = api.put(f"/{name}")
    assert resp.status_code == 201, resp.text
    return name


# -- CLIs -------------------------------------------------------------------------------------------


def run_cli(
    tool: str,
    env: dict[str, str],
    *args: str,
    check: bool = True,
    cwd: Path | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    result = clirun.run(
        [str(BIN / tool), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        cwd=cwd,
    )
    if check:
        assert result.returncode == 0, (
            f"{tool} {' '.join(args)} -> {result.returncode}:\n{result.stdout}\n{result.stderr}"
        )
    return result


def server_log_tail(srv: Server, n: int = 4000) -> str:
    return srv.log.read_text(errors="replace")[-n:]


def no_traceback(srv: Server) -> None:
    text = srv.log.read_text(errors="replace")
    assert "Traceback" not in text, text[-5000:]


def meta_of(resp: httpx.Response, level: str = "object") -> dict[str, Any]:
    prefix = f"x-{level}-meta-"
    return {k[len(prefix) :]: v for k, v in resp.headers.items() if k.lower().startswith(prefix)}
