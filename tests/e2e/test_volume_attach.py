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

Last, a volume kept by a second volume host (`stratus volume-agent --host
far`, backend ``farscsi`` with ``target_protocol = "iscsi"``, chosen by a
volume type's ``volume_backend_name``) is hot-plugged into vm1 over iSCSI
(tgt, CHAP; QEMU's own iSCSI client): the guest writes its name there, the
bytes land in far's file, the volume grown to 2 GiB is seen by the guest,
and the detach removes the target.

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
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import BIN, free_port
from tests.e2e.test_compute_acceptance import BOOT, Cloud, qemu_pids
from tests.functional.compute.conftest import tiny_image
from tests.functional.volume.conftest import end_exports

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
    end_exports(c.dir)
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
    iscsi_volume_from_a_second_host(cloud)
    cloud.osc("server", "delete", "--wait", "vm1")


def iscsi_volume_from_a_second_host(cloud: Cloud) -> None:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("STRATUS_")}
    environ.update(
        STRATUS_SERVER__PORT=str(cloud.port), STRATUS_VOLUME__BACKEND_NAME="farscsi",
        STRATUS_VOLUME__TARGET_PROTOCOL="iscsi", STRATUS_VOLUME__FILE_FORMAT="raw",
        STRATUS_VOLUME__TARGET_PORT=str(free_port()),
    )  # fmt: skip
    log = cloud.dir / "volume-agent-far.log"
    agent = subprocess.Popen(
        [str(BIN / "stratus"), "volume-agent", "--data-dir", str(cloud.dir), "--host", "far"],
        stdout=log.open("ab"), stderr=subprocess.STDOUT, env=environ,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while "far@farscsi" not in cloud.osc("volume", "service", "list", "-f", "value").stdout:
            assert agent.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.5)
        cloud.osc("volume", "type", "create", "--property", "volume_backend_name=farscsi", "iscsi")
        cloud.osc("volume", "create", "--size", "1", "--type", "iscsi", "far1")
        wait_volume(cloud, "far1", "available")
        shown = json.loads(cloud.osc("volume", "show", "far1", "-f", "json").stdout)
        assert shown["os-vol-host-attr:host"] == "far@farscsi#farscsi"
        mark = len(cloud.console("vm1"))
        cloud.osc("server", "add", "volume", "vm1", "far1")
        wait_volume(cloud, "far1", "in-use")
        out = cloud.wait_console("vm1", r"vole2e: vdb written", 60, after=mark)
        assert "vole2e: vdb holds []" in out[mark:]
        # The guest's QEMU reached it over iSCSI; its words are in far's file.
        (att,) = json.loads(cloud.osc("volume", "show", "far1", "-f", "json").stdout)["attachments"]
        project = cloud.osc("token", "issue", "-f", "value", "-c", "project_id").stdout.strip()
        resp = httpx.get(
            f"{cloud.server.url}/volume/v3/{project}/attachments/{att['attachment_id']}",
            headers={"X-Auth-Token": cloud.server.admin_token(), "OpenStack-API-Version": "volume 3.27"},
        )
        info = resp.json()["attachment"]["connection_info"]
        assert info["driver_volume_type"] == "iscsi" and info["data"]["auth_method"] == "CHAP"
        path = cloud.dir / "volumes" / "far" / "volumes" / f"volume-{shown['id']}.raw"
        assert path.read_bytes()[:14] == b"written-by-vm1"
        # Grown while attached over iSCSI: far's targets are made again with
        # the new size, QEMU's client logs in again, and the guest sees it.
        cloud.wait_console("vm1", rf"vole2e: vdb size {GIB // 512}\b", 30, after=mark)
        cloud.osc("--os-volume-api-version", "3.42", "volume", "set", "--size", "2", "far1")
        cloud.wait_console("vm1", rf"vole2e: vdb size {2 * GIB // 512}\b", 60, after=mark)
        wait_volume(cloud, "far1", "in-use")
        mark = len(cloud.console("vm1"))
        cloud.osc("server", "remove", "volume", "vm1", "far1")
        wait_volume(cloud, "far1", "available")
        cloud.wait_console("vm1", r"disk removed vdb", 60, after=mark)
        targets = cloud.dir / "volumes" / "far" / "targets" / "vols"
        deadline = time.monotonic() + 20
        while list(targets.iterdir()):
            assert time.monotonic() < deadline, "the target outlived its attachment"
            time.sleep(0.5)
    finally:
        agent.send_signal(signal.SIGTERM)
        agent.wait(timeout=30)
