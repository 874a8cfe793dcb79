"""The QEMU driver against real qemu processes and the tiny guest image.

One guest is shared by the whole module and boots three times (spawn, start
after an ACPI stop, hard reboot); the tests run in file order.  A user_data
script counts boots on the guest's own disk, serves a page on port 8080 and
prints the guest's uptime every second, so the tests can see that the disk
kept data, that port forwarding works and that a resumed guest's clock goes
on instead of restarting.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from stratus.compute.drivers.base import Power
from stratus.compute.drivers.qemu import QemuDriver
from stratus.compute.drivers.qemu_files import process_runs
from tests.e2e.guests import (
    READY,
    Guest,
    console,
    digest,
    get_forwarded_page,
    tiny_guest_spec,
    uptimes,
    wait_console,
)

pytestmark = pytest.mark.skipif(
    shutil.which("qemu-system-x86_64") is None or shutil.which("qemu-img") is None,
    reason="needs qemu-system-x86_64 and qemu-img",
)


@pytest.fixture(scope="module")
def workdir() -> Iterator[Path]:
    # Short: a unix socket path (DIR/qmp.sock) must stay under 108 bytes.
    path = Path(tempfile.mkdtemp(prefix="stratus-e2e-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest_asyncio.fixture(scope="module")
async def guest(workdir: Path) -> AsyncIterator[Guest]:
    spec = await tiny_guest_spec(workdir, "e2e", drive_in_folder=False)
    driver = QemuDriver(workdir / "instances", hostname="e2e-host")
    yield Guest(driver, spec, digest(spec.base_image), {})
    await driver.destroy(spec.uuid, spec.directory)


async def test_host_info_reports_the_accelerator(guest: Guest) -> None:
    info = await guest.driver.host_info()
    assert info.accelerator in ("kvm", "tcg")
    assert info.hypervisor_version >= 2_000_000
    assert info.vcpus >= 1 and info.memory_mb > 0 and info.disk_gb > 0


async def test_spawn_boots_to_the_marker(guest: Guest) -> None:
    started = time.monotonic()
    status = await guest.driver.spawn(guest.spec)
    assert status.power == Power.RUNNING and status.pid
    assert (guest.spec.directory / "disk.qcow2").exists()
    assert guest.spec.uuid in (guest.spec.directory / "qemu.cmdline").read_text()
    await wait_console(guest, READY)
    await wait_console(guest, "e2e: boot 1")
    guest.timings["boot"] = time.monotonic() - started
    # Idempotent: spawning again keeps the disk and the process.
    again = await guest.driver.spawn(guest.spec)
    assert again.pid == status.pid


async def test_port_forward_reaches_the_guest(guest: Guest) -> None:
    response = await get_forwarded_page(guest)
    assert response.status_code == 200
    assert "hello from boot 1" in response.text


async def test_a_new_driver_adopts_the_running_guest(guest: Guest) -> None:
    mine = await guest.driver.status(guest.spec.uuid)
    other = QemuDriver(guest.driver.instances_root, hostname="e2e-host", accel="tcg")
    found = {s.uuid: s for s in await other.guests()}
    assert found[guest.spec.uuid].power == Power.RUNNING
    assert found[guest.spec.uuid].pid == mine.pid
    assert (await other.status(guest.spec.uuid)).pid == mine.pid


async def test_pause_and_unpause(guest: Guest) -> None:
    await guest.driver.pause(guest.spec.uuid)
    assert (await guest.driver.status(guest.spec.uuid)).power == Power.PAUSED
    await guest.driver.unpause(guest.spec.uuid)
    assert (await guest.driver.status(guest.spec.uuid)).power == Power.RUNNING


async def test_suspend_and_resume_keep_the_guest_clock(guest: Guest) -> None:
    uuid, directory = guest.spec.uuid, guest.spec.directory
    while len(uptimes(await console(guest))) < 3:
        await asyncio.sleep(0.3)
    pid = (await guest.driver.status(uuid)).pid
    assert pid is not None

    started = time.monotonic()
    await guest.driver.suspend(uuid)
    guest.timings["suspend"] = time.monotonic() - started
    before = uptimes(await console(guest))[-1]
    assert not process_runs(pid, uuid)
    assert (directory / "state.sav").stat().st_size > 0
    status = await guest.driver.status(uuid)
    assert status.power == Power.SUSPENDED and status.pid is None
    seen = len(await console(guest))

    started = time.monotonic()
    status = await guest.driver.resume(guest.spec)
    guest.timings["resume"] = time.monotonic() - started
    assert status.power == Power.RUNNING and status.pid not in (None, pid)
    assert not (directory / "state.sav").exists()
    while not uptimes((await console(guest))[seen:]):
        assert time.monotonic() - started < 30, "no uptime line after resume"
        await asyncio.sleep(0.2)
    after = (await console(guest))[seen:]
    assert READY not in after  # resumed, not rebooted
    assert uptimes(after)[0] >= before  # the clock went on


async def test_stop_with_acpi_and_start_keeps_the_disk(guest: Guest) -> None:
    uuid = guest.spec.uuid
    pid = (await guest.driver.status(uuid)).pid
    assert pid is not None
    started = time.monotonic()
    await guest.driver.stop(uuid, timeout=30)
    guest.timings["acpi stop"] = time.monotonic() - started
    assert not process_runs(pid, uuid)
    assert (await guest.driver.status(uuid)).power == Power.SHUTDOWN
    assert "stratus-tiny: stopping" in await console(guest)  # a clean shutdown
    assert guest.timings["acpi stop"] < 25  # ACPI worked, not the forced power-off

    started = time.monotonic()
    status = await guest.driver.start(guest.spec)
    assert status.power == Power.RUNNING
    await wait_console(guest, "e2e: boot 2")  # the counter on the disk survived
    guest.timings["boot 2"] = time.monotonic() - started


async def test_hard_reboot(guest: Guest) -> None:
    pid = (await guest.driver.status(guest.spec.uuid)).pid
    started = time.monotonic()
    status = await guest.driver.reboot(guest.spec, hard=True, timeout=10)
    assert status.power == Power.RUNNING and status.pid == pid  # same process, reset
    await wait_console(guest, "e2e: boot 3")
    guest.timings["boot 3 (reset)"] = time.monotonic() - started


async def test_live_snapshot_is_a_standalone_copy_with_the_guests_data(
    guest: Guest, workdir: Path
) -> None:
    pid = (await guest.driver.status(guest.spec.uuid)).pid
    target = workdir / "snapshot.qcow2"
    started = time.monotonic()
    await guest.driver.snapshot(guest.spec, target)
    guest.timings["live snapshot"] = time.monotonic() - started
    assert (await guest.driver.status(guest.spec.uuid)).pid == pid  # it kept running
    info = json.loads(
        subprocess.run(
            ["qemu-img", "info", "--output=json", str(target)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    )
    assert info["format"] == "qcow2"
    assert "backing-filename" not in info  # standalone: boots without the cached base
    raw = workdir / "snapshot.raw"
    subprocess.run(["qemu-img", "convert", "-O", "raw", str(target), str(raw)], check=True)
    boots = subprocess.run(
        ["mtype", "-i", f"{raw}@@1048576", "::/boots"], check=True, capture_output=True, text=True
    ).stdout
    assert boots.strip() == "3"  # what the guest wrote before the snapshot


async def test_destroy_removes_everything(guest: Guest) -> None:
    uuid, directory = guest.spec.uuid, guest.spec.directory
    pid = (await guest.driver.status(uuid)).pid
    assert pid is not None
    await guest.driver.destroy(uuid, directory)
    assert not directory.exists()
    assert not process_runs(pid, uuid)
    assert (await guest.driver.status(uuid)).power == Power.NOSTATE
    await guest.driver.destroy(uuid, directory)  # idempotent
    assert digest(guest.spec.base_image) == guest.base_digest  # the base was never written
    print("timings:", {k: round(v, 2) for k, v in guest.timings.items()})
