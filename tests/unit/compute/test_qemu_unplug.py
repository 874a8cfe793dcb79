"""Detaching a disk from a QEMU guest (``qemu_volumes.unplug``) against a
scripted monitor: a guest that misses the first request (still booting)
is asked again until it lets the disk go, and one that never does is an
error that leaves the disk attached.  A data volume's device has the PCI
slot its name gives (``qemu_volumes.pci_slot``)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from stratus.compute.drivers import qemu_volumes
from stratus.compute.drivers.base import DriverError, VolumeDisk
from stratus.compute.drivers.qmp import QMPError

DISK = VolumeDisk(serial="0123456789abcdef", device="/dev/vdb", kind="file", path="/nowhere")


class Monitor:
    """A guest that releases the device on the ``honour``-th device_del
    (never when 0); the last ``refuse_again`` answers to a repeated request
    are QEMU's "already in the process of unplug"."""

    def __init__(self, honour: int, refuse_again: bool = False):
        self.honour = honour
        self.refuse_again = refuse_again
        self.asked = 0
        self.devices = {qemu_volumes.device_id(DISK)}
        self.nodes = {qemu_volumes.node_name(DISK)}
        self.events: list[dict[str, Any]] = []

    async def execute(self, command: str, args: dict[str, Any] | None = None) -> Any:
        if command == "qom-list":
            return [{"name": d, "type": "child<virtio-blk-pci>"} for d in self.devices]
        if command == "query-named-block-nodes":
            return [{"node-name": n} for n in self.nodes]
        if command == "blockdev-del":
            self.nodes.discard(args["node-name"] if args else "")
            return {}
        assert command == "device_del", command
        self.asked += 1
        if self.asked == self.honour:
            self.devices.clear()
            self.events.append({"event": "DEVICE_DELETED", "data": {"device": args["id"] if args else ""}})
        elif self.asked > 1 and self.refuse_again:
            raise QMPError(f"Device {args['id'] if args else ''} is already in the process of unplug")
        return {}

    async def wait_event(self, name: str, timeout: float) -> dict[str, Any]:
        if self.events:
            return self.events.pop(0)
        await asyncio.sleep(timeout)
        raise QMPError(f"no {name} event within {timeout:g} s")


@pytest.fixture(autouse=True)
def quick(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(qemu_volumes, "ASK_AGAIN", 0.05)


def test_a_guest_that_missed_the_request_is_asked_again() -> None:
    qmp = Monitor(honour=3)
    asyncio.run(qemu_volumes.unplug(qmp, DISK, timeout=5))  # type: ignore[arg-type]
    assert qmp.asked == 3
    assert not qmp.devices and not qmp.nodes  # the node is closed once the guest let go


def test_a_pending_unplug_refused_as_a_duplicate_is_waited_on() -> None:
    qmp = Monitor(honour=0, refuse_again=True)
    with pytest.raises(DriverError, match="did not release the disk"):
        asyncio.run(qemu_volumes.unplug(qmp, DISK, timeout=0.3))  # type: ignore[arg-type]
    assert qmp.asked >= 2
    assert qmp.devices and qmp.nodes  # it stays attached


def test_a_guest_that_never_lets_go_keeps_the_disk() -> None:
    qmp = Monitor(honour=0)
    with pytest.raises(DriverError, match="stays attached"):
        asyncio.run(qemu_volumes.unplug(qmp, DISK, timeout=0.3))  # type: ignore[arg-type]
    assert qmp.nodes == {qemu_volumes.node_name(DISK)}


def test_a_first_request_answered_at_once_is_the_only_one() -> None:
    qmp = Monitor(honour=1)
    asyncio.run(qemu_volumes.unplug(qmp, DISK, timeout=5))  # type: ignore[arg-type]
    assert qmp.asked == 1
    assert not qmp.nodes


def test_a_data_volume_has_the_pci_slot_of_its_device_name() -> None:
    """Both QEMUs of a live migration place a volume at the same address,
    whether it was hot-plugged or on the command line: its name decides."""
    vdc = VolumeDisk(serial="fedcba9876543210", device="/dev/vdc", kind="file", path="/x")
    assert qemu_volumes.device(DISK)["addr"] == "0x11"
    assert qemu_volumes.device(vdc)["addr"] == "0x12"
    assert "addr=0x12" in qemu_volumes.command_args(vdc)[-1]
    assert "addr" not in qemu_volumes.device(DISK, bootindex=0)  # a boot volume: QEMU's choice
    past = VolumeDisk(serial="a", device="/dev/vdq", kind="file", path="/x")
    assert "addr" not in qemu_volumes.device(past)
