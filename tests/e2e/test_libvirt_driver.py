"""The libvirt driver for real: ``qemu:///system`` (libvirtd started by the
test when it is not running), a TCG domain booting the tiny guest image.

One guest is shared by the module and boots three times (spawn, start after
an ACPI stop, soft reboot); the tests run in file order.  A user_data script
counts boots on the guest's own disk, so the tests see that the disk kept its
data across stop/start and that a snapshot holds what the guest wrote.
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

from stratus.compute.drivers.base import Capability, Power
from tests.e2e import libvirtd
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

def qemu_pids(uuid: str) -> list[int]:
    out = subprocess.run(["ps", "-ww", "-eo", "pid=,args="], capture_output=True, text=True).stdout
    return [
        int(line.split()[0]) for line in out.splitlines() if uuid in line and "qemu-system" in line
    ]


@pytest.fixture(scope="module")
def system_libvirt() -> Iterator[None]:
    try:
        libvirtd.ensure_libvirtd()
    except libvirtd.Unavailable as exc:
        pytest.skip(f"libvirt is unavailable: {exc}")
    yield
    libvirtd.stop_started()


@pytest.fixture(scope="module")
def workdir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="stratus-lv-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest_asyncio.fixture(scope="module")
async def guest(system_libvirt: None, workdir: Path) -> AsyncIterator[Guest]:
    from stratus.compute.drivers.libvirt import LibvirtDriver

    spec = await tiny_guest_spec(workdir, "e2e-lv", drive_in_folder=True)
    driver = LibvirtDriver(workdir / "instances", hostname="e2e-host", uri=libvirtd.URI)
    yield Guest(driver, spec, digest(spec.base_image), {})
    try:
        await driver.destroy(spec.uuid, spec.directory)
    finally:
        await driver.close()


async def test_host_info_is_tcg_qemu(guest: Guest) -> None:
    driver = guest.driver
    info = await driver.host_info()
    assert (info.hypervisor_type, info.accelerator) == ("QEMU", "tcg")
    assert info.hypervisor_version >= 2_000_000
    assert info.vcpus >= 1 and info.memory_mb > 0
    assert Capability.SNAPSHOT in driver.capabilities


async def test_spawn_defines_a_tcg_domain_and_boots(guest: Guest) -> None:
    import libvirt

    started = time.monotonic()
    status = await guest.driver.spawn(guest.spec)
    assert status.power == Power.RUNNING
    await wait_console(guest, "e2e: boot 1")  # the config drive's user_data ran
    guest.timings["boot"] = time.monotonic() - started
    conn = libvirt.open(libvirtd.URI)
    try:
        dom = conn.lookupByUUIDString(guest.spec.uuid)
        xml = dom.XMLDesc(0)
        assert dom.name() == f"stratus-{guest.spec.uuid}"
        assert dom.isPersistent()
    finally:
        conn.close()
    assert "type='qemu'" in xml  # TCG, not KVM
    # libvirt did not chown the guest's files or the shared base.
    assert (
        guest.spec.base_image.stat().st_uid == (guest.spec.directory / "disk.qcow2").stat().st_uid
    )
    again = await guest.driver.spawn(guest.spec)
    assert again.power == Power.RUNNING and qemu_pids(guest.spec.uuid) == [status.pid]


async def test_port_forward_reaches_the_guest(guest: Guest) -> None:
    response = await get_forwarded_page(guest)
    assert response.status_code == 200
    assert "hello from boot 1" in response.text


async def test_a_new_driver_adopts_the_guest(guest: Guest) -> None:
    from stratus.compute.drivers.libvirt import LibvirtDriver

    other = LibvirtDriver(guest.spec.directory.parent, hostname="e2e-host", uri=libvirtd.URI)
    try:
        found = {g.uuid: g for g in await other.guests()}
    finally:
        await other.close()
    assert found[guest.spec.uuid].power == Power.RUNNING
    assert found[guest.spec.uuid].pid == qemu_pids(guest.spec.uuid)[0]


async def test_pause_and_unpause(guest: Guest) -> None:
    driver, uuid = guest.driver, guest.spec.uuid
    await wait_console(guest, "e2e: uptime")
    await driver.pause(uuid)
    assert (await driver.status(uuid)).power == Power.PAUSED
    seen = len(uptimes(await console(guest)))
    await asyncio.sleep(2.5)
    assert len(uptimes(await console(guest))) <= seen + 1  # frozen
    await driver.unpause(uuid)
    assert (await driver.status(uuid)).power == Power.RUNNING


async def test_suspend_and_resume_keep_the_guest_clock(guest: Guest) -> None:
    driver, uuid = guest.driver, guest.spec.uuid
    while len(uptimes(await console(guest))) < 3:
        await asyncio.sleep(0.3)
    started = time.monotonic()
    await driver.suspend(uuid)  # libvirt's managed save
    guest.timings["suspend"] = time.monotonic() - started
    before = uptimes(await console(guest))[-1]
    assert not qemu_pids(uuid)
    status = await driver.status(uuid)
    assert status.power == Power.SUSPENDED and status.pid is None
    seen = len(await console(guest))

    started = time.monotonic()
    status = await driver.resume(guest.spec)
    guest.timings["resume"] = time.monotonic() - started
    assert status.power == Power.RUNNING and qemu_pids(uuid) == [status.pid]
    while not uptimes((await console(guest))[seen:]):
        assert time.monotonic() - started < 60, "no uptime line after resume"
        await asyncio.sleep(0.3)
    after = (await console(guest))[seen:]
    assert READY not in after  # resumed, not rebooted
    assert uptimes(after)[0] >= before  # the clock went on


async def test_live_snapshot_is_standalone_and_holds_the_guests_data(
    guest: Guest, workdir: Path
) -> None:
    pids = qemu_pids(guest.spec.uuid)
    target = workdir / "live.qcow2"
    started = time.monotonic()
    await guest.driver.snapshot(guest.spec, target)
    guest.timings["live snapshot"] = time.monotonic() - started
    assert qemu_pids(guest.spec.uuid) == pids  # it kept running
    assert (await guest.driver.status(guest.spec.uuid)).power == Power.RUNNING
    assert boots_in(target, workdir) == "1"
    assert not list(workdir.glob("*.partial"))


async def test_stop_with_acpi_and_start_keeps_the_disk(guest: Guest) -> None:
    driver, uuid = guest.driver, guest.spec.uuid
    started = time.monotonic()
    await driver.stop(uuid, timeout=60)
    guest.timings["acpi stop"] = time.monotonic() - started
    assert (await driver.status(uuid)).power == Power.SHUTDOWN
    assert not qemu_pids(uuid)
    assert "stratus-tiny: stopping" in await console(guest)  # a clean shutdown

    target = guest.spec.directory.parent.parent / "stopped.qcow2"
    await driver.snapshot(guest.spec, target)
    assert boots_in(target, target.parent) == "1"

    started = time.monotonic()
    status = await driver.start(guest.spec)
    assert status.power == Power.RUNNING
    await wait_console(guest, "e2e: boot 2")  # the counter on the disk survived
    guest.timings["boot 2"] = time.monotonic() - started


async def test_soft_reboot(guest: Guest) -> None:
    started = time.monotonic()
    status = await guest.driver.reboot(guest.spec, hard=False, timeout=60)
    assert status.power == Power.RUNNING
    await wait_console(guest, "e2e: boot 3")
    guest.timings["boot 3 (reboot)"] = time.monotonic() - started


async def test_hard_reboot_resets_the_same_process(guest: Guest) -> None:
    pids = qemu_pids(guest.spec.uuid)
    status = await guest.driver.reboot(guest.spec, hard=True, timeout=10)
    assert status.power == Power.RUNNING and qemu_pids(guest.spec.uuid) == pids
    await wait_console(guest, "e2e: boot 4")


async def test_destroy_removes_everything(guest: Guest) -> None:
    import libvirt

    driver, uuid, directory = guest.driver, guest.spec.uuid, guest.spec.directory
    await driver.destroy(uuid, directory)
    assert not directory.exists()
    assert not qemu_pids(uuid)
    assert (await driver.status(uuid)).power == Power.NOSTATE
    conn = libvirt.open(libvirtd.URI)
    try:
        assert uuid not in [d.UUIDString() for d in conn.listAllDomains(0)]
    finally:
        conn.close()
    await driver.destroy(uuid, directory)  # idempotent
    assert digest(guest.spec.base_image) == guest.base_digest  # the base was never written
    print("timings:", {k: round(v, 2) for k, v in guest.timings.items()})


def boots_in(image: Path, scratch: Path) -> str:
    """The boot counter the guest wrote on its FAT partition, read from a
    copy of its disk: the image must be a standalone qcow2."""
    info = json.loads(
        subprocess.run(
            ["qemu-img", "info", "-U", "--output=json", str(image)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    )
    assert info["format"] == "qcow2"
    assert "backing-filename" not in info  # boots without the cached base
    raw = scratch / (image.name + ".raw")
    subprocess.run(["qemu-img", "convert", "-O", "raw", str(image), str(raw)], check=True)
    try:
        out = subprocess.run(
            ["mtype", "-i", f"{raw}@@1048576", "::/boots"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    finally:
        raw.unlink(missing_ok=True)
    return out.strip()
