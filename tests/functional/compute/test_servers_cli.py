"""A server's life through the openstack CLI (fake driver)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect
from websockets.typing import Subprotocol

from tests.conftest import Server, sql
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


# -- the serial console ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def console_vm(nova: Nova) -> dict:
    """A server of its own: the module's ``vm`` is deleted by an earlier test."""
    return nova.at("2.96").boot("serial-vm")


def test_serial_console_url_and_websocket(cloud: Server, console_vm: dict, nova: Nova) -> None:
    vm = console_vm
    shown = osc_json(cloud, "console", "url", "show", "--serial", vm["id"])
    url = shown["url"]
    assert shown["type"] == "serial" and url.startswith("ws://") and "?token=" in url, shown
    assert url.startswith(cloud.url.replace("http://", "ws://") + "/compute/serial-console")
    # The websocket reaches the (fake) guest's console: its banner, then an echo.
    with connect(url, subprotocols=[Subprotocol("binary")], open_timeout=10) as ws:
        assert ws.subprotocol == "binary"
        assert b"fake serial console of serial-vm" in ws.recv(timeout=10)
        ws.send(b"uname\r")
        assert ws.recv(timeout=10) == b"uname\r"
    # A token opens one console only; a made-up one none.
    for used in (url, url.split("?")[0] + "?token=made-up", url.split("?")[0]):
        with pytest.raises(InvalidStatus):
            connect(used, open_timeout=10).close()
    # The legacy action answers the same kind of URL; an expired token is refused.
    resp = nova.action(vm["id"], {"os-getSerialConsole": {"type": "serial"}})
    assert resp.status_code == 200, resp.text
    legacy = resp.json()["console"]
    assert legacy["type"] == "serial" and legacy["url"].startswith("ws://")
    sql(cloud, "UPDATE compute_console_token SET expires_at = ?", datetime(2000, 1, 1))
    with pytest.raises(InvalidStatus) as refused:
        connect(legacy["url"], open_timeout=10).close()
    assert refused.value.response.status_code == 403  # refused, not failed
    assert "Traceback" not in cloud.log.read_text()


def test_remote_console_errors(cloud: Server, console_vm: dict, nova: Nova) -> None:
    vm = console_vm
    path = f"/servers/{vm['id']}/remote-consoles"

    def ask(protocol: str, kind: str, version: str = "2.6") -> httpx.Response:
        body = {"remote_console": {"protocol": protocol, "type": kind}}
        return nova.post(path, json=body, version=version)

    assert ask("serial", "serial").status_code == 200
    assert ask("serial", "serial", version="2.5").status_code == 404
    for protocol, kind in (("vnc", "novnc"), ("spice", "spice-html5"), ("rdp", "rdp-html5")):
        resp = ask(protocol, kind)
        assert resp.status_code == 400, resp.text
        assert f"Unavailable console type {kind}" in resp.json()["badRequest"]["message"]
    assert ask("serial", "novnc").status_code == 400
    assert ask("telnet", "serial").status_code == 400
    resp = nova.post(path, json={"remote_console": {"protocol": "serial"}}, version="2.6")
    assert resp.status_code == 400 and "badRequest" in resp.json()
    resp = nova.action(vm["id"], {"os-getSerialConsole": {"type": "novnc"}})
    assert resp.status_code == 400
    # not ACTIVE: 409
    other = nova.at("2.96").boot()
    assert nova.action(other["id"], {"os-resetState": {"state": "error"}}).status_code == 202
    resp = nova.post(
        f"/servers/{other['id']}/remote-consoles",
        json={"remote_console": {"protocol": "serial", "type": "serial"}},
        version="2.6",
    )
    assert resp.status_code == 409 and "conflictingRequest" in resp.json()
    nova.delete(f"/servers/{other['id']}")
    assert "Traceback" not in cloud.log.read_text()
