"""Actions a host's driver cannot do are refused with 409 and a clear
message, never attempted and never a 500.  The fake driver is narrowed to
the console log with the test-only setting ``compute.fake_capabilities``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import Server, drop_database, start_cloud
from tests.functional.compute.conftest import FAKE, Nova, fake_cloud, osc, stop_cloud, tiny_image


@pytest.fixture(scope="module")
def narrow(tmp_path_factory: pytest.TempPathFactory, database: str) -> Iterator[Server]:
    srv = fake_cloud(tmp_path_factory, "narrow", database=database, STRATUS_COMPUTE__FAKE_CAPABILITIES="[console_log]")
    yield srv
    stop_cloud(srv)


@pytest.fixture(scope="module")
def nova(narrow: Server) -> Nova:
    return Nova(narrow, narrow.admin_token(), "2.96")


@pytest.fixture(scope="module")
def vm(nova: Nova) -> dict[str, Any]:
    return nova.boot("narrow-vm")


@pytest.mark.parametrize(
    "action, capability",
    [("pause", "pause"), ("suspend", "suspend")],
)
def test_missing_capability_is_409(
    nova: Nova, vm: dict[str, Any], action: str, capability: str
) -> None:
    resp = nova.action(vm["id"], {action: None})
    assert resp.status_code == 409, resp.text
    fault = resp.json()["conflictingRequest"]
    assert fault["code"] == 409
    assert f"Cannot '{action}' instance {vm['id']}" in fault["message"]
    assert f"the fake driver of host fakehost does not support {capability}" in fault["message"]
    shown = nova.show(vm["id"])  # nothing was attempted
    assert shown["status"] == "ACTIVE" and shown["OS-EXT-STS:task_state"] is None


def test_no_serial_console_is_409(nova: Nova, vm: dict[str, Any]) -> None:
    body = {"remote_console": {"protocol": "serial", "type": "serial"}}
    resp = nova.post(f"/servers/{vm['id']}/remote-consoles", json=body)
    assert resp.status_code == 409, resp.text
    message = resp.json()["conflictingRequest"]["message"]
    assert "the fake driver of host fakehost does not support serial console" in message


def test_supported_actions_still_work(nova: Nova, vm: dict[str, Any]) -> None:
    resp = nova.action(vm["id"], {"os-getConsoleOutput": {"length": 5}})
    assert resp.status_code == 200, resp.text
    assert nova.action(vm["id"], {"os-stop": None}).status_code == 202
    nova.wait(vm["id"], "SHUTOFF")
    assert nova.action(vm["id"], {"os-start": None}).status_code == 202
    nova.wait(vm["id"], "ACTIVE")


def test_cli_shows_the_reason(narrow: Server, vm: dict[str, Any]) -> None:
    proc = osc(narrow, "server", "pause", vm["id"], check=False)
    assert proc.returncode != 0
    assert "does not support pause" in proc.stderr
    assert "409" in proc.stderr


def test_console_log_needs_its_capability(tmp_path_factory: pytest.TempPathFactory, database: str) -> None:
    srv = fake_cloud(tmp_path_factory, "noconsole", database=database, STRATUS_COMPUTE__FAKE_CAPABILITIES="[]")
    try:
        nova = Nova(srv, srv.admin_token(), "2.96")
        vm = nova.boot("quiet")
        resp = nova.action(vm["id"], {"os-getConsoleOutput": {}})
        assert resp.status_code == 409, resp.text
        assert "does not support console log" in resp.json()["conflictingRequest"]["message"]
    finally:
        stop_cloud(srv)


def test_unknown_test_capability_is_a_clear_startup_error(
    tmp_path_factory: pytest.TempPathFactory, database: str
) -> None:
    data = tmp_path_factory.mktemp("badcaps")
    try:
        srv = start_cloud(data, database, **FAKE, STRATUS_COMPUTE__FAKE_CAPABILITIES="[warp_drive]")
    except RuntimeError as exc:
        assert "compute.fake_capabilities: unknown ['warp_drive']" in str(exc)
    else:  # the API came up: the agent must have refused to start
        try:
            tiny_image(srv)
            log = srv.log.read_text()
            assert "compute.fake_capabilities: unknown ['warp_drive']" in log, log[-3000:]
        finally:
            srv.stop()
            drop_database(srv.database_url)
