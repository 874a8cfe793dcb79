"""The files of a QEMU guest's folder and its qemu process, as plain
functions (the QEMU driver's modules all use them; they import nothing of
the driver):

    disk.qcow2    copy-on-write overlay of the shared, read-only base image
    qemu.pid      written by qemu (``-pidfile``)
    qmp.sock      the QMP monitor
    console.log   the serial console, appended across boots
    qemu.log      qemu's own stderr (startup errors)
    qemu.cmdline  the exact command line, for debugging
    state.sav     the saved memory and device state of a suspended guest
    uuid          the guest's uuid, so that a restarted agent can find it
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import signal
import tempfile
import time
from pathlib import Path

from stratus.compute.drivers.base import Power
from stratus.compute.drivers.qmp import QMPClient, QMPError

# -- files of a guest's folder -------------------------------------------------


def disk_path(directory: Path) -> Path:
    return directory / "disk.qcow2"


def state_file(directory: Path) -> Path:
    return directory / "state.sav"


def rescue_disk_path(directory: Path) -> Path:
    """The rescue boot's disk: present only while the guest is rescued."""
    return directory / "rescue.qcow2"


SOCKET_PATH_MAX = 100  # a unix socket path is at most 107 bytes


def qmp_socket(directory: Path) -> Path:
    """The guest's QMP socket: in its folder, or, when that path is too long
    for a unix socket, in a short folder under the temporary directory, named
    after the guest folder (so a restarted agent finds it again)."""
    return _socket(directory, "qmp.sock", "")


def serial_socket(directory: Path) -> Path:
    """The socket of the guest's serial port (its console, also logged to
    ``console.log``), placed as ``qmp_socket``."""
    return _socket(directory, "serial.sock", "-serial")


def _socket(directory: Path, name: str, suffix: str) -> Path:
    path = directory / name
    if len(os.fsencode(path)) < SOCKET_PATH_MAX:
        return path
    short = Path(tempfile.gettempdir()) / "stratus-qmp"
    short.mkdir(mode=0o700, exist_ok=True)
    digest = hashlib.sha256(os.fsencode(directory.resolve())).hexdigest()[:24]
    return short / f"{digest}{suffix}.sock"


def pid_file(directory: Path) -> Path:
    return directory / "qemu.pid"


def clean_runtime_files(directory: Path) -> None:
    for path in (pid_file(directory), qmp_socket(directory)):
        path.unlink(missing_ok=True)


def guest_uuid(directory: Path) -> str:
    """The uuid a guest folder belongs to (its ``uuid`` file, else its name)."""
    try:
        return (directory / "uuid").read_text().strip() or directory.name
    except OSError:
        return directory.name


def scan_guests(root: Path) -> dict[str, Path]:
    """Every guest folder under ``root`` that holds a disk or a pidfile."""
    found: dict[str, Path] = {}
    if not root.is_dir():
        return found
    for directory in sorted(root.iterdir()):
        if not directory.is_dir():
            continue
        if any(p.exists() for p in (disk_path(directory), pid_file(directory))):
            found[guest_uuid(directory)] = directory
    return found


def find_directory(root: Path, uuid: str) -> Path | None:
    direct = root / uuid
    if direct.is_dir():
        return direct
    return scan_guests(root).get(uuid)


# -- processes -----------------------------------------------------------------


def process_runs(pid: int, uuid: str) -> bool:
    """Whether ``pid`` is a live (not zombie) process whose command line
    names ``uuid``: a pid reused by another process does not count."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    state = stat.rpartition(")")[2].split()[:1]
    if state in (["Z"], ["X"]):
        return False
    return uuid.encode() in cmdline


def live_pid(directory: Path, uuid: str) -> int | None:
    """The pid of this guest's qemu, if it runs."""
    try:
        pid = int(pid_file(directory).read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if pid > 0 and process_runs(pid, uuid) else None


def kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signal.SIGKILL)


async def wait_exit(pid: int, uuid: str, timeout: float) -> bool:
    """Wait for a process that is not our child to end; True if it did."""
    deadline = time.monotonic() + timeout
    while process_runs(pid, uuid):
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(0.1)
    return True


# -- QMP sequences -----------------------------------------------------------------


def power_from_runstate(runstate: str) -> Power:
    if runstate == "running":
        return Power.RUNNING
    if runstate in ("internal-error", "io-error", "guest-panicked"):
        return Power.CRASHED
    if runstate == "shutdown":
        return Power.SHUTDOWN
    # paused, suspended, prelaunch, inmigrate, postmigrate, finish-migrate, ...
    return Power.PAUSED


async def wait_migration(qmp: QMPClient, timeout: float) -> None:
    """Poll an outgoing migration until it completes; raise QMPError if it fails."""
    deadline = time.monotonic() + timeout
    while True:
        info = await qmp.execute("query-migrate")
        status = info.get("status")
        if status == "completed":
            return
        if status in ("failed", "cancelled"):
            raise QMPError(f"migration {status}: {info.get('error-desc', 'no reason given')}")
        if time.monotonic() > deadline:
            await qmp.execute("migrate_cancel")
            raise QMPError(f"migration did not finish within {timeout:g} s")
        await asyncio.sleep(0.05)


async def wait_incoming(qmp: QMPClient, timeout: float) -> None:
    """Wait until an incoming migration (``-incoming``) has been loaded."""
    deadline = time.monotonic() + timeout
    while True:
        status = (await qmp.execute("query-status")).get("status")
        if status not in ("inmigrate", "prelaunch"):
            if status in ("internal-error", "io-error", "shutdown"):
                raise QMPError(f"restoring the saved state failed (guest is {status})")
            return
        if time.monotonic() > deadline:
            raise QMPError(f"restoring the saved state took over {timeout:g} s")
        await asyncio.sleep(0.05)


# -- console ---------------------------------------------------------------------------


def read_from(path: Path, offset: int) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            return f.read(64 * 1024).decode(errors="replace")
    except OSError:
        return ""
