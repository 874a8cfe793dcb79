"""A running QEMU guest's NICs plugged and unplugged over QMP (a port's
``netdev`` and its ``virtio-net-pci`` device, named by ``nic_ids``)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from typing import Any

from stratus.compute.drivers.base import DriverError, GuestSpec, Nic
from stratus.compute.drivers.qemu_command import nic_ids
from stratus.compute.drivers.qemu_files import live_pid, qmp_socket
from stratus.compute.drivers.qemu_guest import GuestProcesses
from stratus.compute.drivers.qmp import QMPError, execute_with_fd

UNPLUG_TIMEOUT = 30.0


def nic_device(nic: Nic) -> dict[str, Any]:
    netdev, device = nic_ids(nic.port_id)
    return {"driver": "virtio-net-pci", "id": device, "netdev": netdev, "mac": nic.mac}


async def _devices(qmp: Any) -> set[str]:
    found = await qmp.execute("qom-list", {"path": "/machine/peripheral"})
    return {str(item.get("name")) for item in found or []}


async def plug(processes: GuestProcesses, spec: GuestSpec, nic: Nic) -> None:
    """Hot-plug a port's NIC into a running guest (its tap opened by the
    host, when the driver was given ``open_tap``, and passed over QMP)."""
    netdev, device = nic_ids(nic.port_id)
    directory = processes.require_directory(spec.uuid)
    async with processes.lock(spec.uuid):
        if live_pid(directory, spec.uuid) is None:
            raise DriverError(f"guest {spec.uuid} is not running")
        opening: asyncio.Task[int] | None = None
        if processes.open_tap is not None:
            # The tap is opened (a thread entering the host's namespace)
            # while the monitor says what the guest has.
            opening = asyncio.create_task(asyncio.to_thread(processes.open_tap, nic.port_id))
        try:
            async with processes.qmp(directory) as qmp:
                if device in await _devices(qmp):
                    return
                with contextlib.suppress(QMPError):  # left by an interrupted plug
                    await qmp.execute("netdev_del", {"id": netdev})
                if opening is None:
                    await qmp.execute(
                        "netdev_add",
                        {"type": "tap", "id": netdev, "ifname": nic.tap,
                         "script": "no", "downscript": "no"},
                    )  # fmt: skip
                    await qmp.execute("device_add", nic_device(nic))
                    return
            # The tap's descriptor travels to QEMU over the monitor socket.
            fd, opening = await opening, None
            try:
                name = f"fd-{netdev}"
                commands = [
                    ("netdev_add", {"type": "tap", "id": netdev, "fd": name}),
                    ("device_add", nic_device(nic)),
                ]
                await asyncio.to_thread(execute_with_fd, qmp_socket(directory), fd, name, commands)
            finally:
                os.close(fd)
        except QMPError as exc:
            raise DriverError(f"could not plug port {nic.port_id}: {exc}") from exc
        finally:
            if opening is not None:  # not used: the guest has the NIC, or QMP failed
                with contextlib.suppress(Exception):
                    os.close(await opening)


async def unplug(processes: GuestProcesses, spec: GuestSpec, port_id: str) -> None:
    """Unplug a port's NIC from a running guest (nothing to do for a stopped one)."""
    netdev, device = nic_ids(port_id)
    directory = processes.require_directory(spec.uuid)
    async with processes.lock(spec.uuid):
        if live_pid(directory, spec.uuid) is None:
            return
        try:
            async with processes.qmp(directory) as qmp:
                if device in await _devices(qmp):
                    await qmp.execute("device_del", {"id": device})
                    await _wait_deleted(qmp, device)
                with contextlib.suppress(QMPError):
                    await qmp.execute("netdev_del", {"id": netdev})
        except QMPError as exc:
            raise DriverError(f"could not unplug port {port_id}: {exc}") from exc


async def _wait_deleted(qmp: Any, device: str) -> None:
    """The guest acknowledges an unplug (ACPI): wait for it."""
    deadline = time.monotonic() + UNPLUG_TIMEOUT
    while time.monotonic() < deadline:
        if device not in await _devices(qmp):
            return
        await asyncio.sleep(0.1)
    raise DriverError(f"the guest did not release {device} within {UNPLUG_TIMEOUT:g} s")
