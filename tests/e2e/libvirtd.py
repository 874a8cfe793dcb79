"""Starting libvirt's daemons for the e2e tests on machines without systemd.

``ensure_libvirtd()`` connects to ``qemu:///system``; when nothing answers
and we are root, it starts ``virtlogd`` and ``libvirtd`` as daemons (about
8 s cold) and waits for the socket.  ``stop_started()`` stops only the
daemons it started, by the pids they wrote, so the machine is left as it was
found.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

URI = "qemu:///system"
SOCKET = Path("/run/libvirt/libvirt-sock")
PIDFILES = {"virtlogd": Path("/run/virtlogd.pid"), "libvirtd": Path("/run/libvirtd.pid")}

_started: list[int] = []


class Unavailable(Exception):
    """libvirt cannot be used here; the message says why."""


def _connects() -> bool:
    import libvirt

    libvirt.registerErrorHandler(lambda _ctx, _err: None, None)
    try:
        conn = libvirt.open(URI)
    except libvirt.libvirtError:
        return False
    conn.close()
    return True


def _pid_alive(pidfile: Path) -> int | None:
    try:
        pid = int(pidfile.read_text().strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid


def ensure_libvirtd(timeout: float = 60.0) -> None:
    try:
        import libvirt  # noqa: F401
    except ImportError as exc:
        raise Unavailable("libvirt-python is not installed") from exc
    if _connects():
        return
    missing = [name for name in PIDFILES if shutil.which(name) is None]
    if missing:
        raise Unavailable(
            f"{', '.join(missing)} not installed (apt-get install libvirt-daemon-system)"
        )
    if os.geteuid() != 0:
        raise Unavailable("libvirtd is not running and only root can start it")
    for name, pidfile in PIDFILES.items():
        if _pid_alive(pidfile) is not None:
            continue
        subprocess.run([name, "--daemon"], check=True, timeout=30)
        deadline = time.monotonic() + 10
        while (pid := _pid_alive(pidfile)) is None and time.monotonic() < deadline:
            time.sleep(0.1)
        if pid is not None:
            _started.append(pid)
    deadline = time.monotonic() + timeout
    while not _connects():
        if time.monotonic() > deadline:
            raise Unavailable(f"libvirtd started but {URI} did not answer within {timeout:g} s")
        time.sleep(0.25)


def stop_started() -> None:
    """Stop the daemons ensure_libvirtd started (libvirtd first)."""
    while _started:
        pid = _started.pop()
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.1)
