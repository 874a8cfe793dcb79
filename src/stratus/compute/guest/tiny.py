"""The built-in tiny guest image, built from the host's Debian packages.

`build_tiny_image(out_dir)` makes `out_dir/tiny-<kernel>-<digest>.qcow2`: a
32 MiB disk with one FAT16 partition at 1 MiB holding syslinux, the host's
Debian kernel and an initrd made of busybox-static, the kernel modules a QEMU
guest needs and the scripts of `tiny_files`. Busybox init is PID 1; the guest
finds an OpenStack config drive, runs its user_data, starts dropbear (root
logs in with the keypair) and prints `stratus-tiny: ready` on ttyS0 (see
`tiny_files.RCS` for the whole start-up).

Nothing is downloaded. The initrd is written in Python (cpio "newc",
`tiny_initrd.py`); mkfs.vfat, mcopy, syslinux and qemu-img do the disk. A
build takes a couple of seconds, happens in a temporary folder inside
`out_dir` and ends with an atomic rename, so concurrent builds are safe. The image is left read-only (0444): boot
overlays on it, never the image itself.

Variants carry more of the host's programs with the shared libraries they load
(`EXTRAS`): `build_tiny_image(out_dir, extras=("psql",))` makes
`tiny-psql-<kernel>-<digest>.qcow2`, whose guests also have Debian's PostgreSQL
client. The plain image is the same with or without them on the host.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import struct
import subprocess
import tempfile
import time
from pathlib import Path

from stratus.compute.guest import tiny_files
from stratus.compute.guest.tiny_initrd import (
    BUSYBOX,
    EXTRAS,
    FIXED_MTIME,
    GUEST_PACKAGES,
    GUEST_PROGRAMS,
    OPTIONAL_MODULES,
    REQUIRED_MODULES,
    TinyImageError,
    extra_programs,
    make_initrd,
    version_key,
)

# Bump when the build changes in a way the digest of the inputs does not see.
BUILD_VERSION = "1"
KERNEL_CMDLINE = "console=ttyS0,115200 quiet"
DISK_SECTORS = 32 * 2048  # 32 MiB of 512-byte sectors
PART_START = 2048  # the FAT partition starts at 1 MiB
PART_OFFSET = PART_START * 512
MBR_BIN = Path("/usr/lib/syslinux/mbr/mbr.bin")


TOOLS = {
    "mkfs.vfat": "dosfstools",
    "mcopy": "mtools",
    "syslinux": "syslinux",
    "qemu-img": "qemu-utils",
    "ldd": "libc-bin",
}
SYSLINUX_CFG = f"""SERIAL 0 115200
DEFAULT linux
PROMPT 0
TIMEOUT 0
LABEL linux
  KERNEL /vmlinuz
  INITRD /initrd.img
  APPEND {KERNEL_CMDLINE}
"""


def build_tiny_image(
    out_dir: Path,
    *,
    force: bool = False,
    kernel_version: str | None = None,
    extras: tuple[str, ...] = (),
) -> Path:
    """Build (or reuse) the tiny guest image (with the programs of the
    variants `extras` names) in `out_dir` and return its path."""
    out_dir = Path(out_dir)
    extras = tuple(sorted(set(extras)))
    unknown = [e for e in extras if e not in EXTRAS]
    if unknown:
        known = ", ".join(EXTRAS)
        raise TinyImageError(f"no guest image variant {', '.join(unknown)} (known: {known})")
    kver = kernel_version or newest_kernel()
    kernel = _kernel_path(kver)
    target = out_dir / image_name(kver, extras)
    if target.is_file() and not force:
        return target
    tools = find_tools()
    out_dir.mkdir(parents=True, exist_ok=True)
    _remove_stale_builds(out_dir)
    work = Path(tempfile.mkdtemp(prefix=".tiny-build-", dir=out_dir))
    try:
        initrd = work / "initrd.img"
        initrd.write_bytes(gzip.compress(make_initrd(kver, extras), compresslevel=6, mtime=0))
        cfg = work / "syslinux.cfg"
        cfg.write_text(SYSLINUX_CFG)
        for f in (initrd, cfg):
            os.utime(f, (FIXED_MTIME, FIXED_MTIME))
        raw = work / "disk.raw"
        _make_disk(raw, tools, [(kernel, "vmlinuz"), (initrd, "initrd.img"), (cfg, "syslinux.cfg")])
        qcow = work / "disk.qcow2"
        _run([tools["qemu-img"], "convert", "-q", "-f", "raw", "-O", "qcow2", str(raw), str(qcow)])
        qcow.chmod(0o444)
        os.replace(qcow, target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target


def image_name(kver: str, extras: tuple[str, ...] = ()) -> str:
    """The image's file name: the variants, the kernel version and a digest of
    what goes in (a kernel package rebuilt under the same version changes its
    size or time)."""
    kst = _kernel_path(kver).stat()
    h = hashlib.sha256(f"{BUILD_VERSION}\0{kver}\0{kst.st_size}\0{kst.st_mtime_ns}\0".encode())
    h.update(KERNEL_CMDLINE.encode())
    h.update(repr((REQUIRED_MODULES, OPTIONAL_MODULES, SYSLINUX_CFG)).encode())
    h.update(repr((tiny_files.FILES, tiny_files.DIRS, tiny_files.SYMLINKS)).encode())
    extra = extra_programs(extras)
    for prog in [*GUEST_PROGRAMS.values(), *extra.values()]:
        pst = prog.stat()
        h.update(f"{prog}\0{pst.st_size}\0{pst.st_mtime_ns}\0".encode())
    variant = "".join(f"{e}-" for e in extras)
    return f"tiny-{variant}{kver}-{h.hexdigest()[:12]}.qcow2"


def newest_kernel() -> str:
    """The newest installed kernel that has both /boot/vmlinuz-V and its modules."""
    found = [
        p.name.removeprefix("vmlinuz-")
        for p in Path("/boot").glob("vmlinuz-*")
        if (Path("/lib/modules") / p.name.removeprefix("vmlinuz-") / "modules.dep").is_file()
    ]
    if not found:
        raise TinyImageError(
            "no kernel with modules in /boot and /lib/modules: "
            "install the Debian package linux-image-amd64"
        )
    return max(found, key=version_key)


def _kernel_path(kver: str) -> Path:
    kernel = Path(f"/boot/vmlinuz-{kver}")
    if not kernel.is_file() or not os.access(kernel, os.R_OK):
        raise TinyImageError(f"{kernel} missing or unreadable: install linux-image-{kver}")
    return kernel


def find_tools() -> dict[str, str]:
    """Absolute paths of the host tools; raise naming every missing package."""
    path = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin", "/usr/bin", "/bin"])
    tools: dict[str, str] = {}
    missing: list[str] = []
    for name, package in TOOLS.items():
        found = shutil.which(name, path=path)
        if found:
            tools[name] = found
        else:
            missing.append(f"{name} (Debian package {package})")
    if not MBR_BIN.is_file():
        missing.append(f"{MBR_BIN} (Debian package syslinux-common)")
    if not BUSYBOX.is_file():
        missing.append(f"{BUSYBOX} (Debian package busybox-static)")
    elif not _is_static(BUSYBOX):
        missing.append(f"a static {BUSYBOX} (Debian package busybox-static, not busybox)")
    missing += [
        f"{p} (Debian package {GUEST_PACKAGES[p.name]})"
        for p in GUEST_PROGRAMS.values()
        if not p.is_file()
    ]
    if missing:
        raise TinyImageError("cannot build the tiny guest image, missing: " + ", ".join(missing))
    return tools


def _is_static(elf: Path) -> bool:
    """True when the ELF file has no program interpreter (PT_INTERP)."""
    with elf.open("rb") as f:
        head = f.read(64)
        if head[:4] != b"\x7fELF" or head[4] != 2:  # 64-bit ELF only
            return False
        (phoff,) = struct.unpack_from("<Q", head, 32)
        phentsize, phnum = struct.unpack_from("<HH", head, 54)
        f.seek(phoff)
        table = f.read(phentsize * phnum)
    return all(struct.unpack_from("<I", table, i * phentsize)[0] != 3 for i in range(phnum))


def _run(argv: list[str], env: dict[str, str] | None = None) -> None:
    try:
        subprocess.run(argv, check=True, capture_output=True, env=env, timeout=120)
    except subprocess.CalledProcessError as e:
        err = (e.stderr or b"").decode(errors="replace").strip()
        raise TinyImageError(f"{' '.join(argv)} failed ({e.returncode}): {err}") from None
    except OSError as e:
        raise TinyImageError(f"cannot run {argv[0]}: {e}") from None


def _remove_stale_builds(out_dir: Path) -> None:
    """Remove temporary folders that builds killed more than an hour ago left."""
    for p in out_dir.glob(".tiny-build-*"):
        try:
            if p.is_dir() and time.time() - p.stat().st_mtime > 3600:
                shutil.rmtree(p, ignore_errors=True)
        except OSError:
            pass


# --- the disk ----------------------------------------------------------------


def _chs(lba: int) -> bytes:
    """Cylinder/head/sector of an LBA for a 255-head, 63-sector geometry."""
    c, h, s = lba // (255 * 63), (lba // 63) % 255, lba % 63 + 1
    if c > 1023:
        c, h, s = 1023, 254, 63
    return bytes([h, ((c >> 2) & 0xC0) | s, c & 0xFF])


def _mbr() -> bytes:
    """Syslinux's boot code, then one bootable FAT16 (LBA) partition from 1 MiB."""
    code = MBR_BIN.read_bytes()[:440].ljust(440, b"\0")
    count = DISK_SECTORS - PART_START
    entry = struct.pack(
        "<B3sB3sII", 0x80, _chs(PART_START), 0x0E, _chs(DISK_SECTORS - 1), PART_START, count
    )
    return code + b"STRT\0\0" + entry + b"\0" * 48 + b"\x55\xaa"


def _make_disk(raw: Path, tools: dict[str, str], files: list[tuple[Path, str]]) -> None:
    with raw.open("wb") as f:
        f.truncate(DISK_SECTORS * 512)
    kib = (DISK_SECTORS - PART_START) // 2
    _run([
        tools["mkfs.vfat"], "-F", "16", "-n", tiny_files.BOOT_LABEL, "-i", "5354524b",
        "--invariant", f"--offset={PART_START}", "-h", str(PART_START), str(raw), str(kib),
    ])  # fmt: skip
    env = dict(os.environ, MTOOLS_SKIP_CHECK="1")
    image = f"{raw}@@{PART_OFFSET}"
    for src, name in files:
        _run([tools["mcopy"], "-m", "-o", "-i", image, str(src), f"::/{name}"], env=env)
    _run([tools["syslinux"], "--install", f"--offset={PART_OFFSET}", str(raw)], env=env)
    with raw.open("r+b") as f:
        f.write(_mbr())
