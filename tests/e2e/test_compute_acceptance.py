"""Compute acceptance with real QEMU guests, the way a new user drives it with
the openstack CLI (and openstacksdk).

At most two guests are booted in the whole module, one at a time: ``vm1``
goes through its whole life (console, persistence across stop/start, reboots,
pause and suspend, a killed qemu, a killed `stratus up`, delete); the
openstacksdk test boots the second.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openstack
import pytest

from tests import clirun
from tests.conftest import BIN, Server, free_port, start_server
from tests.functional.compute.conftest import tiny_image

pytestmark = pytest.mark.skipif(shutil.which("qemu-system-x86_64") is None, reason="needs qemu-system-x86_64")

HOST = "e2ehost"
BOOT = 120
MARK = "acceptance-5c1d"
SCRIPT = f"""#!/bin/sh
echo "{MARK} user data ran"
if [ -f /mnt/disk/note.txt ]; then echo "{MARK} found: $(cat /mnt/disk/note.txt)"; fi
n=$(cat /mnt/disk/count 2>/dev/null || echo 0)
n=$((n+1))
echo $n > /mnt/disk/count
echo "persisted-{MARK}" > /mnt/disk/note.txt
sync
echo "{MARK} boot count $n"
(i=0; while true; do i=$((i+1)); echo "tick $i"; sleep 1; done) &
"""
TICK = re.compile(r"^tick (\d+)\s*$", re.M)
BOOTS = re.compile(rf"{MARK} boot count (\d+)")


class Cloud:
    def __init__(self, factory: pytest.TempPathFactory) -> None:
        # a short folder: the guests' QMP sockets live in it (see test_long_data_dir_path)
        self.dir = Path(tempfile.mkdtemp(prefix="sa-", dir="/tmp"))
        self.port = free_port()
        self.env = {
            "STRATUS_COMPUTE__SYNC_INTERVAL": "2",
            "STRATUS_COMPUTE__HOST": HOST,
            "STRATUS_COMPUTE__SHUTDOWN_TIMEOUT": "20",
        }
        self.server = self.start()

    def start(self) -> Server:
        self.server = start_server(self.dir, port=self.port, **self.env)
        wait_host(self.server)
        return self.server

    @property
    def instances(self) -> Path:
        return self.dir / "compute" / HOST / "instances"

    def osc(self, *args: str, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        proc = clirun.run(
            [str(BIN / "openstack"), *args], env=self.server.env(), capture_output=True, text=True, timeout=timeout
        )
        if check:
            assert proc.returncode == 0, f"openstack {' '.join(args)}: {proc.stdout}\n{proc.stderr}"
        return proc

    def show(self, name: str) -> dict[str, Any]:
        token = self.server.admin_token()
        resp = httpx.get(
            f"{self.server.url}/compute/v2.1/servers/detail",
            params={"name": f"^{name}$"},
            headers={"X-Auth-Token": token, "OpenStack-API-Version": "compute 2.96"},
        )
        assert resp.status_code == 200, resp.text
        (server,) = resp.json()["servers"]
        return server  # type: ignore[no-any-return]

    def wait(self, name: str, status: str, timeout: float = BOOT) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            server = self.show(name)
            if server["status"] == status and server["OS-EXT-STS:task_state"] is None:
                return server
            assert server["status"] != "ERROR" or status == "ERROR", server
            assert time.monotonic() < deadline, f"{name} not {status}: {server['status']}"
            time.sleep(0.5)

    def console(self, name: str) -> str:
        return self.osc("console", "log", "show", name).stdout

    def wait_console(self, name: str, pattern: str, timeout: float = BOOT, after: int = 0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            out = self.console(name)
            if re.search(pattern, out[after:]):
                return out
            assert time.monotonic() < deadline, f"{pattern!r} not on the console:\n{out[-3000:]}"
            time.sleep(1)


def wait_host(srv: Server, timeout: float = 60) -> None:
    """`stratus up` answers before its compute agent has registered its host."""
    token = srv.admin_token()
    deadline = time.monotonic() + timeout
    while True:
        resp = httpx.get(f"{srv.url}/compute/v2.1/os-services", headers={"X-Auth-Token": token})
        if resp.status_code == 200 and any(s["state"] == "up" for s in resp.json()["services"]):
            return
        assert time.monotonic() < deadline, "the compute host never registered"
        time.sleep(0.3)


def qemu_pids(uuid: str) -> list[int]:
    out = subprocess.run(["ps", "-eo", "pid=,args="], capture_output=True, text=True).stdout
    return [int(line.split()[0]) for line in out.splitlines() if uuid in line and "qemu" in line]


def wait_no_process(uuid: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while qemu_pids(uuid):
        assert time.monotonic() < deadline, f"qemu for {uuid} still running"
        time.sleep(0.3)


def ticks(text: str) -> list[int]:
    return [int(t) for t in TICK.findall(text)]


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    c = Cloud(tmp_path_factory)
    yield c
    for pid in [p for d in (c.instances.iterdir() if c.instances.exists() else []) for p in qemu_pids(d.name)]:
        os.kill(pid, signal.SIGKILL)
    c.server.stop()
    shutil.rmtree(c.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def vm1(cloud: Cloud, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    d = tmp_path_factory.mktemp("user")
    cloud.osc("keypair", "create", "--private-key", str(d / "k.pem"), "k")
    script = d / "script.sh"
    script.write_text(SCRIPT)
    import json

    tiny_image(cloud.server)
    proc = cloud.osc(
        "server", "create", "--image", "tiny", "--flavor", "m1.tiny", "--key-name", "k",
        "--user-data", str(script), "--wait", "vm1", "-f", "json", check=False,
    )
    assert proc.returncode == 0, f"{proc.stderr}\n{cloud.show('vm1').get('fault')}"
    return json.loads(proc.stdout)  # type: ignore[no-any-return]


def test_create_and_console(cloud: Cloud, vm1: dict[str, Any]) -> None:
    assert vm1["status"] == "ACTIVE"
    out = cloud.wait_console("vm1", rf"{MARK} boot count 1")
    assert f"{MARK} user data ran" in out
    assert f"{MARK} found" not in out  # first boot: nothing on the disk yet
    cloud.wait_console("vm1", r"stratus-tiny: ready")
    assert qemu_pids(vm1["id"]), "no qemu process for the server"


def test_show(cloud: Cloud, vm1: dict[str, Any]) -> None:
    import json

    shown = json.loads(cloud.osc("server", "show", "vm1", "-f", "json").stdout)
    assert shown["addresses"]
    assert shown["OS-EXT-SRV-ATTR:host"] == HOST
    assert shown["OS-EXT-STS:power_state"] in ("Running", 1)
    table = cloud.osc("server", "show", "vm1").stdout
    assert re.search(r"power_state\s*\|\s*Running", table), table


@pytest.mark.parametrize("down, up, state", [("pause", "unpause", "PAUSED"), ("suspend", "resume", "SUSPENDED")])
def test_pause_suspend_keep_uptime(cloud: Cloud, vm1: dict[str, Any], down: str, up: str, state: str) -> None:
    cloud.wait_console("vm1", r"tick \d+")
    pid = qemu_pids(vm1["id"])
    cloud.osc("server", down, "vm1")
    cloud.wait("vm1", state)
    before = max(ticks(cloud.console("vm1")))
    time.sleep(3)
    assert max(ticks(cloud.console("vm1"))) <= before + 1, "the guest kept running while paused"
    cloud.osc("server", up, "vm1")
    cloud.wait("vm1", "ACTIVE")
    deadline = time.monotonic() + 60
    while max(ticks(cloud.console("vm1"))) < before + 2:
        assert time.monotonic() < deadline, "the counter did not continue"
        time.sleep(1)
    counted = ticks(cloud.console("vm1"))
    assert counted.count(1) == 1, "the guest restarted (the counter began again)"
    if down == "pause":
        assert qemu_pids(vm1["id"]) == pid  # same process


def test_stop_start_keeps_disk(cloud: Cloud, vm1: dict[str, Any]) -> None:
    boots = max(int(n) for n in BOOTS.findall(cloud.console("vm1")))
    cloud.osc("server", "stop", "vm1")
    shown = cloud.wait("vm1", "SHUTOFF", timeout=60)
    assert shown["OS-EXT-STS:power_state"] == 4
    wait_no_process(vm1["id"])
    cloud.osc("server", "start", "vm1")
    cloud.wait("vm1", "ACTIVE")
    out = cloud.wait_console("vm1", rf"{MARK} boot count {boots + 1}")
    assert f"{MARK} found: persisted-{MARK}" in out
    assert len(qemu_pids(vm1["id"])) == 1


@pytest.mark.parametrize("hard", [False, True], ids=["soft", "hard"])
def test_reboot(cloud: Cloud, vm1: dict[str, Any], hard: bool) -> None:
    boots = max(int(n) for n in BOOTS.findall(cloud.console("vm1")))
    cloud.osc("server", "reboot", *(["--hard"] if hard else []), "--wait", "vm1")
    assert cloud.show("vm1")["status"] == "ACTIVE"
    cloud.wait_console("vm1", rf"{MARK} boot count {boots + 1}")
    assert len(qemu_pids(vm1["id"])) == 1


def test_killed_qemu_is_noticed(cloud: Cloud, vm1: dict[str, Any]) -> None:
    (pid,) = qemu_pids(vm1["id"])
    os.kill(pid, signal.SIGKILL)
    start = time.monotonic()
    shown = cloud.wait("vm1", "SHUTOFF", timeout=15)
    assert time.monotonic() - start < 2 * 2 + 5, "the power sync took longer than its interval"
    assert shown["OS-EXT-STS:power_state"] in (4, 6)
    cloud.osc("server", "start", "vm1")
    cloud.wait("vm1", "ACTIVE")
    cloud.wait_console("vm1", r"stratus-tiny: ready")
    assert len(qemu_pids(vm1["id"])) == 1


def test_killed_stratus_keeps_guest(cloud: Cloud, vm1: dict[str, Any]) -> None:
    (pid,) = qemu_pids(vm1["id"])
    cloud.server.stop(signal.SIGKILL)
    time.sleep(1)
    assert qemu_pids(vm1["id"]) == [pid], "qemu died with stratus"
    cloud.start()
    time.sleep(5)  # a few sync intervals
    shown = cloud.wait("vm1", "ACTIVE", timeout=30)
    assert shown["OS-EXT-STS:power_state"] == 1
    assert qemu_pids(vm1["id"]) == [pid], "the guest was restarted"
    cloud.osc("server", "stop", "vm1")
    cloud.wait("vm1", "SHUTOFF", timeout=60)
    wait_no_process(vm1["id"])


def test_delete_leaves_nothing(cloud: Cloud, vm1: dict[str, Any]) -> None:
    folder = cloud.instances / vm1["id"]
    assert folder.is_dir()
    cloud.osc("server", "start", "vm1")
    cloud.wait("vm1", "ACTIVE")
    assert qemu_pids(vm1["id"])
    cloud.osc("server", "delete", "--wait", "vm1")
    assert cloud.osc("server", "show", "vm1", check=False).returncode != 0
    wait_no_process(vm1["id"], timeout=10)
    deadline = time.monotonic() + 10
    while folder.exists():
        assert time.monotonic() < deadline, f"{folder} left behind: {list(folder.iterdir())}"
        time.sleep(0.3)


def test_sdk_create_delete(cloud: Cloud) -> None:
    srv = cloud.server
    conn = openstack.connect(
        auth_url=srv.auth_url, username="admin", password=srv.admin_password, project_name="admin",
        user_domain_name="Default", project_domain_name="Default", region_name="RegionOne",
    )
    server = conn.create_server("sdkvm", image="tiny", flavor="m1.tiny", wait=True, timeout=BOOT)
    assert server.status == "ACTIVE"
    assert qemu_pids(server.id)
    assert conn.delete_server(server.id, wait=True, timeout=BOOT)
    wait_no_process(server.id, timeout=10)
    assert not (cloud.instances / server.id).exists()


def test_long_data_dir_path(tmp_path_factory: pytest.TempPathFactory) -> None:
    """A data folder at pytest's ordinary depth (about 40 characters) must work:
    the QMP socket path (instances/<uuid>/qmp.sock) exceeds the 107-byte unix
    socket limit, and the server goes to ERROR instead of booting."""
    d = tmp_path_factory.mktemp("a-data-folder-of-ordinary-depth")
    srv = start_server(d, STRATUS_COMPUTE__HOST=HOST)
    try:
        wait_host(srv)
        image = tiny_image(srv)
        token = srv.admin_token()
        headers = {"X-Auth-Token": token, "OpenStack-API-Version": "compute 2.96"}
        base = f"{srv.url}/compute/v2.1"
        body = {"server": {"name": "deep", "imageRef": image, "flavorRef": "1", "networks": "none"}}
        resp = httpx.post(f"{base}/servers", json=body, headers=headers)
        assert resp.status_code == 202, resp.text
        sid = resp.json()["server"]["id"]
        deadline = time.monotonic() + BOOT
        while True:
            server = httpx.get(f"{base}/servers/{sid}", headers=headers).json()["server"]
            if server["status"] in ("ACTIVE", "ERROR"):
                break
            assert time.monotonic() < deadline
            time.sleep(0.5)
        httpx.delete(f"{base}/servers/{sid}", headers=headers)
        assert server["status"] == "ACTIVE", server.get("fault")
    finally:
        srv.stop()
