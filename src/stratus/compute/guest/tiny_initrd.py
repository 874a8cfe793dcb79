"""The tiny guest's initrd, written here in Python as a cpio "newc" archive:
busybox-static and its applets, the scripts of `tiny_files`, the kernel
modules a QEMU guest needs (with their dependencies and modprobe's index
files), the SSH server and the programs of the image's variants (`EXTRAS`),
each with the shared libraries it loads.  `tiny.py` builds the disk around it.
"""

from __future__ import annotations

import re
import stat
import subprocess
from pathlib import Path

from stratus.compute.guest import tiny_files

FIXED_MTIME = 1_700_000_000  # file times in the image, so that builds are reproducible

# Kernel modules for the guest (their dependencies come along). The required
# ones must be modules or built in; the others are taken when the kernel has them.
REQUIRED_MODULES = ("virtio_pci", "virtio_blk", "virtio_net", "isofs", "vfat", "sr_mod")
OPTIONAL_MODULES = (
    "virtio_scsi", "virtio_balloon", "virtio_rng", "virtio_console", "e1000", "ata_piix",
    "ata_generic", "sd_mod", "nls_cp437", "nls_ascii", "nls_utf8", "nls_iso8859_1",
    "button", "evdev",
)  # fmt: skip

BUSYBOX = Path("/bin/busybox")
# The guest's SSH server (Debian's dropbear-bin) and its key tool, and
# util-linux's lsblk (busybox has none: Tempest's validation lists a guest's
# disks with `lsblk -lb --nodeps`, as cirros has it), with the shared
# libraries they load, copied from the host as they are.
GUEST_PROGRAMS = {
    "usr/sbin/dropbear": Path("/usr/sbin/dropbear"),
    "usr/bin/dropbearkey": Path("/usr/bin/dropbearkey"),
    "usr/bin/lsblk": Path("/usr/bin/lsblk"),
}
# The Debian package of each of them (named when one is missing).
GUEST_PACKAGES = {"dropbear": "dropbear-bin", "dropbearkey": "dropbear-bin", "lsblk": "util-linux"}


class TinyImageError(RuntimeError):
    """The tiny image cannot be built; the message names what is missing."""


def version_key(v: str) -> list[tuple[int, str]]:
    return [(int(p), "") if p.isdigit() else (-1, p) for p in re.split(r"[.\-+~]", v)]


def _psql() -> dict[str, Path]:
    """Debian's psql binary (postgresql-client-N; /usr/bin/psql is a Perl wrapper)."""
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/psql"), key=lambda p: version_key(p.parts[-3])
    )
    if not found:
        raise TinyImageError(
            "no /usr/lib/postgresql/*/bin/psql: install the Debian package postgresql-client"
        )
    return {"usr/bin/psql": found[-1]}


# The programs each variant adds (guest path -> host path), by variant name.
EXTRAS = {"psql": _psql}


def extra_programs(extras: tuple[str, ...]) -> dict[str, Path]:
    """The programs the variants add, guest path -> host path."""
    return {path: prog for e in extras for path, prog in EXTRAS[e]().items()}


class Cpio:
    """An in-memory cpio archive in the "newc" format the kernel unpacks."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.names: set[str] = set()
        self.ino = 1

    def add(self, name: str, mode: int, data: bytes = b"", rdev: tuple[int, int] = (0, 0)) -> None:
        parent = name.rpartition("/")[0]
        if parent and parent not in self.names:
            self.add(parent, stat.S_IFDIR | 0o755)
        if name in self.names:
            return
        self.names.add(name)
        self._entry(name, mode, data, rdev)

    def _entry(self, name: str, mode: int, data: bytes, rdev: tuple[int, int]) -> None:
        raw = name.encode() + b"\0"
        nlink = 2 if stat.S_ISDIR(mode) else 1
        fields = (self.ino, mode, 0, 0, nlink, FIXED_MTIME, len(data), 0, 0, *rdev, len(raw), 0)
        self.ino += 1
        header = b"070701" + b"".join(b"%08X" % v for v in fields)
        self.parts += [header, raw, _pad(len(header) + len(raw)), data, _pad(len(data))]

    def finish(self) -> bytes:
        self._entry("TRAILER!!!", 0, b"", (0, 0))
        return b"".join(self.parts)


def _pad(n: int) -> bytes:
    return b"\0" * (-n % 4)


def make_initrd(kver: str, extras: tuple[str, ...] = ()) -> bytes:
    """The guest's root file system as an uncompressed cpio archive."""
    archive = Cpio()
    for d in tiny_files.DIRS:
        archive.add(d, stat.S_IFDIR | 0o755)
    archive.add("dev/console", stat.S_IFCHR | 0o600, rdev=(5, 1))
    archive.add("bin/busybox", stat.S_IFREG | 0o755, BUSYBOX.read_bytes())
    listing = subprocess.run(
        [str(BUSYBOX), "--list-full"], check=True, capture_output=True, text=True
    ).stdout
    for applet in listing.split():
        if applet.strip("/") != "bin/busybox":
            archive.add(applet.strip("/"), stat.S_IFLNK | 0o777, b"/bin/busybox")
    archive.add("init", stat.S_IFLNK | 0o777, b"/bin/busybox")
    for link, target in tiny_files.SYMLINKS.items():
        archive.add(link, stat.S_IFLNK | 0o777, target.encode())
    for path, (mode, text) in tiny_files.FILES.items():
        archive.add(path, stat.S_IFREG | mode, text.encode())
    for path, data in guest_modules(kver).items():
        archive.add(path, stat.S_IFREG | 0o644, data)
    for path, data in guest_program_files().items():
        archive.add(path, stat.S_IFREG | 0o755, data)
    if extras:  # the plain image's archive stays what it was
        for path, data in with_libraries(extra_programs(extras)).items():
            archive.add(path, stat.S_IFREG | 0o755, data)
    return archive.finish()


def guest_program_files() -> dict[str, bytes]:
    """dropbear, dropbearkey, lsblk and every shared library they load (with
    the dynamic loader), at the paths the host has them."""
    return with_libraries(GUEST_PROGRAMS)


def with_libraries(programs: dict[str, Path]) -> dict[str, bytes]:
    """`programs` (guest path -> host path) and every shared library they
    load, with the dynamic loader, at the paths the host has them (ldd)."""
    out = {name: prog.read_bytes() for name, prog in programs.items()}
    for prog in programs.values():
        listing = subprocess.run(
            ["ldd", str(prog)], check=True, capture_output=True, text=True, timeout=30
        ).stdout
        for line in listing.splitlines():
            # "libz.so.1 => /lib/x86_64-linux-gnu/libz.so.1 (0x...)" or "/lib64/ld-linux-x86-64.so.2 (0x...)"
            words = line.split()
            lib = words[2] if len(words) > 2 and words[1] == "=>" else words[0] if words else ""
            if lib.startswith("/"):
                out[lib.lstrip("/")] = Path(lib).read_bytes()
    return out


def _modname(path: str) -> str:
    return path.rpartition("/")[2].split(".ko")[0].replace("-", "_")


def guest_modules(kver: str) -> dict[str, bytes]:
    """The guest's kernel modules with their dependencies, and the busybox
    modprobe index files (modules.dep, modules.alias, modules.builtin) for them."""
    base = Path("/lib/modules") / kver
    deps: dict[str, tuple[str, list[str]]] = {}
    for line in (base / "modules.dep").read_text().splitlines():
        path, _, rest = line.partition(":")
        deps[_modname(path)] = (path, rest.split())
    builtin_file = base / "modules.builtin"
    builtin_text = builtin_file.read_text() if builtin_file.is_file() else ""
    builtin = {_modname(p) for p in builtin_text.split()}
    wanted: set[str] = set()
    todo = [m for m in REQUIRED_MODULES + OPTIONAL_MODULES if m in deps]
    absent = [m for m in REQUIRED_MODULES if m not in deps and m not in builtin]
    if absent:
        raise TinyImageError(f"kernel {kver} has no module {', '.join(absent)}")
    while todo:
        name = todo.pop()
        if name not in wanted:
            wanted.add(name)
            todo += [_modname(d) for d in deps[name][1]]
    prefix = f"lib/modules/{kver}/"
    out: dict[str, bytes] = {}
    dep_lines = []
    for name in sorted(wanted):
        path, needs = deps[name]
        out[prefix + path] = (base / path).read_bytes()
        dep_lines.append(f"{path}: {' '.join(needs)}".rstrip() + "\n")
    alias_lines = [
        line + "\n"
        for line in (base / "modules.alias").read_text().splitlines()
        if line.startswith("alias ") and line.split()[-1] in wanted
    ]
    out[prefix + "modules.dep"] = "".join(dep_lines).encode()
    out[prefix + "modules.alias"] = "".join(alias_lines).encode()
    out[prefix + "modules.builtin"] = builtin_text.encode()
    return out
