"""The QEMU command line of a guest, and the host facts the driver probes
(the qemu version, memory, whether KVM works)."""

from __future__ import annotations

import contextlib
import logging
import os
import shlex
import shutil
import tempfile
import time
from pathlib import Path

from stratus.compute.drivers.base import GuestSpec
from stratus.compute.drivers.qemu_files import (
    disk_path,
    pid_file,
    qmp_socket,
    rescue_disk_path,
    serial_socket,
)
from stratus.compute.drivers.qemu_volumes import command_args as volume_args
from stratus.compute.drivers.tools import run

log = logging.getLogger(__name__)


# -- the command line --------------------------------------------------------------


def _opt(value: object) -> str:
    """Escape a value inside a qemu ``-option key=value,...`` list."""
    return str(value).replace(",", ",,")


def build_command(
    spec: GuestSpec,
    *,
    qemu_binary: str,
    accel: str,
    incoming: Path | str | None = None,
    tap_fds: dict[str, int] | None = None,
) -> list[str]:
    directory = spec.directory
    cmd = [
        qemu_binary,
        "-name", f"guest={_opt(spec.uuid)}",
        "-uuid", spec.uuid,
        "-machine", "pc",
        "-accel", accel,
        "-m", str(spec.memory_mb),
        "-smp", str(spec.vcpus),
        "-nodefaults",
        "-no-user-config",
        "-display", "none",
        "-daemonize",
        "-pidfile", str(pid_file(directory)),
        "-qmp", f"unix:{_opt(qmp_socket(directory))},server=on,wait=off",
        # The serial console: a socket a console websocket connects to, its
        # output logged to console.log whether anyone is connected or not.
        "-chardev",
        f"socket,id=ser0,path={_opt(serial_socket(directory))},server=on,wait=off,"
        f"logfile={_opt(spec.console_log)},logappend=on",
        "-serial", "chardev:ser0",
    ]  # fmt: skip
    rescue = rescue_disk_path(directory)
    if rescue.exists():
        # Rescued: boot the rescue disk (vda); the guest's own disk is vdb.
        cmd += [
            "-drive", f"file={_opt(rescue)},if=none,id=rescue0,format=qcow2",
            "-device", "virtio-blk-pci,drive=rescue0,bootindex=0",
        ]  # fmt: skip
    boot = 1 if rescue.exists() else 0
    if spec.root_volume is not None:  # booted from a volume: it is the root disk
        cmd += volume_args(spec.root_volume, boot)
    else:
        cmd += [
            "-drive", f"file={_opt(disk_path(directory))},if=none,id=disk0,format=qcow2",
            "-device", f"virtio-blk-pci,drive=disk0,bootindex={boot}",
        ]  # fmt: skip
    for volume in spec.volumes:
        cmd += volume_args(volume)
    if spec.config_drive is not None:
        cmd += [
            "-drive",
            f"file={_opt(spec.config_drive)},if=ide,index=1,media=cdrom,format=raw,readonly=on",
        ]
    cmd += network_options(spec, tap_fds)
    if isinstance(incoming, str):  # a migration URI, e.g. "defer" (live migration)
        cmd += ["-incoming", incoming]
    elif incoming is not None:
        cmd += ["-incoming", "exec:cat " + shlex.quote(str(incoming))]
    return cmd


def nic_ids(port_id: str) -> tuple[str, str]:
    """The QEMU ids of a port's netdev and device (stable: hot-plug finds them)."""
    short = port_id.replace("-", "")[:12]
    return f"net-{short}", f"nic-{short}"


def network_options(spec: GuestSpec, tap_fds: dict[str, int] | None = None) -> list[str]:
    """One virtio-net per port, on the port's tap with the port's MAC (the
    tap's open descriptor when ``tap_fds`` has it, else its name); with no
    network service, QEMU's user-mode network with the forwarded ports."""
    if spec.nics is None:
        netdev = "user,id=net0"
        for fwd in spec.forwards:
            netdev += f",hostfwd=tcp:{fwd.host_address}:{fwd.host_port}-:{fwd.guest_port}"
        return ["-netdev", netdev, "-device", "virtio-net-pci,netdev=net0"]
    out: list[str] = []
    for nic in spec.nics:
        netdev, device = nic_ids(nic.port_id)
        fd = (tap_fds or {}).get(nic.port_id)
        tap = f"fd={fd}" if fd is not None else f"ifname={_opt(nic.tap)},script=no,downscript=no"
        out += [
            "-netdev", f"tap,id={netdev},{tap}",
            "-device", f"virtio-net-pci,netdev={netdev},id={device},mac={nic.mac}",
        ]  # fmt: skip
    return out


# -- host facts ----------------------------------------------------------------------


def parse_qemu_version(text: str) -> int:
    """``QEMU emulator version 7.2.22 (...)`` -> 7002022."""
    for word in text.split():
        parts = word.split(".")
        if len(parts) >= 2 and all(p.isdigit() for p in parts[:3]):
            numbers = [int(p) for p in parts[:3]] + [0] * (3 - len(parts[:3]))
            return numbers[0] * 1_000_000 + numbers[1] * 1_000 + numbers[2]
    return 0


def host_memory_mb() -> int:
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) // 1024
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20


def probe_rom() -> bytes:
    """A 64 KiB firmware that switches the vCPU from real mode to 64-bit long
    mode (GDT, PAE paging, EFER.LME) and then writes 0x2a to the
    isa-debug-exit port, so qemu exits with status 0x2a * 2 + 1 = 85.
    Real-mode code alone runs under a broken nested KVM; long mode hangs."""
    code = bytes.fromhex(
        "fab800f08ed8660f011660000f20e06683c8200f22e066b800100f000f22d8"
        "66b9800000c00f32660d000100000f300f20c0660d010000800f22c066ea43"
        "000f000800b02ae6f4f4ebfd"
    )
    rom = bytearray(0x10000)
    rom[: len(code)] = code
    rom[0x58:0x60] = (0x00209A0000000000).to_bytes(8, "little")  # 64-bit code segment
    rom[0x60:0x66] = (15).to_bytes(2, "little") + (0xF0050).to_bytes(4, "little")  # GDTR
    rom[0x1000:0x1008] = (0xF2000 | 0x23).to_bytes(8, "little")  # PML4 -> PDPT
    rom[0x2000:0x2008] = (0xF3000 | 0x23).to_bytes(8, "little")  # PDPT -> PD
    rom[0x3000:0x3008] = (0xE3).to_bytes(8, "little")  # PD: 2 MiB page at 0
    rom[0xFFF0:0xFFF5] = bytes.fromhex("ea0000" + "00f0")  # reset vector: jmp f000:0000
    return bytes(rom)


PROBE_EXIT_STATUS = 85


_probed: dict[str, str] = {}  # qemu binary -> accelerator, probed once per process


async def probe_accelerator(qemu_binary: str, timeout: float = 3.0) -> str:
    """``kvm`` if a guest reaches long mode under KVM within ``timeout``."""
    if qemu_binary not in _probed:
        if not os.access("/dev/kvm", os.R_OK | os.W_OK):
            log.info("qemu driver: /dev/kvm is not usable: TCG")
            _probed[qemu_binary] = "tcg"
        else:
            ok = await run_probe(qemu_binary, "kvm", timeout)
            _probed[qemu_binary] = "kvm" if ok else "tcg"
    return _probed[qemu_binary]


async def run_probe(qemu_binary: str, accel: str, timeout: float) -> bool:
    with tempfile.TemporaryDirectory(prefix="stratus-probe-") as tmp:
        rom = Path(tmp) / "probe.rom"
        rom.write_bytes(probe_rom())
        cmd = [qemu_binary, "-accel", accel, "-machine", "pc", "-m", "16"]
        cmd += ["-display", "none", "-nodefaults", "-no-user-config", "-bios", str(rom)]
        cmd += ["-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"]
        if shutil.which("timeout"):
            # A probe that hangs (KVM here does) is killed even when this
            # process dies first: a hung KVM guest spins a core forever.
            cmd = ["timeout", "-s", "KILL", f"{timeout + 2:g}", *cmd]
        started = time.monotonic()
        rc, _out, err = await run(cmd, timeout)
    ok = rc == PROBE_EXIT_STATUS
    log.info(
        "qemu driver: %s probe %s in %.2f s%s",
        accel,
        "passed" if ok else "failed",
        time.monotonic() - started,
        "" if ok else f" ({err.strip()[:200] or f'status {rc}'})",
    )
    return ok
