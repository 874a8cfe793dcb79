"""Unit tests of the QEMU driver that boot nothing: the command line, pidfiles
and pid reuse, the console tail, the accelerator probe's firmware, the QMP
client against a scripted server, and error messages."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from stratus.compute.drivers.base import (
    Capability,
    DriverError,
    GuestSpec,
    Nic,
    PortForward,
    Power,
)
from stratus.compute.drivers.qemu import QemuDriver
from stratus.compute.drivers.qemu_command import (
    build_command,
    parse_qemu_version,
    probe_rom,
    run_probe,
)
from stratus.compute.drivers.qemu_files import live_pid, process_runs
from stratus.compute.drivers.qmp import QMPClient, QMPError
from stratus.compute.drivers.tools import run, tail_lines

UUID = "6f1c1a5e-2b1d-4c55-9a1e-0c3f9f0d7a11"


def make_spec(directory: Path, **changes: object) -> GuestSpec:
    values: dict[str, object] = dict(
        uuid=UUID,
        name="vm",
        vcpus=2,
        memory_mb=512,
        root_gb=3,
        base_image=directory.parent / "base.qcow2",
        base_format="qcow2",
        directory=directory,
    )
    values.update(changes)
    return GuestSpec(**values)  # type: ignore[arg-type]


def option(cmd: list[str], name: str) -> list[str]:
    return [cmd[i + 1] for i, arg in enumerate(cmd[:-1]) if arg == name]


# -- the command line ---------------------------------------------------------------


def test_command_line(tmp_path: Path) -> None:
    d = tmp_path / "g"
    drive = tmp_path / "config.iso"
    spec = make_spec(
        d,
        config_drive=drive,
        forwards=(PortForward(42022, 22), PortForward(42080, 80, "127.0.0.1")),
    )
    cmd = build_command(spec, qemu_binary="/usr/bin/qemu-system-x86_64", accel="tcg")
    assert cmd[0] == "/usr/bin/qemu-system-x86_64"
    assert option(cmd, "-name") == [f"guest={UUID}"]
    assert option(cmd, "-uuid") == [UUID]
    assert option(cmd, "-machine") == ["pc"]
    assert option(cmd, "-accel") == ["tcg"]
    assert option(cmd, "-m") == ["512"] and option(cmd, "-smp") == ["2"]
    assert option(cmd, "-display") == ["none"]
    assert "-daemonize" in cmd and "-nodefaults" in cmd
    assert option(cmd, "-pidfile") == [str(d / "qemu.pid")]
    assert option(cmd, "-qmp") == [f"unix:{d / 'qmp.sock'},server=on,wait=off"]
    assert option(cmd, "-chardev") == [
        f"socket,id=ser0,path={d / 'serial.sock'},server=on,wait=off,"
        f"logfile={d / 'console.log'},logappend=on"
    ]
    assert option(cmd, "-serial") == ["chardev:ser0"]
    drives = option(cmd, "-drive")
    assert drives[0] == f"file={d / 'disk.qcow2'},if=none,id=disk0,format=qcow2"
    assert "virtio-blk-pci,drive=disk0,bootindex=0" in option(cmd, "-device")
    assert drives[1] == f"file={drive},if=ide,index=1,media=cdrom,format=raw,readonly=on"
    assert option(cmd, "-netdev") == [
        "user,id=net0,hostfwd=tcp:127.0.0.1:42022-:22,hostfwd=tcp:127.0.0.1:42080-:80"
    ]
    assert "virtio-net-pci,netdev=net0" in option(cmd, "-device")
    assert "-incoming" not in cmd
    # The base image is never on the command line: qemu reaches it read-only
    # through the overlay's backing chain.
    assert not any(str(spec.base_image) in arg for arg in cmd)


def test_command_line_without_extras_and_with_incoming(tmp_path: Path) -> None:
    d = tmp_path / "a,b dir"
    spec = make_spec(d)
    cmd = build_command(spec, qemu_binary="qemu", accel="kvm", incoming=d / "state.sav")
    assert len(option(cmd, "-drive")) == 1
    assert option(cmd, "-drive")[0].startswith(f"file={tmp_path}/a,,b dir/disk.qcow2,")
    assert option(cmd, "-netdev") == ["user,id=net0"]
    assert option(cmd, "-incoming") == [f"exec:cat '{d}/state.sav'"]
    assert option(cmd, "-accel") == ["kvm"]


def test_command_line_with_ports(tmp_path: Path) -> None:
    """On the network service: one virtio-net per port, on the port's tap
    with its MAC; no user-mode network, so no forwards."""
    nics = (
        Nic("11111111-2222-3333-4444-555555555555", "fa:16:3e:00:00:01", "tap11111111-22"),
        Nic("aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee", "fa:16:3e:00:00:02", "tapaaaaaaaa-bb"),
    )
    spec = make_spec(tmp_path / "g", nics=nics, forwards=(PortForward(42022, 22),))
    cmd = build_command(spec, qemu_binary="qemu", accel="tcg")
    assert option(cmd, "-netdev") == [
        "tap,id=net-111111112222,ifname=tap11111111-22,script=no,downscript=no",
        "tap,id=net-aaaaaaaabbbb,ifname=tapaaaaaaaa-bb,script=no,downscript=no",
    ]
    devices = option(cmd, "-device")
    assert (
        "virtio-net-pci,netdev=net-111111112222,id=nic-111111112222,mac=fa:16:3e:00:00:01"
        in devices
    )
    assert (
        "virtio-net-pci,netdev=net-aaaaaaaabbbb,id=nic-aaaaaaaabbbb,mac=fa:16:3e:00:00:02"
        in devices
    )
    assert not any("hostfwd" in arg or arg.startswith("user") for arg in cmd)
    # "none" on the network service: no NIC at all.
    assert "-netdev" not in build_command(
        make_spec(tmp_path / "h", nics=()), qemu_binary="q", accel="tcg"
    )


def test_command_line_of_a_rescued_guest(tmp_path: Path) -> None:
    """While rescue.qcow2 exists the guest boots it (first virtio disk, vda)
    and its own disk comes second (vdb)."""
    d = tmp_path / "g"
    d.mkdir()
    (d / "rescue.qcow2").write_bytes(b"")
    cmd = build_command(make_spec(d), qemu_binary="qemu", accel="tcg")
    drives = option(cmd, "-drive")
    assert drives[0] == f"file={d / 'rescue.qcow2'},if=none,id=rescue0,format=qcow2"
    assert drives[1] == f"file={d / 'disk.qcow2'},if=none,id=disk0,format=qcow2"
    devices = [x for x in option(cmd, "-device") if x.startswith("virtio-blk-pci")]
    assert devices == [
        "virtio-blk-pci,drive=rescue0,bootindex=0",
        "virtio-blk-pci,drive=disk0,bootindex=1",
    ]
    (d / "rescue.qcow2").unlink()
    assert len(option(build_command(make_spec(d), qemu_binary="qemu", accel="tcg"), "-drive")) == 1


async def test_the_driver_writes_its_command_line(tmp_path: Path) -> None:
    script = tmp_path / "qemu-fails"
    script.write_text("#!/bin/sh\necho 'qemu: -m 512: cannot allocate memory' >&2\nexit 1\n")
    script.chmod(0o755)
    d = tmp_path / "g"
    d.mkdir()
    (d / "disk.qcow2").write_bytes(b"")
    driver = QemuDriver(tmp_path, hostname="h", qemu_binary=str(script), accel="tcg")
    with pytest.raises(DriverError, match="cannot allocate memory"):
        await driver.start(make_spec(d))
    written = (d / "qemu.cmdline").read_text()
    assert written.startswith(str(script)) and UUID in written
    assert (d / "uuid").read_text().strip() == UUID
    assert (await driver.status(UUID)).power == Power.SHUTDOWN


def test_capabilities() -> None:
    assert QemuDriver.capabilities == {
        Capability.PAUSE,
        Capability.SUSPEND,
        Capability.CONSOLE_LOG,
        Capability.SERIAL_CONSOLE,
        Capability.SNAPSHOT,
        Capability.RESCUE,
        Capability.MIGRATE,
        Capability.LIVE_MIGRATION,
        Capability.INTERFACE_HOTPLUG,
        Capability.VOLUME_ATTACH,
    }
    assert QemuDriver.name == "qemu"
    with pytest.raises(ValueError):
        QemuDriver(Path("/nonexistent"), hostname="h", accel="xen")


# -- pidfiles and pid reuse -----------------------------------------------------------


def test_pidfile_of_a_live_guest_and_pid_reuse(tmp_path: Path) -> None:
    d = tmp_path / "g"
    d.mkdir()
    assert live_pid(d, UUID) is None  # no pidfile
    (d / "qemu.pid").write_text("garbage\n")
    assert live_pid(d, UUID) is None
    process = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)", f"guest={UUID}"]
    )
    try:
        (d / "qemu.pid").write_text(f"{process.pid}\n")
        deadline = time.monotonic() + 5
        while not process_runs(process.pid, UUID):  # until the child has exec'd
            assert time.monotonic() < deadline
            time.sleep(0.02)
        assert live_pid(d, UUID) == process.pid
        # The same pid, but another guest's uuid: not ours.
        assert live_pid(d, "00000000-0000-0000-0000-000000000000") is None
        # A pid reused by an unrelated process (this test runner).
        (d / "qemu.pid").write_text(f"{os.getpid()}\n")
        assert live_pid(d, UUID) is None
        (d / "qemu.pid").write_text(f"{process.pid}\n")
        process.kill()
        deadline = time.monotonic() + 5
        while process_runs(process.pid, UUID):  # a zombie does not count
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert live_pid(d, UUID) is None
    finally:
        process.kill()
        process.wait()
    assert live_pid(d, UUID) is None


async def test_guests_found_on_disk(tmp_path: Path) -> None:
    driver = QemuDriver(tmp_path / "instances", hostname="h", accel="tcg")
    assert await driver.guests() == []
    stopped = tmp_path / "instances" / UUID
    stopped.mkdir(parents=True)
    (stopped / "disk.qcow2").write_bytes(b"")
    saved = tmp_path / "instances" / "other"
    saved.mkdir()
    (saved / "uuid").write_text("saved-uuid\n")
    (saved / "disk.qcow2").write_bytes(b"")
    (saved / "state.sav").write_bytes(b"x")
    (tmp_path / "instances" / "empty").mkdir()
    found = {s.uuid: s.power for s in await driver.guests()}
    assert found == {UUID: Power.SHUTDOWN, "saved-uuid": Power.SUSPENDED}
    assert (await driver.status("saved-uuid")).power == Power.SUSPENDED
    assert (await driver.status("unknown")).power == Power.NOSTATE
    with pytest.raises(DriverError, match="not running"):
        await driver.pause(UUID)
    with pytest.raises(DriverError, match="not on this host"):
        await driver.suspend("unknown")
    await driver.stop(UUID, 1)  # not running: nothing to do
    await driver.destroy(UUID, stopped)
    assert not stopped.exists()
    await driver.destroy(UUID, stopped)


async def test_spawn_without_the_base_image(tmp_path: Path) -> None:
    driver = QemuDriver(tmp_path, hostname="h", accel="tcg")
    with pytest.raises(DriverError, match="base image .* is missing"):
        await driver.spawn(make_spec(tmp_path / "g"))


async def test_resume_without_saved_state(tmp_path: Path) -> None:
    driver = QemuDriver(tmp_path, hostname="h", accel="tcg")
    (tmp_path / "g").mkdir()
    with pytest.raises(DriverError, match="no saved state"):
        await driver.resume(make_spec(tmp_path / "g"))


@pytest.mark.skipif(shutil.which("qemu-img") is None, reason="needs qemu-img")
async def test_overlay_is_created_once(tmp_path: Path) -> None:
    base = tmp_path / "base.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(base), "16M"], check=True)
    base.chmod(0o444)
    script = tmp_path / "qemu-fails"
    script.write_text("#!/bin/sh\necho nope >&2\nexit 1\n")
    script.chmod(0o755)
    driver = QemuDriver(tmp_path, hostname="h", qemu_binary=str(script), accel="tcg")
    spec = make_spec(tmp_path / "g")
    with pytest.raises(DriverError, match="nope"):
        await driver.spawn(spec)
    info = subprocess.run(
        ["qemu-img", "info", "--output=json", str(tmp_path / "g" / "disk.qcow2")],
        check=True,
        capture_output=True,
    )
    details = json.loads(info.stdout)
    assert details["virtual-size"] == 3 * 2**30
    assert details["backing-filename"] == str(base)
    stamp = (tmp_path / "g" / "disk.qcow2").stat().st_mtime_ns
    with pytest.raises(DriverError):
        await driver.spawn(spec)
    assert (tmp_path / "g" / "disk.qcow2").stat().st_mtime_ns == stamp


# -- console -------------------------------------------------------------------------


def test_console_tail(tmp_path: Path) -> None:
    log = tmp_path / "console.log"
    assert tail_lines(log, 10) == ""
    log.write_bytes(b"one\r\ntwo\r\nbad \xff byte\r\nfour")
    assert tail_lines(log, None) == "one\ntwo\nbad \ufffd byte\nfour"
    assert tail_lines(log, 2) == "bad \ufffd byte\nfour"
    assert tail_lines(log, 100).startswith("one\n")
    assert tail_lines(log, 0) == ""
    big = b"".join(b"line %d\n" % i for i in range(50_000))
    log.write_bytes(big)
    assert tail_lines(log, 3) == "line 49997\nline 49998\nline 49999\n"
    assert tail_lines(log, 20_000).count("\n") == 20_000


async def test_console_output_through_the_driver(tmp_path: Path) -> None:
    driver = QemuDriver(tmp_path, hostname="h", accel="tcg")
    (tmp_path / "g").mkdir()
    (tmp_path / "g" / "console.log").write_text("a\nb\nc\n")
    assert await driver.console_output(UUID, tmp_path / "g", 1) == "c\n"
    assert await driver.console_output(UUID, tmp_path / "g", None) == "a\nb\nc\n"


# -- host facts and the accelerator probe ------------------------------------------------


def test_parse_qemu_version() -> None:
    text = "QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)\nCopyright (c) ..."
    assert parse_qemu_version(text) == 7002022
    assert parse_qemu_version("QEMU emulator version 8.1.0\n") == 8001000
    assert parse_qemu_version("QEMU emulator version 9.0\n") == 9000000
    assert parse_qemu_version("nothing here") == 0


def test_probe_firmware_layout() -> None:
    rom = probe_rom()
    assert len(rom) == 65536
    assert rom[0xFFF0:0xFFF5] == bytes.fromhex("ea000000f0")  # jmp f000:0000 at reset
    assert rom[0] == 0xFA  # cli


@pytest.mark.skipif(shutil.which("qemu-system-x86_64") is None, reason="needs qemu")
async def test_probe_runs_under_tcg() -> None:
    started = time.monotonic()
    assert await run_probe("qemu-system-x86_64", "tcg", timeout=10)
    assert time.monotonic() - started < 5


async def test_tcg_setting_skips_the_probe(tmp_path: Path) -> None:
    driver = QemuDriver(tmp_path, hostname="h", qemu_binary="/nonexistent/qemu", accel="tcg")
    assert await driver.accelerator() == "tcg"
    with pytest.raises(DriverError, match="cannot run"):
        await driver.host_info()


# -- the QMP client against a scripted server ------------------------------------------


@pytest_asyncio.fixture
async def qmp_server(tmp_path: Path) -> AsyncIterator[Path]:
    path = tmp_path / "qmp.sock"

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        def send(message: dict[str, object]) -> None:
            writer.write(json.dumps(message).encode() + b"\r\n")

        send({"QMP": {"version": {"qemu": {"major": 7, "minor": 2, "micro": 0}}}})
        while line := await reader.readline():
            request = json.loads(line)
            command, ident = request["execute"], request.get("id")
            if command == "qmp_capabilities":
                send({"return": {}, "id": ident})
            elif command == "query-status":
                send({"event": "RESUME", "data": {}, "timestamp": {}})
                send({"return": {"status": "running", "running": True}, "id": ident})
            elif command == "system_powerdown":
                send({"return": {}, "id": ident})
                await asyncio.sleep(0.05)
                send({"event": "POWERDOWN", "data": {}, "timestamp": {}})
            elif command == "quit":
                send({"return": {}, "id": ident})
                await writer.drain()
                break
            else:
                send(
                    {
                        "error": {"class": "CommandNotFound", "desc": f"no {command}"},
                        "id": ident,
                    }
                )
            await writer.drain()
        writer.close()

    server = await asyncio.start_unix_server(serve, path=str(path))
    yield path
    server.close()
    await server.wait_closed()


async def test_qmp_client(qmp_server: Path) -> None:
    async with await QMPClient(qmp_server).connect(timeout=2) as qmp:
        assert qmp.greeting["version"]["qemu"]["major"] == 7
        assert (await qmp.execute("query-status"))["status"] == "running"
        assert [e["event"] for e in qmp.events()] == ["RESUME"]
        with pytest.raises(QMPError, match="no bogus") as info:
            await qmp.execute("bogus", {"x-y": 1})
        assert info.value.error_class == "CommandNotFound"
        await qmp.execute("system_powerdown")
        event = await qmp.wait_event("POWERDOWN", timeout=2)
        assert event["event"] == "POWERDOWN"
        assert (await qmp.wait_event("RESUME", timeout=1))["event"] == "RESUME"
        with pytest.raises(QMPError, match="no SHUTDOWN event"):
            await qmp.wait_event("SHUTDOWN", timeout=0.1)
        await qmp.execute("quit")
        for _ in range(50):
            if qmp.closed:
                break
            await asyncio.sleep(0.02)
        assert qmp.closed
        with pytest.raises(QMPError):
            await qmp.execute("query-status")


async def test_qmp_connect_failures(tmp_path: Path) -> None:
    with pytest.raises(QMPError, match="cannot connect"):
        await QMPClient(tmp_path / "missing.sock").connect(timeout=1)

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(5)

    path = tmp_path / "silent.sock"
    server = await asyncio.start_unix_server(silent, path=str(path))
    try:
        with pytest.raises(QMPError, match="timed out"):
            await QMPClient(path).connect(timeout=0.2)
    finally:
        server.close()


def _running(marker: str) -> bool:
    import subprocess as sp

    return sp.run(["pgrep", "-f", marker], capture_output=True).returncode == 0


@pytest.mark.parametrize("how", ["timeout", "cancel"])
async def test_a_command_that_is_given_up_on_leaves_no_child_behind(how: str) -> None:
    marker = f"sleep 3{os.getpid() % 1000}.{'1' if how == 'timeout' else '2'}"
    cmd = ["sh", "-c", f"{marker} & wait"]  # a wrapper and its own child, like timeout + qemu
    if how == "timeout":
        rc, _out, err = await run(cmd, timeout=0.5)
        assert rc == -1 and "timed out" in err
    else:
        task = asyncio.ensure_future(run(cmd, timeout=30))
        await asyncio.sleep(0.5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    for _ in range(50):
        if not _running(marker):
            break
        await asyncio.sleep(0.1)
    assert not _running(marker)
