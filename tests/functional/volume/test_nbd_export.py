"""A volume served over NBD with TLS-PSK (``drivers/nbd_export.py``) and
read by QEMU's own NBD client: ``qemu-io`` with the key the connection
carries, a wrong key refused, and a QEMU machine that hot-plugs the export
as a virtio disk the way the compute agent does (``qemu_volumes.hotplug``)
and reads it through its block layer.  A protocol export (the file's bytes,
the consumer running qcow2) is served while another process holds the
image's lock, where an export of the format is refused, and holds the lock
itself once started again with locking on.  Real qemu-storage-daemon,
qemu-io and qemu-system-x86_64; no cloud, no database."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from stratus.compute.agent.volumes import disk_of, write_psk
from stratus.compute.drivers.qemu_volumes import hotplug
from stratus.compute.drivers.qmp import QMPClient
from stratus.compute.models import VolumeAttachment
from stratus.volume.drivers.base import DriverError
from stratus.volume.drivers.nbd_export import PROTOCOL, ExportedVolume, NbdExports, new_member

pytestmark = pytest.mark.skipif(
    not all(shutil.which(b) for b in ("qemu-storage-daemon", "qemu-io", "qemu-system-x86_64")),
    reason="needs qemu-storage-daemon, qemu-io and qemu-system-x86_64",
)

VOLUME = "5a5a5a5a-1111-2222-3333-444455556666"


@pytest.fixture
def folder() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="nbdx-", dir="/tmp"))  # short: unix sockets live here
    yield path
    shutil.rmtree(path, ignore_errors=True)


def make_volume(folder: Path) -> Path:
    path = folder / f"volume-{VOLUME}.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(path), "64M"], check=True)
    cmd = ["qemu-io", "-f", "qcow2", "-c", "write -P 0x5a 0 1M", str(path)]
    subprocess.run(cmd, check=True, capture_output=True)
    return path


def export(exports: NbdExports, volume: Path) -> ExportedVolume:
    """The volume served to one consumer (the agent names it after its attachment)."""
    member = new_member("att-1")
    asyncio.run(exports.serve(VOLUME, volume, "qcow2", [member]))
    return exports.exported(VOLUME, member)


def qemu_io(keys_dir: Path, identity: str, host: str, port: int, command: str, fmt: str = "raw") -> str:
    opts = (
        f"driver={fmt},file.driver=nbd,file.server.type=inet,file.server.host={host},"
        f"file.server.port={port},file.export=att-1,file.tls-creds=tls0"
    )
    proc = subprocess.run(
        [
            "qemu-io",
            "--object",
            f"tls-creds-psk,id=tls0,endpoint=client,dir={keys_dir},username={identity}",
            "--image-opts",
            opts,
            "-c",
            command,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return proc.stdout + proc.stderr


def test_a_protocol_export_serves_a_file_another_process_holds(folder: Path) -> None:
    volume = make_volume(folder)
    size = volume.stat().st_size
    # The guest's QEMU on the volume's host: the image open, its lock held.
    holder = subprocess.Popen(
        ["qemu-storage-daemon", "--blockdev",
         f'{{"driver":"qcow2","node-name":"g","file":{{"driver":"file","filename":"{volume}"}}}}'],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    exports = NbdExports(folder / "exports")
    member = new_member("att-1")
    try:
        deadline = 50
        while subprocess.run(["qemu-img", "info", str(volume)], capture_output=True).returncode == 0:
            deadline -= 1
            assert deadline and holder.poll() is None
            subprocess.run(["sleep", "0.1"])
        with pytest.raises(DriverError, match="lock"):
            asyncio.run(exports.serve(VOLUME, volume, "qcow2", [member]))
        asyncio.run(exports.serve(VOLUME, volume, "qcow2", [member], layer=PROTOCOL, locking=False,
                                  room=256 << 20))  # fmt: skip
        exported = exports.exported(VOLUME, member)
        assert exported.connection().data["format"] == "qcow2"
        assert volume.stat().st_size == 256 << 20 > size  # room for the image to grow
        keys = folder / "client"
        keys.mkdir()
        (keys / "keys.psk").write_text(f"{member.identity}:{member.key}\n")
        args = (keys, member.identity, exported.host, exported.port)
        out = qemu_io(*args, "read -P 0x5a 0 1M", fmt="qcow2")
        assert "read 1048576/1048576 bytes" in out, out
        holder.terminate()
        holder.wait(timeout=10)
        # Nobody else has the file: the daemon, started again on its port
        # with its keys, holds the lock.
        asyncio.run(exports.serve(VOLUME, volume, "qcow2", [member], layer=PROTOCOL, locking=True))
        assert exports.port(VOLUME) == exported.port and exports.locking(VOLUME)
        info = subprocess.run(["qemu-img", "info", str(volume)], capture_output=True, text=True)
        assert info.returncode != 0 and "lock" in info.stderr
        # The consumer's qcow2 allocates past the file's former end.
        out = qemu_io(*args, "write -P 0x77 32M 8M", fmt="qcow2")
        assert "wrote 8388608/8388608 bytes" in out, out
    finally:
        if holder.poll() is None:
            holder.kill()
        asyncio.run(exports.stop(VOLUME))
    check = subprocess.run(["qemu-img", "check", str(volume)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    read = ["qemu-io", "-f", "qcow2", "-c", "read -P 0x5a 0 1M", "-c", "read -P 0x77 32M 8M", str(volume)]
    out = subprocess.run(read, capture_output=True, text=True)
    assert out.stdout.count("read ") == 2 and "failed" not in out.stdout + out.stderr, out.stdout


def test_export_read_with_its_key_and_refused_without(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    volume = make_volume(folder)
    # A data folder given relative to where the agent runs (`--data-dir data`).
    monkeypatch.chdir(folder)
    exports = NbdExports(Path("exports"))
    exported = export(exports, volume.relative_to(folder))
    try:
        conn = exported.connection()
        assert conn.driver_volume_type == "nbd"
        assert exports.running() == [VOLUME]
        assert (folder / "exports" / VOLUME / "keys.psk").stat().st_mode & 0o077 == 0
        # The consumer's side: the key from the connection, written by the agent's helper.
        row = VolumeAttachment(
            server_id="s", volume_id=VOLUME, device="/dev/vdb", connection_info={
                "driver_volume_type": "nbd", "data": conn.data
            },
        )  # fmt: skip
        disk = disk_of(row)
        assert disk is not None and disk.kind == "nbd"
        disk = write_psk(disk, row, folder / "client")
        keys = Path(disk.psk_file).parent
        out = qemu_io(keys, disk.psk_identity, exported.host, exported.port, "read -P 0x5a 0 1M")
        assert "read 1048576/1048576 bytes" in out, out
        out = qemu_io(keys, disk.psk_identity, exported.host, exported.port, "write -P 0x77 1M 4k")
        assert "wrote 4096/4096 bytes" in out, out

        wrong = folder / "wrong"
        wrong.mkdir()
        (wrong / "keys.psk").write_text(f"{disk.psk_identity}:{'00' * 32}\n")
        refused = qemu_io(wrong, disk.psk_identity, exported.host, exported.port, "read 0 4k")
        assert "read 4096/4096" not in refused
        assert "TLS" in refused or "handshake" in refused.lower() or "failed" in refused, refused
    finally:
        asyncio.run(exports.stop(VOLUME))
    assert exports.running() == []
    assert not (folder / "exports" / VOLUME).exists()
    # What a guest wrote over the network is in the volume's file.
    check = ["qemu-io", "-f", "qcow2", "-c", "read -P 0x77 1M 4k", str(volume)]
    assert "read 4096/4096" in subprocess.run(check, capture_output=True, text=True).stdout


def test_a_qemu_machine_hot_plugs_the_export(folder: Path) -> None:
    volume = make_volume(folder)
    exports = NbdExports(folder / "exports")
    exported = export(exports, volume)
    qmp_sock = folder / "qmp.sock"
    copy = folder / "copy.raw"
    machine = subprocess.Popen(
        ["qemu-system-x86_64", "-machine", "pc", "-accel", "tcg", "-m", "64", "-S",
         "-nodefaults", "-display", "none", "-qmp", f"unix:{qmp_sock},server=on,wait=off"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        row = VolumeAttachment(
            server_id="s", volume_id=VOLUME, device="/dev/vdb",
            connection_info={"driver_volume_type": "nbd", "data": exported.connection().data},
        )  # fmt: skip
        disk = disk_of(row)
        assert disk is not None
        disk = write_psk(disk, row, folder / "client")

        async def plug() -> str:
            for _ in range(100):
                if qmp_sock.exists():
                    break
                await asyncio.sleep(0.05)
            qmp = QMPClient(qmp_sock)
            await qmp.connect(timeout=10)
            try:
                await hotplug(qmp, disk)
                await hotplug(qmp, disk)  # again: nothing changes
                blocks = await qmp.execute("query-block")
                assert any(("voldev-" + VOLUME.replace("-", "")[:24]) in b.get("qdev", "")
                           for b in blocks), blocks  # fmt: skip
                # The machine's block layer reads the volume over the network:
                # a full copy of the node into a local file, checked below.
                await qmp.execute(
                    "drive-backup",
                    {"job-id": "copy", "device": "vol-" + VOLUME.replace("-", "")[:24],
                     "target": str(copy), "format": "raw", "sync": "full"},
                )  # fmt: skip
                event = await qmp.wait_event("BLOCK_JOB_COMPLETED", 60)
                return str(event.get("data", {}).get("error", ""))
            finally:
                await qmp.close()

        assert asyncio.run(plug()) == ""
        check = ["qemu-io", "-f", "raw", "-c", "read -P 0x5a 0 1M", str(copy)]
        out = subprocess.run(check, capture_output=True, text=True).stdout
        assert "read 1048576/1048576 bytes" in out, out
    finally:
        machine.send_signal(signal.SIGKILL)
        machine.wait()
        asyncio.run(exports.stop(VOLUME))
    assert not any(
        str(folder) in Path(f"/proc/{p}/cmdline").read_text(errors="replace")
        for p in os.listdir("/proc")
        if p.isdigit() and Path(f"/proc/{p}/cmdline").exists()
    )
