"""Diagnostics, the crash dump's NMI and the serial console's socket
against real QEMU processes (TCG, stopped before their first instruction:
no guest boots, about 0.2 s each)."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from stratus.compute.drivers.qemu_diagnostics import process_uptime, read_diagnostics
from stratus.compute.drivers.qmp import QMPClient
from stratus.compute.drivers.serial import SocketSerial

pytestmark = pytest.mark.skipif(
    shutil.which("qemu-system-x86_64") is None or shutil.which("qemu-img") is None,
    reason="needs qemu",
)
MAC = "fa:16:3e:12:34:56"


@pytest_asyncio.fixture
async def qemu(tmp_path: Path) -> AsyncIterator[tuple[QMPClient, int]]:
    disk = tmp_path / "disk.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(disk), "16M"], check=True)
    sock = tmp_path / "qmp.sock"
    proc = subprocess.Popen(
        [
            "qemu-system-x86_64", "-M", "pc", "-S", "-accel", "tcg", "-display", "none",
            "-nodefaults", "-m", "64", "-smp", "2",
            "-qmp", f"unix:{sock},server=on,wait=off",
            "-drive", f"file={disk},if=none,id=disk0,format=qcow2",
            "-device", "virtio-blk-pci,drive=disk0",
            "-netdev", "user,id=net0", "-device", f"virtio-net-pci,netdev=net0,mac={MAC}",
        ]
    )  # fmt: skip
    try:
        for _ in range(100):
            if sock.exists():
                break
            await asyncio.sleep(0.05)
        async with await QMPClient(sock).connect(timeout=5) as qmp:
            yield qmp, proc.pid
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)


async def test_diagnostics_and_nmi_of_a_real_qemu(qemu: tuple[QMPClient, int]) -> None:
    qmp, pid = qemu
    d = await read_diagnostics(qmp, pid, "tcg", config_drive=True)
    assert (d.driver, d.hypervisor, d.state) == ("qemu", "qemu", "pending")  # -S: prelaunch
    assert d.num_cpus == 2 and d.memory_mb == 64 and d.config_drive
    assert [disk.name for disk in d.disks] == ["vda"]
    assert [nic.mac_address for nic in d.nics] == [MAC]
    assert d.uptime is not None and 0 <= d.uptime < 60
    await qmp.execute("cont")
    assert (await read_diagnostics(qmp, pid, "kvm", config_drive=False)).state == "running"
    assert await qmp.execute("inject-nmi") == {}  # what trigger_crash_dump sends


def test_uptime_of_a_process_that_is_gone() -> None:
    assert process_uptime(os.getpid()) is not None
    assert process_uptime(2**22 + 1) is None


async def test_the_serial_socket_talks_and_logs(tmp_path: Path) -> None:
    """The chardev the driver gives the serial port (``qemu_command.py``):
    here QEMU's monitor runs on it, as a stand-in for a guest's shell.
    What QEMU writes reaches the connected console and console.log both."""
    sock, log = tmp_path / "serial.sock", tmp_path / "console.log"
    proc = subprocess.Popen(
        [
            "qemu-system-x86_64", "-M", "none", "-S", "-display", "none", "-nodefaults",
            "-chardev",
            f"socket,id=ser0,path={sock},server=on,wait=off,logfile={log},logappend=on",
            "-mon", "chardev=ser0,mode=readline",
        ]
    )  # fmt: skip
    try:
        for _ in range(100):
            if sock.exists():
                break
            await asyncio.sleep(0.05)
        serial = await SocketSerial.open(sock, "g")
        seen = b""
        await serial.write(b"info name\r\n")
        # Until the echo and the prompt after it (the banner's prompt may come first).
        while b"info name" not in seen or b"(qemu)" not in seen.rpartition(b"info name")[2]:
            seen += await asyncio.wait_for(serial.read(), 10)
        assert b"QEMU" in seen  # the monitor's banner
        await serial.close()
        assert b"info name" in log.read_bytes()  # the echo, logged
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
