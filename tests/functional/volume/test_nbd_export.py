"""A volume served over NBD with TLS-PSK (``drivers/nbd_export.py``) and
read by QEMU's own NBD client: ``qemu-io`` with the key the connection
carries, a wrong key refused, and a QEMU machine that hot-plugs the export
as a virtio disk the way the compute agent does (``qemu_volumes.hotplug``)
and reads it through its block layer.  Real qemu-storage-daemon, qemu-io
and qemu-system-x86_64; no cloud, no database."""

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
from stratus.volume.drivers.nbd_export import ExportedVolume, NbdExports, new_member

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


def qemu_io(keys_dir: Path, identity: str, host: str, port: int, command: str) -> str:
    opts = (
        f"driver=raw,file.driver=nbd,file.server.type=inet,file.server.host={host},"
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
