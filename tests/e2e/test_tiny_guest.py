"""The built-in tiny guest image, booted once under QEMU (TCG).

The one boot checks the whole start-up: the config drive is found as an IDE
cdrom, its user_data runs with its output on the serial console, the guest
prints `stratus-tiny: ready`, root logs in over SSH (dropbear) with the key
from the config drive, a NIC and a disk plugged in and out through QMP are
announced on the console, an ACPI power button press (QMP `system_powerdown`)
powers it off by itself, and a file the user_data wrote on /mnt/disk is in the
overlay afterwards.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import uuid as uuidlib
from pathlib import Path

import pytest

from stratus.compute.agent.configdrive import build_config_drive
from stratus.compute.guest import tiny

QEMU = shutil.which("qemu-system-x86_64")
READY = "stratus-tiny: ready"
MARKER = "user-data-marker-7f3a"
BOOT_TIMEOUT = 90
USER_DATA = f"""#!/bin/sh
echo {MARKER}
echo persisted-{MARKER} > /mnt/disk/marker.txt
sync
echo "uptime: $(cut -d' ' -f1 /proc/uptime)"
""".encode()


def test_build_reuses_and_leaves_no_temp_files(tmp_path: Path) -> None:
    first = tiny.build_tiny_image(tmp_path)
    mtime = first.stat().st_mtime_ns
    assert first.name.startswith("tiny-") and first.name.endswith(".qcow2")
    assert first.stat().st_mode & 0o777 == 0o444
    assert tiny.build_tiny_image(tmp_path) == first
    assert first.stat().st_mtime_ns == mtime  # reused, not rebuilt
    assert tiny.build_tiny_image(tmp_path, force=True) == first
    assert [p.name for p in tmp_path.iterdir()] == [first.name]


def test_missing_tool_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(tiny.TOOLS, "mkfs.no-such-tool", "no-such-package")
    with pytest.raises(tiny.TinyImageError, match="no-such-package"):
        tiny.build_tiny_image(tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_psql_variant_carries_a_working_client_and_leaves_the_plain_image_alone(
    tmp_path: Path,
) -> None:
    kver = tiny.newest_kernel()
    plain = tiny.make_initrd(kver)
    image = tiny.build_tiny_image(tmp_path, extras=("psql",))
    assert image.name.startswith("tiny-psql-") and image.name != tiny.image_name(kver)
    assert 0 < image.stat().st_size < 24 << 20
    root = tmp_path / "root"
    root.mkdir()
    subprocess.run(
        ["cpio", "-id", "--quiet"], input=tiny.make_initrd(kver, ("psql",)), cwd=root, check=True
    )
    # psql runs on the guest's files alone (its libraries and the loader came
    # along) and reports a refused connection as a client would.
    out = subprocess.run(
        ["chroot", str(root), "/usr/bin/psql", "host=127.0.0.1 port=1 user=app", "-c", "select 1"],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert out.returncode == 2 and "Connection refused" in out.stderr
    assert tiny.make_initrd(kver) == plain and b"usr/bin/psql" not in plain
    with pytest.raises(tiny.TinyImageError, match="no guest image variant"):
        tiny.build_tiny_image(tmp_path, extras=("emacs",))


class Qmp:
    """Just enough QMP: a unix socket with one JSON document per line."""

    def __init__(self, path: Path) -> None:
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.settimeout(10)
        self.sock.connect(str(path))
        self.file = self.sock.makefile("rwb")
        json.loads(self.file.readline())  # the greeting
        self.execute("qmp_capabilities")

    def execute(self, command: str, **arguments: object) -> object:
        request: dict[str, object] = {"execute": command}
        if arguments:
            request["arguments"] = arguments
        self.file.write(json.dumps(request).encode() + b"\n")
        self.file.flush()
        while True:
            reply = json.loads(self.file.readline())
            if "error" in reply:
                raise RuntimeError(reply["error"])
            if "return" in reply:  # anything else is an event
                return reply["return"]

    def close(self) -> None:
        self.file.close()
        self.sock.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_line(console: Path, line: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        text = console.read_text(errors="replace")
        # (a line may follow the console's "Please press Enter" prompt)
        if any(x.strip().endswith(line) for x in text.splitlines()):
            return
        assert time.monotonic() < deadline, f"no {line!r} on the console:\n{text[-2000:]}"
        time.sleep(0.1)


def wait_for_socket(path: Path, proc: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert proc.poll() is None, "qemu exited early"
        assert time.monotonic() < deadline, "no QMP socket"
        time.sleep(0.05)


@pytest.mark.skipif(QEMU is None, reason="qemu-system-x86_64 is not installed (qemu-system-x86)")
def test_tiny_guest_boots_runs_user_data_and_powers_off(tmp_path: Path) -> None:
    assert QEMU is not None
    started = time.monotonic()
    base = tiny.build_tiny_image(tmp_path / "images")
    build_seconds = time.monotonic() - started
    overlay = tmp_path / "overlay.qcow2"
    subprocess.run(
        ["qemu-img", "create", "-q", "-f", "qcow2", "-b", str(base), "-F", "qcow2"]
        + [str(overlay), "1G"],
        check=True,
    )
    uuid = str(uuidlib.uuid4())
    key = tmp_path / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    public_key = (tmp_path / "id_ed25519.pub").read_text().strip()
    ssh_port = free_port()
    drive = tmp_path / "config.iso"
    build_config_drive(
        drive,
        meta_data={
            "uuid": uuid,
            "name": "tiny-e2e",
            "hostname": "tiny-e2e",
            "public_keys": {"k": public_key},
        },
        user_data=USER_DATA,
        network_data={"links": [], "networks": [], "services": []},
    )
    console = tmp_path / "console.log"
    qmp_path = tmp_path / "qmp.sock"
    argv = [
        QEMU, "-accel", "tcg", "-machine", "pc", "-m", "256", "-smp", "1",
        "-nodefaults", "-no-user-config", "-display", "none",
        "-drive", f"file={overlay},if=virtio,format=qcow2",
        "-drive", f"file={drive},media=cdrom,if=ide,format=raw,readonly=on",
        "-netdev", f"user,id=net0,restrict=on,hostfwd=tcp:127.0.0.1:{ssh_port}-:22",
        "-device", "virtio-net-pci,netdev=net0,romfile=",
        "-serial", f"file:{console}",
        "-qmp", f"unix:{qmp_path},server=on,wait=off",
    ]  # fmt: skip
    booted = time.monotonic()
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stderr=subprocess.PIPE)
    qmp = None
    try:
        wait_for_socket(qmp_path, proc, 10)
        qmp = Qmp(qmp_path)
        text = ""
        deadline = time.monotonic() + BOOT_TIMEOUT
        while READY not in text or MARKER not in text:
            assert proc.poll() is None, f"qemu exited: {proc.stderr.read() if proc.stderr else ''}"
            assert time.monotonic() < deadline, f"no {READY!r} in {BOOT_TIMEOUT} s:\n{text}"
            time.sleep(0.1)
            text = console.read_text(errors="replace") if console.exists() else ""
        ready_seconds = time.monotonic() - booted
        lines = [line.strip() for line in text.splitlines()]
        assert f"stratus-tiny: instance {uuid} hostname tiny-e2e" in lines
        assert MARKER in lines
        assert lines.index(MARKER) < lines.index(READY)  # user_data ran before ready
        assert any(line.startswith("uptime: ") for line in lines)
        assert "stratus-tiny: disk /dev/vda1 on /mnt/disk" in lines
        assert "stratus-tiny: user_data exited with status 0" in lines

        # Root logs in with the config drive's key.
        ssh = [
            "ssh", "-i", str(key), "-p", str(ssh_port), "-o", "StrictHostKeyChecking=no",
            "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes",
            "-o", "ConnectTimeout=30", "root@127.0.0.1",
        ]  # fmt: skip
        who = subprocess.run(
            [*ssh, "id -u; hostname"], capture_output=True, text=True, timeout=120
        )
        assert who.returncode == 0, who.stderr
        assert who.stdout.split() == ["0", "tiny-e2e"]

        # A NIC and a disk come and go, and the guest says so.
        qmp.execute("netdev_add", type="user", id="net1")
        qmp.execute(
            "device_add", driver="virtio-net-pci", id="nic1", netdev="net1",
            mac="fa:16:3e:00:00:01", romfile="",
        )  # fmt: skip
        wait_for_line(console, "stratus-tiny: nic added eth1 fa:16:3e:00:00:01")
        disk = tmp_path / "extra.qcow2"
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(disk), "16M"], check=True)
        qmp.execute(
            "blockdev-add", driver="qcow2", **{"node-name": "extra"},
            file={"driver": "file", "filename": str(disk)},
        )  # fmt: skip
        qmp.execute("device_add", driver="virtio-blk-pci", id="disk1", drive="extra")
        wait_for_line(console, "stratus-tiny: disk added vdb")
        # lsblk lists both disks, as Tempest's validation reads it (the
        # TYPE column under its header).
        listed = subprocess.run(
            [*ssh, "lsblk -lb --nodeps"], capture_output=True, text=True, timeout=120
        )
        assert listed.returncode == 0, listed.stderr
        header, *rows = listed.stdout.splitlines()
        column = header.index("TYPE")
        disks = {row.split()[0]: row.split()[3] for row in rows if row[column:column + 4] == "disk"}
        assert disks == {"vda": str(1 << 30), "vdb": str(16 << 20)}, listed.stdout
        qmp.execute("device_del", id="nic1")
        wait_for_line(console, "stratus-tiny: nic removed eth1")
        qmp.execute("device_del", id="disk1")
        wait_for_line(console, "stratus-tiny: disk removed vdb")

        qmp.execute("system_powerdown")
        proc.wait(timeout=30)  # the guest powers itself off
        assert "stratus-tiny: stopping" in console.read_text(errors="replace")
        print(f"\nbuild {build_seconds:.2f} s, ready after {ready_seconds:.2f} s, "
              f"image {base.stat().st_size / 2**20:.1f} MiB")  # fmt: skip
    finally:
        if qmp is not None:
            qmp.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait()

    # The file the guest wrote on its boot partition is in the overlay.
    raw = tmp_path / "overlay.raw"
    subprocess.run(
        ["qemu-img", "convert", "-f", "qcow2", "-O", "raw", str(overlay), str(raw)], check=True
    )
    env = dict(os.environ, MTOOLS_SKIP_CHECK="1")
    listing = subprocess.run(
        ["mdir", "-b", "-i", f"{raw}@@1M", "::/"], env=env, capture_output=True, text=True
    )
    assert "marker.txt" in listing.stdout.lower(), listing.stdout + listing.stderr
    content = subprocess.run(
        ["mtype", "-i", f"{raw}@@1M", "::/marker.txt"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert content.strip() == f"persisted-{MARKER}"
