"""Volumes in real QEMU guests, driven by the openstack CLI as a user would.

Two guests of the tiny image, one flow: a volume is attached to running
vm1 (the guest's kernel announces ``disk added vdb``), vm1 writes to it,
it is detached (``disk removed vdb``: the guest let it go), attached to
vm2, booted from a volume made from the image (``--boot-from-volume``),
which reads vm1's words back; vm2 is stopped and started with the volume
attached and finds it again; deleting vm2 gives both volumes back.

The attached volume is grown to 2 GiB (``volume set --size``, Cinder
3.42) and vm1 sees its disk's new size without a reboot; then it is swapped
for another volume (Nova's swap: QEMU mirrors the disk and pivots), and
vm2 reads vm1's words from that one.

The guests' user_data watches /dev/vdb: when a disk appears it prints the
first bytes it holds, and writes its own name there when it was empty; it
prints the disk's size (in 512-byte sectors) whenever that changes.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.test_compute_acceptance import BOOT, Cloud, qemu_pids
from tests.functional.compute.conftest import tiny_image

pytestmark = pytest.mark.skipif(
    shutil.which("qemu-system-x86_64") is None, reason="needs qemu-system-x86_64"
)

GIB = 1 << 30
SCRIPT = r"""#!/bin/sh
(
while :; do
    if [ -b /dev/vdb ] && [ ! -f /tmp/seen ]; then
        touch /tmp/seen
        got=$(head -c 64 /dev/vdb | tr -d '\000')
        echo "vole2e: vdb holds [$got]"
        if [ -z "$got" ]; then
            printf 'written-by-%s' "$(hostname)" > /tmp/word
            dd if=/tmp/word of=/dev/vdb conv=fsync 2>/dev/null
            echo "vole2e: vdb written"
        fi
    fi
    size=$(cat /sys/block/vdb/size 2>/dev/null)
    if [ -n "$size" ] && [ "$size" != "$(cat /tmp/size 2>/dev/null)" ]; then
        echo "$size" > /tmp/size
        echo "vole2e: vdb size $size"
    fi
    [ -b /dev/vdb ] || rm -f /tmp/seen /tmp/size
    sleep 0.3
done
) > /dev/ttyS0 2>&1 &
"""


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    c = Cloud(tmp_path_factory)
    yield c
    for d in c.instances.iterdir() if c.instances.exists() else []:
        for pid in qemu_pids(d.name):
            os.kill(pid, signal.SIGKILL)
    c.server.stop()
    shutil.rmtree(c.dir, ignore_errors=True)


def boot(cloud: Cloud, name: str, script: str, *extra: str) -> dict[str, Any]:
    tiny_image(cloud.server)
    proc = cloud.osc(
        "server", "create", "--image", "tiny", "--flavor", "m1.tiny", "--user-data", script,
        *extra, "--wait", name, "-f", "json", check=False,
    )  # fmt: skip
    assert proc.returncode == 0, f"{proc.stderr}\n{cloud.show(name).get('fault')}"
    return json.loads(proc.stdout)  # type: ignore[no-any-return]


def volume_status(cloud: Cloud, name: str) -> str:
    return str(json.loads(cloud.osc("volume", "show", name, "-f", "json").stdout)["status"])


def wait_volume(cloud: Cloud, name: str, status: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while (current := volume_status(cloud, name)) != status:
        assert current not in ("error", "error_deleting"), current
        assert time.monotonic() < deadline, f"volume {name} is {current}, not {status}"
        time.sleep(0.3)


def swap(cloud: Cloud, server: str, old: str, new: str) -> None:
    """Nova's swap volume (no openstack command for it): an admin's PUT."""
    ids = {
        n: json.loads(cloud.osc("volume", "show", n, "-f", "json").stdout)["id"] for n in (old, new)
    }
    resp = httpx.put(
        f"{cloud.server.url}/compute/v2.1/servers/{cloud.show(server)['id']}"
        f"/os-volume_attachments/{ids[old]}",
        json={"volumeAttachment": {"volumeId": ids[new]}},
        headers={"X-Auth-Token": cloud.server.admin_token()},
    )
    assert resp.status_code == 202, resp.text


def test_attach_write_detach_attach_read(
    cloud: Cloud, tmp_path_factory: pytest.TempPathFactory
) -> None:
    script = tmp_path_factory.mktemp("vol") / "script.sh"
    script.write_text(SCRIPT)
    boot(cloud, "vm1", str(script))
    cloud.wait_console("vm1", r"stratus-tiny: ready", BOOT)
    cloud.osc("volume", "create", "--size", "1", "data")
    wait_volume(cloud, "data", "available")

    cloud.osc("server", "add", "volume", "vm1", "data")
    wait_volume(cloud, "data", "in-use")
    out = cloud.wait_console("vm1", r"disk added vdb", 60)
    out = cloud.wait_console("vm1", r"vole2e: vdb written", 60)
    assert "vole2e: vdb holds []" in out
    listed = json.loads(cloud.osc("server", "volume", "list", "vm1", "-f", "json").stdout)
    assert [v["Device"] for v in listed] == ["/dev/vdb"]
    cloud.wait_console("vm1", rf"vole2e: vdb size {GIB // 512}\b", 30)

    # Grown while attached: the running guest sees the new size.
    cloud.osc("--os-volume-api-version", "3.42", "volume", "set", "--size", "2", "data")
    cloud.wait_console("vm1", rf"vole2e: vdb size {2 * GIB // 512}\b", 60)
    wait_volume(cloud, "data", "in-use")

    # Swapped for another volume while it runs: the guest keeps its disk, now on data2.
    cloud.osc("volume", "create", "--size", "2", "data2")
    wait_volume(cloud, "data2", "available")
    swap(cloud, "vm1", "data", "data2")
    wait_volume(cloud, "data", "available")
    wait_volume(cloud, "data2", "in-use")

    mark = len(cloud.console("vm1"))
    cloud.osc("server", "remove", "volume", "vm1", "data2")
    wait_volume(cloud, "data2", "available")
    cloud.wait_console("vm1", r"disk removed vdb", 60, after=mark)

    # vm2 boots from a volume made from the tiny image: its root disk is that volume.
    boot(cloud, "vm2", str(script), "--boot-from-volume", "1")
    cloud.wait_console("vm2", r"stratus-tiny: ready", BOOT)
    (root,) = json.loads(cloud.osc("server", "volume", "list", "vm2", "-f", "json").stdout)
    assert root["Device"] == "/dev/vda"
    assert volume_status(cloud, root["Volume ID"]) == "in-use"
    assert cloud.show("vm2")["image"] == ""
    cloud.osc("server", "add", "volume", "vm2", "data2")  # what vm1 wrote was copied over
    wait_volume(cloud, "data2", "in-use")
    out = cloud.wait_console("vm2", r"vole2e: vdb holds \[written-by-vm1\]", 60)
    assert "vole2e: vdb written" not in out

    # Stopped and started, the guest gets its volume back.
    cloud.osc("server", "stop", "vm2")
    cloud.wait("vm2", "SHUTOFF")
    mark = len(cloud.console("vm2"))
    cloud.osc("server", "start", "vm2")
    cloud.wait("vm2", "ACTIVE")
    cloud.wait_console("vm2", r"vole2e: vdb holds \[written-by-vm1\]", BOOT, after=mark)
    assert re.search(r"\bvdb\b", cloud.console("vm2")[mark:])

    # Deleting the server gives the volumes back, their data kept.
    cloud.osc("server", "delete", "--wait", "vm2")
    wait_volume(cloud, "data2", "available")
    wait_volume(cloud, root["Volume ID"], "available")
    cloud.osc("server", "delete", "--wait", "vm1")
