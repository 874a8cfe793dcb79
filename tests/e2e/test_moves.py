"""Moving a real QEMU guest between two hosts of one cloud, driven by the
openstack CLI: the all-in-one's host ``hosta`` and a
`stratus compute-agent --host hostb` process on the same data folder and
database.  The disk travels over the agent channel.

One guest, ``vm1``, and six boots in all, one at a time:

1. booted on hostb (its console comes from hostb's agent through the
   channel); its user data writes a note to its disk;
2. `server migrate --wait`: VERIFY_RESIZE on hosta, where it finds its note;
   `server resize confirm`: ACTIVE there, hostb's copy gone;
3. `server migrate --wait` (to hostb) and 4. `server resize revert`: ACTIVE on
   hosta again, its folder untouched;
5. `server resize --flavor m1.small --wait` + confirm (on hostb): the guest
   sees the new memory size and a disk grown to 20 GiB;
6. hostb's agent and guest are killed, the host is forced down, and
   `server evacuate` brings vm1 back on hosta (stopped, as from 2.95;
   `server start` boots it) with its note; hostb's
   agent, started again, deletes its stale copy.
"""

from __future__ import annotations

import json
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
import pytest

from tests import clirun
from tests.compute_agents import Agent, start_agent
from tests.conftest import BIN, Server, free_port, start_server
from tests.functional.compute.conftest import tiny_image

pytestmark = pytest.mark.skipif(
    shutil.which("qemu-system-x86_64") is None, reason="needs qemu-system-x86_64"
)

BOOT = 180
MARK = "moves-7e21"
SCRIPT = f"""#!/bin/sh
if [ -f /mnt/disk/moves.txt ]; then echo "{MARK} found: $(cat /mnt/disk/moves.txt)"; else
echo "written-{MARK}" > /mnt/disk/moves.txt; sync; echo "{MARK} wrote the note"; fi
echo "{MARK} $(grep MemTotal /proc/meminfo)"
"""
MEMTOTAL = re.compile(rf"{MARK} MemTotal:\s+(\d+) kB")
ENV = {
    "STRATUS_COMPUTE__SYNC_INTERVAL": "2",
    "STRATUS_COMPUTE__SHUTDOWN_TIMEOUT": "20",
    "STRATUS_COMPUTE__ACCEL": "tcg",
}


class TwoHosts:
    def __init__(self) -> None:
        # a short folder: the guests' QMP sockets live in it
        self.dir = Path(tempfile.mkdtemp(prefix="sm-", dir="/tmp"))
        self.server: Server = start_server(
            self.dir, port=free_port(), STRATUS_COMPUTE__HOST="hosta", **ENV
        )
        self.agent: Agent = start_agent(self.server, "hostb", **ENV)

    def instances(self, host: str) -> Path:
        return self.dir / "compute" / host / "instances"

    def osc(self, *args: str, timeout: float = 400) -> str:
        proc = clirun.run(
            [str(BIN / "openstack"), *args],
            env=self.server.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert proc.returncode == 0, f"openstack {' '.join(args)}: {proc.stdout}\n{proc.stderr}"
        return proc.stdout

    def show(self) -> dict[str, Any]:
        return json.loads(self.osc("server", "show", "vm1", "-f", "json"))  # type: ignore[no-any-return]

    def wait(self, status: str, timeout: float = BOOT) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            server = self.show()
            if server["status"] == status and not server.get("OS-EXT-STS:task_state"):
                return server
            assert server["status"] != "ERROR", server
            assert time.monotonic() < deadline, f"vm1 not {status}: {server['status']}"
            time.sleep(1)

    def wait_console(self, pattern: str, timeout: float = BOOT) -> str:
        deadline = time.monotonic() + timeout
        while True:
            out = self.osc("console", "log", "show", "vm1")
            if re.search(pattern, out):
                return out
            assert time.monotonic() < deadline, f"{pattern!r} not on the console:\n{out[-3000:]}"
            time.sleep(2)


def qemu_pids(uuid: str) -> list[int]:
    out = subprocess.run(["ps", "-eo", "pid=,args="], capture_output=True, text=True).stdout
    return [int(line.split()[0]) for line in out.splitlines() if uuid in line and "qemu" in line]


@pytest.fixture(scope="module")
def cloud() -> Iterator[TwoHosts]:
    c = TwoHosts()
    yield c
    c.agent.stop()
    for host in ("hosta", "hostb"):
        for d in c.instances(host).iterdir() if c.instances(host).exists() else []:
            for pid in qemu_pids(d.name):
                os.kill(pid, signal.SIGKILL)
    c.server.stop()
    shutil.rmtree(c.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def vm1(cloud: TwoHosts, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    script = tmp_path_factory.mktemp("user") / "script.sh"
    script.write_text(SCRIPT)
    tiny_image(cloud.server)
    server = json.loads(
        cloud.osc(
            "server", "create", "--image", "tiny", "--flavor", "m1.tiny", "--availability-zone", "nova:hostb",
            "--user-data", str(script), "--wait", "vm1", "-f", "json",
        )
    )  # fmt: skip
    # hostb's agent is a process of its own: its console comes over the channel.
    cloud.wait_console(rf"{MARK} wrote the note")
    return server  # type: ignore[no-any-return]


def migration_statuses(cloud: TwoHosts) -> list[str]:
    rows = json.loads(cloud.osc("server", "migration", "list", "--server", "vm1", "-f", "json"))
    return [row["Status"] for row in rows]


def test_migrate_then_confirm(cloud: TwoHosts, vm1: dict[str, Any]) -> None:
    assert cloud.show()["OS-EXT-SRV-ATTR:host"] == "hostb"
    cloud.osc("server", "migrate", "--wait", "vm1")
    moved = cloud.wait("VERIFY_RESIZE")
    assert moved["OS-EXT-SRV-ATTR:host"] == "hosta"
    console = cloud.wait_console(rf"{MARK} found: written-{MARK}")
    assert "wrote the note" not in console  # a fresh console on hosta, booted from the moved disk
    # hostb keeps its copy, set aside, until the move is confirmed.
    assert (cloud.dir / "compute" / "hostb" / "moves" / vm1["id"] / "disk.qcow2").is_file()
    cloud.osc("server", "resize", "confirm", "vm1")
    done = cloud.wait("ACTIVE")
    assert done["OS-EXT-SRV-ATTR:host"] == "hosta"
    assert qemu_pids(vm1["id"])
    assert not (cloud.dir / "compute" / "hostb" / "moves" / vm1["id"]).exists()
    assert not (cloud.instances("hostb") / vm1["id"]).exists()
    assert migration_statuses(cloud) == ["confirmed"]


def test_migrate_then_revert(cloud: TwoHosts, vm1: dict[str, Any]) -> None:
    cloud.osc("server", "migrate", "--wait", "vm1")
    moved = cloud.wait("VERIFY_RESIZE")
    assert moved["OS-EXT-SRV-ATTR:host"] == "hostb"
    cloud.wait_console(rf"{MARK} found: written-{MARK}")
    assert (cloud.instances("hostb") / vm1["id"] / "disk.qcow2").is_file()
    cloud.osc("server", "resize", "revert", "vm1")
    back = cloud.wait("ACTIVE")
    assert back["OS-EXT-SRV-ATTR:host"] == "hosta"
    assert not (cloud.instances("hostb") / vm1["id"]).exists()
    # hosta's own folder came back untouched: its console log goes on.
    out = cloud.wait_console(rf"{MARK} found[\s\S]*{MARK} found[\s\S]*{MARK} MemTotal")
    assert out.count(f"{MARK} found: written-{MARK}") >= 2
    assert migration_statuses(cloud) == ["reverted", "confirmed"]


def test_resize_then_confirm_shows_the_new_memory(cloud: TwoHosts, vm1: dict[str, Any]) -> None:
    before = [int(x) for x in MEMTOTAL.findall(cloud.osc("console", "log", "show", "vm1"))]
    assert before and before[-1] < 300 * 1024  # m1.tiny: 256 MiB
    cloud.osc("server", "resize", "--flavor", "m1.small", "--wait", "vm1")
    resized = cloud.wait("VERIFY_RESIZE")
    assert resized["OS-EXT-SRV-ATTR:host"] == "hostb"  # never the own host by default
    cloud.osc("server", "resize", "confirm", "vm1")
    done = cloud.wait("ACTIVE")
    assert "m1.small" in json.dumps(done["flavor"])
    out = cloud.wait_console(rf"{MARK} MemTotal:\s+\d+ kB")
    total = int(MEMTOTAL.findall(out)[-1])
    assert total > 1500 * 1024, out[-2000:]  # m1.small: 2048 MiB
    assert f"{MARK} found: written-{MARK}" in out
    # The disk grew to the new flavor's 20 GiB.
    disk = cloud.instances("hostb") / vm1["id"] / "disk.qcow2"
    info = subprocess.run(
        ["qemu-img", "info", "-U", "--output=json", str(disk)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(info.stdout)["virtual-size"] == 20 * 2**30


def test_evacuate_keeps_the_data(cloud: TwoHosts, vm1: dict[str, Any]) -> None:
    assert cloud.show()["OS-EXT-SRV-ATTR:host"] == "hostb"
    # hostb fails: its agent dies, and so does the guest (fenced).
    cloud.agent.process.kill()
    cloud.agent.process.wait()
    for pid in qemu_pids(vm1["id"]):
        os.kill(pid, signal.SIGKILL)
    cloud.osc(
        "--os-compute-api-version",
        "2.53",
        "compute",
        "service",
        "set",
        "--down",
        "hostb",
        "nova-compute",
    )
    # (no --wait: this openstackclient compares "active" with "ACTIVE" and waits forever)
    cloud.osc("server", "evacuate", "vm1")
    # The client speaks a recent microversion: from 2.95 an evacuated server
    # arrives stopped, and its owner starts it.
    stopped = cloud.wait("SHUTOFF")
    assert stopped["OS-EXT-SRV-ATTR:host"] == "hosta"
    cloud.osc("server", "start", "vm1")
    done = cloud.wait("ACTIVE")
    assert done["OS-EXT-SRV-ATTR:host"] == "hosta"
    out = cloud.wait_console(rf"{MARK} found: written-{MARK}[\s\S]*{MARK} MemTotal")
    assert int(MEMTOTAL.findall(out)[-1]) > 1500 * 1024  # still m1.small
    assert migration_statuses(cloud)[0] == "done"
    # hostb comes back: its stale copy is deleted at start.
    cloud.osc(
        "--os-compute-api-version",
        "2.53",
        "compute",
        "service",
        "set",
        "--up",
        "hostb",
        "nova-compute",
    )
    cloud.agent = start_agent(cloud.server, "hostb", **ENV)
    deadline = time.monotonic() + 60
    while migration_statuses(cloud)[0] != "completed":
        assert time.monotonic() < deadline, migration_statuses(cloud)
        time.sleep(1)
    assert not (cloud.instances("hostb") / vm1["id"]).exists()
    assert qemu_pids(vm1["id"])


def test_console_of_a_separate_agent_needs_the_service_token(cloud: TwoHosts) -> None:
    import sqlite3

    with sqlite3.connect(cloud.dir / "stratus.db") as db:
        (url,) = db.execute("SELECT agent_url FROM compute_host WHERE host='hostb'").fetchone()
    assert httpx.get(f"{url}/servers/anything/console").status_code == 401
