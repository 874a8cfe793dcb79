"""Live migration at the driver level with two fake drivers (two hosts):
completion, abort (the guest stays on the source, running), force-complete,
and the destination side thrown away."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from stratus.compute.drivers.base import DriverError, GuestSpec, Power
from stratus.compute.drivers.fake import FakeDriver
from stratus.compute.drivers.fake_host import MIGRATION_SECONDS
from stratus.compute.drivers.live import LiveControl, LiveMigrationDriver, LiveProgress


def spec(tmp_path: Path, host: str, seconds: float = 0.1) -> GuestSpec:
    return GuestSpec(
        uuid="u1",
        name="vm",
        vcpus=1,
        memory_mb=256,
        root_gb=1,
        base_image=tmp_path / "base.qcow2",
        base_format="qcow2",
        directory=tmp_path / host / "u1",
        metadata={MIGRATION_SECONDS: str(seconds)},
    )


@pytest.fixture
def hosts(tmp_path: Path) -> tuple[FakeDriver, FakeDriver]:
    return FakeDriver("h1"), FakeDriver("h2")


def test_fake_driver_is_a_live_migration_driver() -> None:
    assert isinstance(FakeDriver(), LiveMigrationDriver)


async def test_complete(tmp_path: Path, hosts: tuple[FakeDriver, FakeDriver]) -> None:
    source, dest = hosts
    await source.spawn(spec(tmp_path, "h1"))
    target = await dest.prepare_incoming(spec(tmp_path, "h2"))
    assert (await dest.status("u1")).power == Power.PAUSED
    seen: list[LiveProgress] = []

    async def progress(report: LiveProgress) -> LiveControl:
        seen.append(report)
        return LiveControl.CONTINUE

    result = await source.live_migrate(spec(tmp_path, "h1"), target, progress)
    assert result.completed and result.total_ms is not None
    assert {r.phase for r in seen} == {"disk", "memory"}
    assert (await source.status("u1")).power == Power.PAUSED  # stopped, until finish_outgoing
    assert await source.recover_outgoing(spec(tmp_path, "h1"))  # a restarted agent would see it done
    await source.finish_outgoing("u1", tmp_path / "h1" / "u1")
    assert (await source.status("u1")).power == Power.NOSTATE
    status = await dest.finish_incoming(spec(tmp_path, "h2"), running=True)
    assert status.power == Power.RUNNING
    assert dest.instances["u1"].boots == 0  # never booted there: it arrived running


async def test_abort_keeps_the_guest_on_the_source(tmp_path: Path, hosts: tuple[FakeDriver, FakeDriver]) -> None:
    source, dest = hosts
    booted = await source.spawn(spec(tmp_path, "h1", seconds=5))
    target = await dest.prepare_incoming(spec(tmp_path, "h2"))
    calls = 0

    async def progress(report: LiveProgress) -> LiveControl:
        nonlocal calls
        calls += 1
        return LiveControl.ABORT if calls >= 3 else LiveControl.CONTINUE

    result = await source.live_migrate(spec(tmp_path, "h1", seconds=5), target, progress)
    assert not result.completed
    after = await source.status("u1")
    assert after.power == Power.RUNNING and after.pid == booted.pid
    assert not await source.recover_outgoing(spec(tmp_path, "h1"))
    await dest.abort_incoming("u1", tmp_path / "h2" / "u1")
    assert (await dest.status("u1")).power == Power.NOSTATE


async def test_force_complete_converges(tmp_path: Path, hosts: tuple[FakeDriver, FakeDriver]) -> None:
    source, dest = hosts
    slow = spec(tmp_path, "h1", seconds=60)
    await source.spawn(slow)
    target = await dest.prepare_incoming(spec(tmp_path, "h2"))

    async def progress(report: LiveProgress) -> LiveControl:
        return LiveControl.FORCE_COMPLETE

    result = await source.live_migrate(slow, target, progress)
    assert result.completed


async def test_failure_leaves_the_guest_running(tmp_path: Path, hosts: tuple[FakeDriver, FakeDriver]) -> None:
    source, dest = hosts
    await source.spawn(spec(tmp_path, "h1"))
    target = await dest.prepare_incoming(spec(tmp_path, "h2"))
    source.fail_next("live_migrate", "the network went away")

    async def progress(report: LiveProgress) -> LiveControl:
        return LiveControl.CONTINUE

    with pytest.raises(DriverError, match="network went away"):
        await source.live_migrate(spec(tmp_path, "h1"), target, progress)
    assert (await source.status("u1")).power == Power.RUNNING
    assert dataclasses.asdict(target)["disk_uri"].startswith("fake://h2/")
