"""A server's life through the openstack CLI (fake driver)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import Server
from tests.functional.compute.conftest import Nova, osc, osc_json, user_in_project


@pytest.fixture(scope="module")
def vm(cloud: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    d = tmp_path_factory.mktemp("cli")
    osc(cloud, "keypair", "create", "--private-key", str(d / "k.pem"), "k")
    script = d / "script.sh"
    script.write_text("#!/bin/sh\necho hello from user data\n")
    server = osc_json(
        cloud, "server", "create", "--image", "tiny", "--flavor", "m1.tiny",
        "--key-name", "k", "--user-data", str(script), "--wait", "vm",
    )
    yield server


def status(nova: Nova, server_id: str) -> str:
    return nova.show(server_id)["status"]


def test_create_wait_ends_active(vm: dict) -> None:
    assert vm["status"] == "ACTIVE"
    assert vm["name"] == "vm"
    assert vm["key_name"] == "k"
    assert vm["OS-EXT-STS:vm_state"] == "active"


def test_show(cloud: Server, vm: dict) -> None:
    shown = osc_json(cloud, "server", "show", "vm")
    assert shown["id"] == vm["id"]
    assert shown["addresses"], shown
    assert shown["OS-EXT-SRV-ATTR:host"] == "fakehost"
    assert shown["OS-EXT-SRV-ATTR:hypervisor_hostname"]
    assert shown["OS-EXT-STS:power_state"] in ("Running", 1)
    assert shown["flavor"]["name"] == "m1.tiny" or "m1.tiny" in str(shown["flavor"])
    assert "tiny" in str(shown["image"])


def test_list(cloud: Server, vm: dict) -> None:
    rows = osc_json(cloud, "server", "list")
    (row,) = [r for r in rows if r["Name"] == "vm"]
    assert row["Status"] == "ACTIVE"
    assert row["ID"] == vm["id"]
    assert row["Flavor"] == "m1.tiny"
    assert row["Image"] == "tiny"
    long_rows = osc_json(cloud, "server", "list", "--long")
    assert any(r["Name"] == "vm" and r["Power State"] in ("Running", 1) for r in long_rows)


def test_stop_start(cloud: Server, nova: Nova, vm: dict) -> None:
    osc(cloud, "server", "stop", "vm")
    shown = nova.wait(vm["id"], "SHUTOFF")
    assert shown["OS-EXT-STS:power_state"] == 4
    osc(cloud, "server", "start", "vm")
    shown = nova.wait(vm["id"], "ACTIVE")
    assert shown["OS-EXT-STS:power_state"] == 1


@pytest.mark.parametrize("args", [["reboot"], ["reboot", "--hard"]])
def test_reboot(cloud: Server, nova: Nova, vm: dict, args: list[str]) -> None:
    osc(cloud, "server", *args, "vm")
    nova.wait(vm["id"], "ACTIVE")


@pytest.mark.parametrize(
    "down, up, state, power",
    [("pause", "unpause", "PAUSED", (3,)), ("suspend", "resume", "SUSPENDED", (4, 7))],
)
def test_pause_suspend(cloud: Server, nova: Nova, vm: dict, down: str, up: str, state: str, power: tuple[int, ...]) -> None:
    osc(cloud, "server", down, "vm")
    shown = nova.wait(vm["id"], state)
    assert shown["OS-EXT-STS:power_state"] in power
    osc(cloud, "server", up, "vm")
    nova.wait(vm["id"], "ACTIVE")


def test_lock(cloud: Server, nova: Nova, vm: dict) -> None:
    member = user_in_project(cloud, vm["project_id"], "member")
    osc(cloud, "server", "lock", "--reason", "maintenance", "vm")
    shown = nova.at("2.73").show(vm["id"])
    assert shown["locked"] is True
    assert shown["locked_reason"] == "maintenance"
    resp = member.action(vm["id"], {"os-stop": None})
    assert resp.status_code == 409, resp.text
    assert resp.json()["conflictingRequest"]["code"] == 409
    assert member.delete(f"/servers/{vm['id']}").status_code == 409
    assert member.action(vm["id"], {"unlock": None}).status_code in (403, 409)
    osc(cloud, "server", "unlock", "vm")
    assert nova.at("2.73").show(vm["id"])["locked"] is False
    resp = member.action(vm["id"], {"reboot": {"type": "SOFT"}})
    assert resp.status_code == 202, resp.text
    nova.wait(vm["id"], "ACTIVE")


def test_console_log(cloud: Server, nova: Nova, vm: dict) -> None:
    proc = osc(cloud, "console", "log", "show", "vm")
    assert isinstance(proc.stdout, str)
    resp = nova.action(vm["id"], {"os-getConsoleOutput": {"length": 5}})
    assert resp.status_code == 200, resp.text
    assert isinstance(resp.json()["output"], str)
    assert len(resp.json()["output"].splitlines()) <= 5
    resp = nova.action(vm["id"], {"os-getConsoleOutput": {}})
    assert resp.status_code == 200, resp.text
    osc(cloud, "console", "log", "show", "--lines", "3", "vm")


def test_event_list(cloud: Server, vm: dict) -> None:
    events = osc_json(cloud, "server", "event", "list", "vm")
    actions = {e["Action"] for e in events}
    assert {"create", "stop", "start", "reboot", "pause", "unpause", "suspend", "resume", "lock", "unlock"} <= actions, actions
    one = events[0]
    shown = osc_json(cloud, "server", "event", "show", "vm", one["Request ID"])
    assert shown["action"] == one["Action"]


def test_delete_wait(cloud: Server, nova: Nova, vm: dict) -> None:
    osc(cloud, "server", "delete", "--wait", "vm")
    assert nova.get(f"/servers/{vm['id']}").status_code == 404
    assert "vm" not in [r["Name"] for r in osc_json(cloud, "server", "list")]
    assert osc(cloud, "server", "show", "vm", check=False).returncode != 0
