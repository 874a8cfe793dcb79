"""Live migration with real QEMU guests on a two-host cloud, driven by the
openstack CLI: the all-in-one (host ``live-a``, its agent in-process) plus a
`stratus compute-agent --host live-b` process sharing its data folder and
database, each host with its own instance folder and image cache.

One guest is booted for the whole module.  A user-data script prints a
counter every second on the serial console; after each live migration the
counter goes on (no ``tick 1`` again, no second boot) in the destination's
console, one qemu process runs for the guest (a new one) and the source's
folder is gone.  A volume attached to the running guest moves with it (the
guest reads it after the move).  A volume kept by a volume agent of its own
process on host live-b (``stratus volume-agent --host live-b``: live-a
reaches its files over NBD) moves from live-b, where the guest opens the
file, to live-a, over a protocol export, and back, the guest writing and
reading it all along; and the same with that agent on iSCSI (tgt).  A final stop/start on the destination shows
that the disk (the overlay, mirrored over NBD) kept what the guest wrote
before moving.
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

from stratus.common.pidfiles import daemon_pid
from tests import clirun
from tests.conftest import BIN, Server, free_port, start_server
from tests.functional.compute.conftest import tiny_image

pytestmark = pytest.mark.skipif(shutil.which("qemu-system-x86_64") is None, reason="needs qemu-system-x86_64")

A, B = "live-a", "live-b"
BOOT = 120
MARK = "live-7e3a"
SCRIPT = f"""#!/bin/sh
n=$(cat /mnt/disk/count 2>/dev/null || echo 0)
n=$((n+1))
echo $n > /mnt/disk/count
if [ -f /mnt/disk/note.txt ]; then echo "{MARK} found: $(cat /mnt/disk/note.txt)"; fi
echo "written-before-{MARK}" > /mnt/disk/note.txt
sync
echo "{MARK} boot count $n"
(i=0; while true; do i=$((i+1)); echo "tick $i"; sleep 1; done) &
(while true; do
  if [ -b /dev/vdb ]; then
    if [ ! -f /tmp/vw ]; then
      printf 'vol-{MARK}' > /tmp/w; dd if=/tmp/w of=/dev/vdb conv=fsync 2>/dev/null; touch /tmp/vw
      echo "{MARK} vdb written"
    fi
    echo 3 > /proc/sys/vm/drop_caches 2>/dev/null
    echo "{MARK} vdb reads [$(head -c 13 /dev/vdb)]"
  fi
  if [ -b /dev/vdc ]; then
    if [ ! -f /tmp/cw ]; then
      printf 'before-{MARK}' > /tmp/b; dd if=/tmp/b of=/dev/vdc bs=512 seek=1 conv=fsync 2>/dev/null
      touch /tmp/cw
    fi
    c=$((c+1)); printf 'mig-{MARK} %06d' $c > /tmp/c; dd if=/tmp/c of=/dev/vdc conv=fsync 2>/dev/null
    echo 3 > /proc/sys/vm/drop_caches 2>/dev/null
    echo "{MARK} vdc [$(head -c 20 /dev/vdc)] [$(dd if=/dev/vdc bs=512 skip=1 count=1 2>/dev/null | head -c 16)]"
  fi
  sleep 1
done) &
"""
VOLUME_READ = rf"{MARK} vdb reads \[vol-{MARK}\]"
VDC = re.compile(rf"{MARK} vdc \[mig-{MARK} (\d+)\] \[before-{MARK}\]")
TICK = re.compile(r"^tick (\d+)\s*$", re.M)


def ticks(text: str) -> list[int]:
    return [int(t) for t in TICK.findall(text)]


def qemu_pids(uuid: str) -> list[int]:
    out = subprocess.run(["ps", "-eo", "pid=,args="], capture_output=True, text=True).stdout
    return [int(line.split()[0]) for line in out.splitlines() if uuid in line and "qemu-system" in line]


class TwoHosts:
    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="sl-", dir="/tmp"))  # short: QMP socket paths
        self.server: Server = start_server(
            self.dir, port=free_port(), STRATUS_COMPUTE__HOST=A, STRATUS_COMPUTE__SYNC_INTERVAL="2",
            # live-b shares the data folder: it opens volumes' files as live-a does
            STRATUS_VOLUME__LOCAL_HOSTS=json.dumps([B]),
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("STRATUS_")}
        env.update(STRATUS_SERVER__PUBLIC_URL=self.server.url, STRATUS_COMPUTE__SYNC_INTERVAL="2")
        self.agent_log = self.dir / "agent-b.log"
        self.agent = subprocess.Popen(
            [str(BIN / "stratus"), "compute-agent", "--data-dir", str(self.dir), "--host", B],
            stdout=self.agent_log.open("ab"),
            stderr=subprocess.STDOUT,
            env=env,
        )
        token = self.server.admin_token()
        deadline = time.monotonic() + 90
        while True:
            resp = httpx.get(f"{self.server.url}/compute/v2.1/os-services", headers={"X-Auth-Token": token})
            if {s["host"] for s in resp.json()["services"] if s["state"] == "up"} >= {A, B}:
                break
            assert self.agent.poll() is None, self.agent_log.read_text()
            assert time.monotonic() < deadline, "the two compute hosts never registered"
            time.sleep(0.3)

    def instances(self, host: str) -> Path:
        return self.dir / "compute" / host / "instances"

    def osc(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        proc = clirun.run(
            [str(BIN / "openstack"), *args], env=self.server.env(), capture_output=True, text=True, timeout=300
        )
        if check:
            assert proc.returncode == 0, f"openstack {' '.join(args)}: {proc.stdout}\n{proc.stderr}"
        return proc

    def show(self, name: str) -> dict[str, Any]:
        return json.loads(self.osc("server", "show", name, "-f", "json").stdout)  # type: ignore[no-any-return]

    def console(self, server: dict[str, Any]) -> str:
        """The serial console of the guest on its current host (read from
        that host's folder: an agent of its own process does not serve
        console output to the API yet)."""
        path = self.instances(self.show(server["id"])["OS-EXT-SRV-ATTR:host"]) / server["id"] / "console.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def wait_console(self, server: dict[str, Any], pattern: str, timeout: float = BOOT) -> str:
        deadline = time.monotonic() + timeout
        while True:
            out = self.console(server)
            if re.search(pattern, out):
                return out
            assert time.monotonic() < deadline, f"{pattern!r} not on the console:\n{out[-2000:]}"
            time.sleep(0.5)

    def close(self) -> None:
        for host in (A, B):
            folder = self.instances(host)
            for d in folder.iterdir() if folder.exists() else []:
                for pid in qemu_pids(d.name):
                    os.kill(pid, signal.SIGKILL)
        self.agent.send_signal(signal.SIGTERM)
        try:
            self.agent.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.agent.kill()
        self.server.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def cloud() -> Iterator[TwoHosts]:
    c = TwoHosts()
    yield c
    c.close()


@pytest.fixture(scope="module")
def vm1(cloud: TwoHosts, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    script = tmp_path_factory.mktemp("live") / "script.sh"
    script.write_text(SCRIPT)
    tiny_image(cloud.server)
    created = json.loads(
        cloud.osc(
            "server", "create", "--image", "tiny", "--flavor", "m1.tiny", "--user-data", str(script),
            "--wait", "vm1", "-f", "json",
        ).stdout
    )
    cloud.wait_console(created, rf"{MARK} boot count 1")
    cloud.wait_console(created, r"tick 3\b")
    return created  # type: ignore[no-any-return]


def migrate_and_check(cloud: TwoHosts, vm1: dict[str, Any], *cli: str) -> str:
    before = cloud.show("vm1")
    source = before["OS-EXT-SRV-ATTR:host"]
    (old_pid,) = qemu_pids(vm1["id"])
    counted = max(ticks(cloud.console(vm1)))
    cloud.osc(*cli)
    after = cloud.show("vm1")
    dest = after["OS-EXT-SRV-ATTR:host"]
    assert after["status"] == "ACTIVE" and after["OS-EXT-STS:power_state"] in ("Running", 1)
    assert dest != source
    # One qemu for the guest, a new process; the source's folder is gone.
    deadline = time.monotonic() + 30
    while len(qemu_pids(vm1["id"])) != 1 or (cloud.instances(source) / vm1["id"]).exists():
        assert time.monotonic() < deadline, f"leftovers: {qemu_pids(vm1['id'])}"
        time.sleep(0.3)
    assert qemu_pids(vm1["id"]) != [old_pid]
    assert (cloud.instances(dest) / vm1["id"] / "disk.qcow2").exists()
    # The counter carries on in the destination's console, without a restart.
    deadline = time.monotonic() + 60
    while True:
        out = cloud.console(vm1)
        seen = ticks(out)
        if seen and max(seen) >= counted + 3:
            break
        assert time.monotonic() < deadline, f"the counter did not go on:\n{out[-2000:]}"
        time.sleep(0.5)
    assert 1 not in seen and min(seen) >= counted - 1, f"the guest restarted: {seen[:10]}"
    assert "boot count" not in out and "stratus-tiny: ready" not in out, out[-2000:]
    return dest


def test_live_migration_keeps_the_guest_running(cloud: TwoHosts, vm1: dict[str, Any]) -> None:
    source = cloud.show("vm1")["OS-EXT-SRV-ATTR:host"]
    dest = migrate_and_check(cloud, vm1, "server", "migrate", "--live-migration", "--wait", "vm1")
    assert dest == ({A, B} - {source}).pop()
    events = json.loads(cloud.osc("server", "event", "list", "vm1", "-f", "json").stdout)
    assert "live-migration" in {e["Action"] for e in events}


def test_live_migration_back_to_a_named_host(cloud: TwoHosts, vm1: dict[str, Any]) -> None:
    current = cloud.show("vm1")["OS-EXT-SRV-ATTR:host"]
    target = ({A, B} - {current}).pop()
    dest = migrate_and_check(
        cloud, vm1, "--os-compute-api-version", "2.30", "server", "migrate", "--live-migration",
        "--host", target, "--wait", "vm1",
    )
    assert dest == target


def test_same_and_unknown_host_are_refused(cloud: TwoHosts, vm1: dict[str, Any]) -> None:
    current = cloud.show("vm1")["OS-EXT-SRV-ATTR:host"]
    for host, words in ((current, "current host"), ("nowhere", "could not be found")):
        proc = cloud.osc(
            "--os-compute-api-version", "2.30", "server", "migrate", "--live-migration", "--host", host, "vm1",
            check=False,
        )
        assert proc.returncode != 0 and words in proc.stderr, proc.stderr
    assert cloud.show("vm1")["status"] == "ACTIVE"


def test_an_attached_volume_moves_with_the_guest(cloud: TwoHosts, vm1: dict[str, Any]) -> None:
    """A volume attached to the running guest (hot-plugged, written by the
    guest) moves with it: the destination's qemu starts with the volume at
    the same device and slot, opened through an attachment of its own host;
    after the move the guest reads the volume's bytes from the disk (page
    cache dropped) and the volume has one attachment, to the new host."""
    cloud.osc("volume", "create", "--size", "1", "lmvol")
    deadline = time.monotonic() + 60
    while json.loads(cloud.osc("volume", "show", "lmvol", "-f", "json").stdout)["status"] != "available":
        assert time.monotonic() < deadline
        time.sleep(0.3)
    cloud.osc("server", "add", "volume", "vm1", "lmvol")
    cloud.wait_console(vm1, rf"{MARK} vdb written", 60)
    cloud.wait_console(vm1, VOLUME_READ, 30)
    dest = migrate_and_check(cloud, vm1, "server", "migrate", "--live-migration", "--wait", "vm1")
    cloud.wait_console(vm1, VOLUME_READ, 30)  # the destination's console: read after the move
    deadline = time.monotonic() + 30
    while True:
        volume = json.loads(cloud.osc("volume", "show", "lmvol", "-f", "json").stdout)
        where = [(a["server_id"], a["host_name"]) for a in volume["attachments"]]
        if where == [(vm1["id"], dest)]:
            break
        assert time.monotonic() < deadline, volume["attachments"]
        time.sleep(0.3)
    assert volume["status"] == "in-use"


def vdc_counts(text: str) -> list[int]:
    return [int(n) for n in VDC.findall(text)]


def attachment_kinds(cloud: TwoHosts, name: str) -> list[tuple[str, str]]:
    """The volume's attachments: (host, connection type)."""
    volume = json.loads(cloud.osc("volume", "show", name, "-f", "json").stdout)
    project = cloud.osc("token", "issue", "-f", "value", "-c", "project_id").stdout.strip()
    found = []
    for att in volume["attachments"]:
        resp = httpx.get(
            f"{cloud.server.url}/volume/v3/{project}/attachments/{att['attachment_id']}",
            headers={"X-Auth-Token": cloud.server.admin_token(), "OpenStack-API-Version": "volume 3.27"},
        )
        info = resp.json()["attachment"]["connection_info"] or {}
        found.append((att["host_name"], str(info.get("driver_volume_type"))))
    return found


def wait_kinds(cloud: TwoHosts, name: str, wanted: list[tuple[str, str]]) -> None:
    deadline = time.monotonic() + 30
    while (found := attachment_kinds(cloud, name)) != wanted:
        assert time.monotonic() < deadline, found
        time.sleep(0.3)


def image_locked(path: Path) -> bool:
    """Whether some process holds the image's lock (``qemu-img info``
    without ``-U`` is refused then, as on a running guest's disk)."""
    proc = subprocess.run(["qemu-img", "info", str(path)], capture_output=True, text=True)
    return proc.returncode != 0 and "lock" in proc.stderr


def test_a_volume_of_the_guests_host_moves_live_to_a_host_reaching_it_over_nbd(
    cloud: TwoHosts, vm1: dict[str, Any]
) -> None:
    """A volume kept on live-b by a volume agent of its own (live-a
    reaches its files only over NBD): attached while the guest runs on
    live-b (its QEMU opens the file, holding its lock), the guest writes a
    marker, then a counter every second, reading both back from the disk.
    Live-migrated to live-a, the guest reaches it over an NBD export of the
    file's bytes (its QEMU runs qcow2 over NBD) and goes on counting from
    where it was, the marker still there; the export's daemon is then the
    file's one opener and holds its lock.  Back on live-b, the guest shares
    that export (NBD from its own host) and goes on again; detached, its
    last count is in the volume's file and the export is gone."""
    moves_live_between_file_and_export(cloud, vm1, "nbd", "migvol")


def test_the_same_over_iscsi(cloud: TwoHosts, vm1: dict[str, Any]) -> None:
    """The same with the volume agent on iSCSI (``target_protocol =
    "iscsi"``): on live-a the guest's QEMU runs qcow2 over a tgt LUN of
    the file's bytes (tgt locks nothing: a holder process takes the
    image's lock once the guest's QEMU on live-b is gone), back on live-b
    it logs in to the same target; detached, the target and the holder
    are gone with the lock."""
    moves_live_between_file_and_export(cloud, vm1, "iscsi", "migvoli")


def volume_agent(cloud: TwoHosts, protocol: str) -> tuple[subprocess.Popen[bytes], Path]:
    """A volume agent of its own process on live-b, exporting over ``protocol``."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("STRATUS_")}
    environ.update(
        STRATUS_SERVER__PORT=cloud.server.url.rsplit(":", 1)[1], STRATUS_SERVER__PUBLIC_URL=cloud.server.url,
        STRATUS_VOLUME__BACKEND_NAME="mig", STRATUS_VOLUME__TARGET_PROTOCOL=protocol,
        STRATUS_VOLUME__TARGET_PORT=str(free_port()),
    )  # fmt: skip
    log = cloud.dir / f"volume-agent-b-{protocol}.log"
    agent = subprocess.Popen(
        [str(BIN / "stratus"), "volume-agent", "--data-dir", str(cloud.dir), "--host", B],
        stdout=log.open("ab"), stderr=subprocess.STDOUT, env=environ,
    )  # fmt: skip
    return agent, log


def moves_live_between_file_and_export(cloud: TwoHosts, vm1: dict[str, Any], protocol: str, name: str) -> None:
    if cloud.show("vm1")["OS-EXT-SRV-ATTR:host"] != B:
        migrate_and_check(cloud, vm1, "--os-compute-api-version", "2.30", "server", "migrate",
                          "--live-migration", "--host", B, "--wait", "vm1")  # fmt: skip
    agent, log = volume_agent(cloud, protocol)
    try:
        deadline = time.monotonic() + 60
        while f"{B}@mig" not in cloud.osc("volume", "service", "list", "-f", "value").stdout:
            assert agent.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.5)
        if cloud.osc("volume", "type", "show", "mig", check=False).returncode != 0:
            cloud.osc("volume", "type", "create", "--property", "volume_backend_name=mig", "mig")
        cloud.osc("volume", "create", "--size", "1", "--type", "mig", name)
        deadline = time.monotonic() + 60
        while (shown := json.loads(cloud.osc("volume", "show", name, "-f", "json").stdout))[
            "status"
        ] != "available":
            assert time.monotonic() < deadline, shown
            time.sleep(0.3)
        path = cloud.dir / "volumes" / B / "volumes" / f"volume-{shown['id']}.qcow2"
        # The guest writes its marker on the first volume it sees only: a
        # later one has it written here.
        marker = cloud.dir / "marker.512"
        marker.write_bytes(f"before-{MARK}".encode().ljust(512, b"\0"))
        subprocess.run(["qemu-io", "-f", "qcow2", "-c", f"write -s {marker} 512 512", str(path)],
                       capture_output=True, check=True)  # fmt: skip
        cloud.osc("server", "add", "volume", "vm1", name)
        wait_kinds(cloud, name, [(B, "file")])
        seen = len(vdc_counts(cloud.console(vm1)))
        deadline = time.monotonic() + 60
        while len(vdc_counts(cloud.console(vm1))) <= seen + 1:
            assert time.monotonic() < deadline, cloud.console(vm1)[-2000:]
            time.sleep(0.5)
        for dest, kind in ((A, protocol), (B, protocol)):
            before = max(vdc_counts(cloud.console(vm1)))
            assert migrate_and_check(
                cloud, vm1, "--os-compute-api-version", "2.30", "server", "migrate", "--live-migration",
                "--host", dest, "--wait", "vm1",
            ) == dest  # fmt: skip
            # The destination's console: the marker read back, the counter
            # going on from the source's (written and read after the move).
            deadline = time.monotonic() + 30
            while True:
                out = cloud.console(vm1)
                if [n for n in vdc_counts(out) if n > before + 2]:
                    break
                assert time.monotonic() < deadline, out[-2000:]
                time.sleep(0.5)
            assert min(vdc_counts(out)) >= before - 2, out[-2000:]  # not started again
            wait_kinds(cloud, name, [(dest, kind)])
            # The export's daemon, the file's one opener, holds its lock.
            deadline = time.monotonic() + 30
            while not image_locked(path):
                assert time.monotonic() < deadline, "nobody holds the volume's lock"
                time.sleep(0.5)
        last = max(vdc_counts(cloud.console(vm1)))
        cloud.osc("server", "remove", "volume", "vm1", name)
        deadline = time.monotonic() + 90
        while json.loads(cloud.osc("volume", "show", name, "-f", "json").stdout)["status"] != "available":
            assert time.monotonic() < deadline
            time.sleep(0.5)
        exports = cloud.dir / "volumes" / B / ("exports" if protocol == "nbd" else "targets/vols")
        deadline = time.monotonic() + 30
        while exports.is_dir() and list(exports.iterdir()):
            assert time.monotonic() < deadline, "the export outlived its attachments"
            time.sleep(0.5)
        assert not image_locked(path)
        head = cloud.dir / "migvol.head"
        subprocess.run(
            ["qemu-img", "dd", "-f", "qcow2", "-O", "raw", "bs=512", "count=2", f"if={path}", f"of={head}"],
            capture_output=True, check=True,
        )  # fmt: skip
        text = head.read_bytes().decode(errors="replace")
        counts = [int(n) for n in re.findall(rf"mig-{MARK} (\d+)", text)]
        assert counts and counts[0] >= last and f"before-{MARK}" in text, text
    finally:
        agent.send_signal(signal.SIGTERM)
        agent.wait(timeout=30)
        tgtd = daemon_pid(cloud.dir / "volumes" / B / "targets" / "tgtd.pid")
        if tgtd is not None:  # (it outlives its agent)
            os.kill(tgtd, signal.SIGKILL)




def test_disk_written_before_the_moves_is_kept(cloud: TwoHosts, vm1: dict[str, Any]) -> None:
    cloud.osc("server", "stop", "vm1")
    deadline = time.monotonic() + 90
    while cloud.show("vm1")["status"] != "SHUTOFF":
        assert time.monotonic() < deadline
        time.sleep(1)
    cloud.osc("server", "start", "vm1")
    out = cloud.wait_console(vm1, rf"{MARK} boot count 2")
    assert f"{MARK} found: written-before-{MARK}" in out


# -- the QEMU driver alone: abort and force-complete -------------------------------------------


def test_qemu_driver_abort_then_force_complete(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Two QemuDrivers (two hosts' folders) and one guest: an aborted live
    migration leaves it running on the source (same process, counter going
    on) and the destination's waiting qemu gone; a force-completed one (the
    source guest paused so the copy converges) ends with the guest running
    on the destination."""
    import asyncio

    from stratus.compute.agent.configdrive import build_config_drive
    from stratus.compute.drivers.base import GuestSpec, Power
    from stratus.compute.drivers.live import LiveControl, LiveProgress
    from stratus.compute.drivers.qemu import QemuDriver
    from stratus.compute.guest.tiny import build_tiny_image

    work = Path(tempfile.mkdtemp(prefix="sq-", dir="/tmp"))
    try:
        base = build_tiny_image(work / "images")
        uuid = "5b0c5e1e-0000-4000-8000-00000000abcd"
        drivers = {h: QemuDriver(work / h, hostname=h, accel="tcg") for h in ("ha", "hb")}

        def spec(host: str) -> GuestSpec:
            directory = work / host / uuid
            directory.mkdir(parents=True, exist_ok=True)
            drive = directory / "config.iso"
            if not drive.exists():
                build_config_drive(
                    drive, meta_data={"uuid": uuid, "name": "q", "hostname": "q"},
                    user_data=SCRIPT.encode(), network_data={"links": [], "networks": [], "services": []},
                )  # fmt: skip
            return GuestSpec(
                uuid=uuid, name="q", vcpus=1, memory_mb=256, root_gb=1, base_image=base,
                base_format="qcow2", directory=directory, config_drive=drive,
            )  # fmt: skip

        def console(host: str) -> str:
            path = work / host / uuid / "console.log"
            return path.read_text(errors="replace") if path.exists() else ""

        async def scenario() -> None:
            booted = await drivers["ha"].spawn(spec("ha"))
            deadline = time.monotonic() + BOOT
            while "tick 2" not in console("ha"):
                assert time.monotonic() < deadline, console("ha")[-2000:]
                await asyncio.sleep(0.5)
            phases: list[str] = []

            async def abort(report: LiveProgress) -> LiveControl:
                phases.append(report.phase)
                return LiveControl.ABORT if report.phase == "memory" else LiveControl.CONTINUE

            target = await drivers["hb"].prepare_incoming(spec("hb"))
            assert target.disk_uri.startswith("nbd:127.0.0.1:")
            result = await drivers["ha"].live_migrate(spec("ha"), target, abort)
            assert not result.completed and "memory" in phases
            after = await drivers["ha"].status(uuid)
            assert after.power == Power.RUNNING and after.pid == booted.pid
            await drivers["hb"].abort_incoming(uuid, work / "hb" / uuid)
            assert (await drivers["hb"].status(uuid)).power == Power.NOSTATE
            assert not (work / "hb" / uuid).exists()
            counted = max(ticks(console("ha")))
            while max(ticks(console("ha"))) < counted + 2:
                await asyncio.sleep(0.5)

            async def force(report: LiveProgress) -> LiveControl:
                return LiveControl.FORCE_COMPLETE if report.phase == "memory" else LiveControl.CONTINUE

            # an agent restarted with nothing in flight: nothing to recover
            assert not await drivers["ha"].recover_outgoing(spec("ha"))
            assert (await drivers["ha"].status(uuid)).pid == booted.pid
            target = await drivers["hb"].prepare_incoming(spec("hb"))
            result = await drivers["ha"].live_migrate(spec("ha"), target, force)
            assert result.completed and result.downtime_ms is not None
            # the source's copy is stopped; a restarted agent would see the move done
            assert (await drivers["ha"].status(uuid)).power == Power.PAUSED
            assert await drivers["ha"].recover_outgoing(spec("ha"))
            counted = max(ticks(console("ha")))
            await drivers["ha"].finish_outgoing(uuid, work / "ha" / uuid)
            assert (await drivers["ha"].status(uuid)).power in (Power.SHUTDOWN, Power.NOSTATE)
            assert not (work / "ha" / uuid).exists()
            arrived = await drivers["hb"].finish_incoming(spec("hb"), running=True)
            assert arrived.power == Power.RUNNING
            deadline = time.monotonic() + 60
            while not ticks(console("hb")) or max(ticks(console("hb"))) < counted + 2:
                assert time.monotonic() < deadline, console("hb")[-2000:]
                await asyncio.sleep(0.5)
            assert 1 not in ticks(console("hb"))
            await drivers["hb"].destroy(uuid, work / "hb" / uuid)

        asyncio.run(scenario())
    finally:
        for pid in qemu_pids("5b0c5e1e-0000-4000-8000-00000000abcd"):
            os.kill(pid, signal.SIGKILL)
        shutil.rmtree(work, ignore_errors=True)
