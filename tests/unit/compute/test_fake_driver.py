"""The in-memory FakeDriver: power transitions, console, failures, crashes."""

from __future__ import annotations

from pathlib import Path

import pytest

from stratus.compute.drivers.base import Capability, DriverError, GuestSpec, Power
from stratus.compute.drivers.fake import FakeDriver
from stratus.compute.drivers.fake_host import READY_MARKER


def make_spec(tmp_path: Path, uuid: str = "u1") -> GuestSpec:
    return GuestSpec(
        uuid=uuid,
        name=f"vm-{uuid}",
        vcpus=1,
        memory_mb=256,
        root_gb=1,
        base_image=tmp_path / "base.qcow2",
        base_format="qcow2",
        directory=tmp_path / uuid,
    )


async def test_host_info_and_capabilities() -> None:
    driver = FakeDriver("h1", vcpus=4, memory_mb=2048, disk_gb=10)
    info = await driver.host_info()
    assert (info.hostname, info.vcpus, info.memory_mb, info.disk_gb) == ("h1", 4, 2048, 10)
    assert info.accelerator == "tcg"
    assert driver.name == "fake"
    assert driver.capabilities == frozenset(Capability)
    driver.set_host(vcpus=16)
    assert (await driver.host_info()).vcpus == 16
    limited = FakeDriver(capabilities=frozenset({Capability.PAUSE}))
    assert Capability.SUSPEND not in limited.capabilities


async def test_lifecycle(tmp_path: Path) -> None:
    driver = FakeDriver()
    spec = make_spec(tmp_path)
    assert (await driver.status("u1")).power == Power.NOSTATE

    status = await driver.spawn(spec)
    assert status.power == Power.RUNNING and status.pid
    assert (await driver.spawn(spec)).pid == status.pid  # idempotent
    assert READY_MARKER in await driver.console_output("u1", spec.directory, None)

    await driver.pause("u1")
    assert (await driver.status("u1")).power == Power.PAUSED
    await driver.unpause("u1")
    assert (await driver.status("u1")).power == Power.RUNNING

    await driver.suspend("u1")
    status = await driver.status("u1")
    assert status.power == Power.SUSPENDED and status.pid is None
    with pytest.raises(DriverError):
        await driver.pause("u1")
    assert (await driver.resume(spec)).power == Power.RUNNING
    await driver.stop("u1", 1)
    with pytest.raises(DriverError, match="no saved state"):
        await driver.resume(spec)

    assert (await driver.start(spec)).power == Power.RUNNING
    await driver.suspend("u1")
    assert (await driver.start(spec)).power == Power.RUNNING  # start resumes

    first = driver.instances["u1"].boots
    assert (await driver.reboot(spec, hard=True, timeout=1)).power == Power.RUNNING
    assert (await driver.reboot(spec, hard=False, timeout=1)).power == Power.RUNNING
    assert driver.instances["u1"].boots == first + 2

    await driver.stop("u1", 1)
    assert (await driver.status("u1")).power == Power.SHUTDOWN
    await driver.stop("u1", 1)  # idempotent


async def test_guests_crash_and_destroy(tmp_path: Path) -> None:
    driver = FakeDriver()
    a, b = make_spec(tmp_path, "a"), make_spec(tmp_path, "b")
    a.directory.mkdir()
    await driver.spawn(a)
    await driver.spawn(b)
    assert {s.uuid: s.power for s in await driver.guests()} == {
        "a": Power.RUNNING,
        "b": Power.RUNNING,
    }
    driver.crash("b")
    assert (await driver.status("b")).power == Power.SHUTDOWN
    driver.crash("a", Power.CRASHED)
    assert (await driver.status("a")).power == Power.CRASHED
    assert (await driver.start(a)).power == Power.RUNNING

    await driver.destroy("a", a.directory)
    assert not a.directory.exists()
    assert (await driver.status("a")).power == Power.NOSTATE
    await driver.destroy("a", a.directory)  # idempotent
    assert [s.uuid for s in await driver.guests()] == ["b"]
    with pytest.raises(DriverError, match="no disk"):
        await driver.start(a)


async def test_console_output(tmp_path: Path) -> None:
    driver = FakeDriver()
    spec = make_spec(tmp_path)
    assert await driver.console_output("u1", spec.directory, 5) == ""
    await driver.spawn(spec)
    driver.write_console("u1", "hello", "world")
    assert await driver.console_output("u1", spec.directory, 2) == "hello\nworld\n"
    assert await driver.console_output("u1", spec.directory, 0) == ""
    assert (await driver.console_output("u1", spec.directory, None)).endswith("world\n")


async def test_injected_failures_and_call_log(tmp_path: Path) -> None:
    driver = FakeDriver()
    spec = make_spec(tmp_path)
    driver.fail_next("spawn", "no room on this host")
    with pytest.raises(DriverError, match="no room"):
        await driver.spawn(spec)
    assert (await driver.spawn(spec)).power == Power.RUNNING  # only the next call fails
    assert driver.calls[:2] == [("spawn", "u1"), ("spawn", "u1")]
    with pytest.raises(DriverError, match="not on this host"):
        driver.crash("missing")
