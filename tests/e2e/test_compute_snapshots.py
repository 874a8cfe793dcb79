"""Snapshots, backups, shelve and rescue with real QEMU guests, driven by the
openstack CLI as a user would.

Guests boot five times in the whole module, one at a time: ``vm1`` (boot,
unshelve, rescue, unrescue) and ``vm2`` from vm1's snapshot.  Every boot
runs the same user_data script: it prints what each of the guest's disks
holds (vda1, and vdb1 when there is one) before it writes a token of this
run to its boot disk, so the console shows which disk carries vm1's data.
The tests run in file order.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.test_compute_acceptance import BOOT, Cloud, qemu_pids, wait_no_process
from tests.functional.compute.conftest import tiny_image

pytestmark = pytest.mark.skipif(
    shutil.which("qemu-system-x86_64") is None, reason="needs qemu-system-x86_64"
)

MARK = "snaps-9b1e"
TOKEN = f"vm1-wrote-{uuid.uuid4().hex[:12]}"
SCRIPT = f"""#!/bin/sh
own=$(awk '$2=="/mnt/disk"{{print $1}}' /proc/mounts)
for dev in /dev/vda1 /dev/vdb1; do
    [ -b $dev ] || continue
    if [ "$dev" = "$own" ]; then
        note=$(cat /mnt/disk/note.txt 2>/dev/null)
    else
        mkdir -p /tmp/peek
        note=$(mount -t vfat -o ro $dev /tmp/peek 2>/dev/null && cat /tmp/peek/note.txt 2>/dev/null)
        umount /tmp/peek 2>/dev/null
    fi
    echo "{MARK} ${{dev#/dev/}} has: ${{note:-nothing}}"
done
[ -f /mnt/disk/note.txt ] || echo "{TOKEN}" > /mnt/disk/note.txt
sync
echo "{MARK} done"
"""


def has(dev: str, what: str) -> str:
    return rf"{MARK} {dev} has: {re.escape(what)}"


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    c = Cloud(tmp_path_factory)
    yield c
    for pid in [
        p
        for d in (c.instances.iterdir() if c.instances.exists() else [])
        for p in qemu_pids(d.name)
    ]:
        os.kill(pid, signal.SIGKILL)
    c.server.stop()
    shutil.rmtree(c.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def script(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("user") / "script.sh"
    path.write_text(SCRIPT)
    return str(path)


@pytest.fixture(scope="module")
def vm1(cloud: Cloud, script: str) -> dict[str, Any]:
    tiny_image(cloud.server)
    proc = cloud.osc(
        "server", "create", "--image", "tiny", "--flavor", "m1.tiny", "--user-data", script,
        "--wait", "vm1", "-f", "json", check=False,
    )  # fmt: skip
    assert proc.returncode == 0, f"{proc.stderr}\n{cloud.show('vm1').get('fault')}"
    cloud.wait_console("vm1", has("vda1", "nothing"))
    cloud.wait_console("vm1", rf"{MARK} done")
    return json.loads(proc.stdout)  # type: ignore[no-any-return]


def images(cloud: Cloud, **params: str) -> list[dict[str, Any]]:
    resp = httpx.get(
        f"{cloud.server.url}/image/v2/images",
        params=params,
        headers={"X-Auth-Token": cloud.server.admin_token()},
    )
    assert resp.status_code == 200, resp.text
    return resp.json()["images"]  # type: ignore[no-any-return]


def test_snapshot_of_a_running_server_boots_with_its_data(
    cloud: Cloud, vm1: dict[str, Any], script: str
) -> None:
    pid = qemu_pids(vm1["id"])
    out = cloud.osc(
        "server", "image", "create", "--wait", "--name", "snap", "vm1", "-f", "json"
    ).stdout
    image = json.loads(out)
    assert image["status"] == "active"
    (shown,) = images(cloud, name="snap")
    assert shown["instance_uuid"] == vm1["id"] and shown["image_type"] == "snapshot"
    assert shown["base_image_ref"] == tiny_image(cloud.server)
    assert shown["disk_format"] == "qcow2"
    assert cloud.wait("vm1", "ACTIVE")["OS-EXT-STS:vm_state"] == "active"
    assert qemu_pids(vm1["id"]) == pid, "the guest was restarted for the snapshot"

    proc = cloud.osc(
        "server", "create", "--image", "snap", "--flavor", "m1.tiny", "--user-data", script,
        "--wait", "vm2", "-f", "json", check=False,
    )  # fmt: skip
    assert proc.returncode == 0, f"{proc.stderr}\n{cloud.show('vm2').get('fault')}"
    vm2 = json.loads(proc.stdout)
    cloud.wait_console("vm2", has("vda1", TOKEN))
    cloud.osc("server", "delete", "--wait", "vm2")
    wait_no_process(vm2["id"])


def test_backups_rotate(cloud: Cloud, vm1: dict[str, Any]) -> None:
    """The acceptance command, three times.  Every backup is named after the
    server (OSC's default), and OSC looks the new image up by that name: from
    the second run on it finds two and stops with "More than one Image
    exists" (so does it against Nova) after the backup was requested.  The
    backups are still made and rotated: exactly the two newest remain."""
    command = ("server", "backup", "create", "--type", "daily", "--rotate", "2", "--wait", "vm1")
    # (OSC prints the image as it found it before waiting: still queued)
    first = json.loads(cloud.osc(*command, "-f", "json").stdout)
    assert images(cloud, id=first["id"])[0]["status"] == "active"
    for _ in range(2):
        proc = cloud.osc(*command, check=False)
        assert (
            proc.returncode == 0 or "More than one Image exists with the name 'vm1'" in proc.stderr
        ), proc.stderr
        cloud.wait("vm1", "ACTIVE")
    left = images(cloud, instance_uuid=vm1["id"], image_type="backup", backup_type="daily")
    assert len(left) == 2, left
    assert first["id"] not in [i["id"] for i in left], "the oldest backup was kept"
    assert all(i["status"] == "active" and i["name"] == "vm1" for i in left)
    # named backups need no workaround: --wait sees the image go active
    out = cloud.osc("server", "backup", "create", "--name", "bk-named", "--type", "daily", "--rotate", "2",
                    "--wait", "vm1", "-f", "json").stdout  # fmt: skip
    named = json.loads(out)
    assert named["name"] == "bk-named"
    assert images(cloud, id=named["id"])[0]["status"] == "active"
    cloud.wait("vm1", "ACTIVE")
    left = images(cloud, instance_uuid=vm1["id"], image_type="backup", backup_type="daily")
    assert len(left) == 2 and named["id"] in [i["id"] for i in left]


def test_shelve_and_unshelve_keep_the_data(cloud: Cloud, vm1: dict[str, Any]) -> None:
    cloud.osc("server", "shelve", "--wait", "vm1")
    shown = cloud.wait("vm1", "SHELVED_OFFLOADED", timeout=60)
    assert shown["OS-EXT-SRV-ATTR:host"] is None
    wait_no_process(vm1["id"])
    assert not (cloud.instances / vm1["id"]).exists(), "the offloaded server left its folder"
    (shelved,) = images(cloud, name="vm1-shelved")
    assert shelved["status"] == "active"

    cloud.osc("server", "unshelve", "--wait", "vm1", timeout=BOOT + 60)
    shown = cloud.wait("vm1", "ACTIVE")
    assert shown["OS-EXT-SRV-ATTR:host"] == "e2ehost"
    assert len(qemu_pids(vm1["id"])) == 1
    cloud.wait_console("vm1", has("vda1", TOKEN))
    assert not images(cloud, name="vm1-shelved"), "the shelved image outlived the unshelve"


def test_rescue_and_unrescue(cloud: Cloud, vm1: dict[str, Any]) -> None:
    before = len(cloud.console("vm1"))
    out = cloud.osc("server", "rescue", "vm1", check=False)
    assert out.returncode == 0, out.stderr
    cloud.wait("vm1", "RESCUE")
    # booted from a fresh copy of the rescue image, its own disk second
    text = cloud.wait_console("vm1", has("vdb1", TOKEN), after=before)
    assert re.search(has("vda1", "nothing"), text[before:]), text[before:]
    assert len(qemu_pids(vm1["id"])) == 1

    middle = len(cloud.console("vm1"))
    cloud.osc("server", "unrescue", "vm1")
    cloud.wait("vm1", "ACTIVE")
    text = cloud.wait_console("vm1", has("vda1", TOKEN), after=middle)
    assert "vdb1 has" not in text[middle:], "the rescue disk is still attached"
    assert not (cloud.instances / vm1["id"] / "rescue.qcow2").exists()
