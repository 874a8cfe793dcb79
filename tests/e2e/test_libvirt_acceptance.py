"""Acceptance with the libvirt driver: `stratus up` configured with
``STRATUS_COMPUTE__DRIVER=libvirt`` on ``qemu:///system`` (libvirtd started
by the tests when it is not running), driven by the real `openstack` CLI.

One guest boots twice (create, start after stop) in the whole module; a
snapshot of it is taken live through `openstack server image create`.
"""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import free_port
from tests.e2e import libvirtd
from tests.e2e.test_compute_acceptance import Cloud
from tests.functional.compute.conftest import tiny_image

pytestmark = pytest.mark.skipif(
    shutil.which("qemu-system-x86_64") is None, reason="needs qemu-system-x86_64"
)

HOST = "lvhost"
BOOT = 120
MARK = "libvirt-acc-7e21"
SCRIPT = f"""#!/bin/sh
if [ -f /mnt/disk/lv-note.txt ]; then echo "{MARK} found: $(cat /mnt/disk/lv-note.txt)"; fi
n=$(cat /mnt/disk/lv-count 2>/dev/null || echo 0)
n=$((n+1))
echo $n > /mnt/disk/lv-count
echo "kept-{MARK}" > /mnt/disk/lv-note.txt
sync
echo "{MARK} boot count $n"
"""


class LibvirtCloud(Cloud):
    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="slv-", dir="/tmp"))
        self.port = free_port()
        self.env = {
            "STRATUS_COMPUTE__DRIVER": "libvirt",
            "STRATUS_COMPUTE__LIBVIRT_URI": libvirtd.URI,
            "STRATUS_COMPUTE__SYNC_INTERVAL": "2",
            "STRATUS_COMPUTE__HOST": HOST,
            "STRATUS_COMPUTE__SHUTDOWN_TIMEOUT": "30",
        }
        self.server = self.start()

    @property
    def instances(self) -> Path:
        return self.dir / "compute" / HOST / "instances"


def virsh(*args: str) -> str:
    return subprocess.run(
        ["virsh", "-c", libvirtd.URI, *args], capture_output=True, text=True, check=False
    ).stdout


def domain_state(uuid: str) -> str:
    """What libvirt itself says: 'running', 'shut off', 'paused', or '' (no domain)."""
    return virsh("domstate", uuid).strip()


def qemu_pids(uuid: str) -> list[int]:
    out = subprocess.run(["ps", "-ww", "-eo", "pid=,args="], capture_output=True, text=True).stdout
    return [
        int(line.split()[0]) for line in out.splitlines() if uuid in line and "qemu-system" in line
    ]


@pytest.fixture(scope="module")
def cloud() -> Iterator[LibvirtCloud]:
    try:
        libvirtd.ensure_libvirtd()
    except libvirtd.Unavailable as exc:
        pytest.skip(f"libvirt is unavailable: {exc}")
    if shutil.which("virsh") is None:
        pytest.skip("needs virsh (libvirt-clients)")
    try:
        c = LibvirtCloud()
        yield c
        for folder in c.instances.iterdir() if c.instances.exists() else []:
            virsh("destroy", folder.name)
            virsh("undefine", "--managed-save", folder.name)
        c.server.stop()
        shutil.rmtree(c.dir, ignore_errors=True)
    finally:
        libvirtd.stop_started()


@pytest.fixture(scope="module")
def vm1(cloud: LibvirtCloud, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    script = tmp_path_factory.mktemp("lv-user") / "script.sh"
    script.write_text(SCRIPT)
    tiny_image(cloud.server)
    proc = cloud.osc(
        "server", "create", "--image", "tiny", "--flavor", "m1.tiny",
        "--user-data", str(script), "--wait", "vm1", "-f", "json", check=False,
    )  # fmt: skip
    assert proc.returncode == 0, f"{proc.stderr}\n{cloud.show('vm1').get('fault')}"
    return json.loads(proc.stdout)  # type: ignore[no-any-return]


def test_create_runs_a_libvirt_domain(cloud: LibvirtCloud, vm1: dict[str, Any]) -> None:
    assert vm1["status"] == "ACTIVE"
    assert domain_state(vm1["id"]) == "running"
    assert "<domain type='qemu'" in virsh("dumpxml", vm1["id"])  # TCG
    cloud.wait_console("vm1", rf"{MARK} boot count 1")
    hypervisors = json.loads(cloud.osc("hypervisor", "list", "-f", "json").stdout)
    assert [h["Hypervisor Type"] for h in hypervisors] == ["QEMU"]


def test_restarted_stratus_adopts_the_domain(cloud: LibvirtCloud, vm1: dict[str, Any]) -> None:
    pids = qemu_pids(vm1["id"])
    assert len(pids) == 1
    cloud.server.stop(signal.SIGKILL)
    cloud.start()
    time.sleep(5)  # a couple of power syncs
    assert cloud.wait("vm1", "ACTIVE", timeout=30)["OS-EXT-STS:power_state"] == 1
    assert qemu_pids(vm1["id"]) == pids, "the guest was restarted"


def test_pause_and_unpause(cloud: LibvirtCloud, vm1: dict[str, Any]) -> None:
    cloud.osc("server", "pause", "vm1")
    cloud.wait("vm1", "PAUSED")
    assert domain_state(vm1["id"]) == "paused"
    cloud.osc("server", "unpause", "vm1")
    cloud.wait("vm1", "ACTIVE")
    assert domain_state(vm1["id"]) == "running"


def test_stop_and_start_keep_the_disk(cloud: LibvirtCloud, vm1: dict[str, Any]) -> None:
    cloud.osc("server", "stop", "vm1")
    shown = cloud.wait("vm1", "SHUTOFF", timeout=90)
    assert shown["OS-EXT-STS:power_state"] == 4
    assert domain_state(vm1["id"]) == "shut off"
    assert not qemu_pids(vm1["id"])
    cloud.osc("server", "start", "vm1")
    cloud.wait("vm1", "ACTIVE")
    assert domain_state(vm1["id"]) == "running"
    out = cloud.wait_console("vm1", rf"{MARK} boot count 2")
    assert f"{MARK} found: kept-{MARK}" in out  # what the first boot wrote


def test_snapshot_through_the_cli_holds_the_guests_data(
    cloud: LibvirtCloud, vm1: dict[str, Any], tmp_path: Path
) -> None:
    pids = qemu_pids(vm1["id"])
    proc = cloud.osc(
        "server", "image", "create", "--wait", "--name", "lv-snap", "vm1", "-f", "json"
    )  # fmt: skip
    image = json.loads(proc.stdout)
    shown = json.loads(cloud.osc("image", "show", image["id"], "-f", "json").stdout)
    assert shown["status"] == "active" and shown["disk_format"] == "qcow2"
    assert shown["properties"]["image_type"] == "snapshot"
    assert shown["properties"]["instance_uuid"] == vm1["id"]
    assert cloud.wait("vm1", "ACTIVE")["OS-EXT-STS:power_state"] == 1
    assert qemu_pids(vm1["id"]) == pids  # taken live: the same guest process runs on
    saved = tmp_path / "lv-snap.qcow2"
    cloud.osc("image", "save", "--file", str(saved), image["id"])
    raw = tmp_path / "lv-snap.raw"
    subprocess.run(["qemu-img", "convert", "-O", "raw", str(saved), str(raw)], check=True)
    note = subprocess.run(
        ["mtype", "-i", f"{raw}@@1048576", "::/lv-note.txt"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert note.strip() == f"kept-{MARK}"  # what the guest wrote before the snapshot
    cloud.osc("image", "delete", image["id"])


def test_delete_undefines_the_domain(cloud: LibvirtCloud, vm1: dict[str, Any]) -> None:
    folder = cloud.instances / vm1["id"]
    assert folder.is_dir()
    cloud.osc("server", "delete", "--wait", "vm1")
    assert cloud.osc("server", "show", "vm1", check=False).returncode != 0
    assert domain_state(vm1["id"]) == ""
    assert not re.search(vm1["id"], virsh("list", "--all", "--uuid"))
    assert not qemu_pids(vm1["id"])
    assert not folder.exists()
