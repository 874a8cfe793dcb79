"""The daemon a pid file names, told apart from whatever took its number.

After a reboot (or a long uptime) the number in a pid file may belong to
another process; signalling it would hit a bystander. A daemon counts only
if its command line names the pid file (by its folder and name, so a data
folder given relatively when the daemon started still matches).
"""

from __future__ import annotations

import asyncio
from pathlib import Path


def daemon_pid(pidfile: Path) -> int | None:
    """The running process ``pidfile`` names, if its command line names that
    pid file; None otherwise (no file, no such process, another process)."""
    try:
        pid = int(pidfile.read_text().strip())
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (OSError, ValueError):
        return None
    tail = f"{pidfile.parent.name}/{pidfile.name}".encode()
    return pid if any(a == tail or a.endswith(b"/" + tail) for a in argv) else None


def ended(pid: int) -> bool:
    """Whether ``pid`` has ended: no such process, or a zombie (it holds no
    port, lock or file any more; its parent has yet to reap it)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[:1] in (["Z"], ["X"])


async def wait_ended(pid: int, timeout: float) -> bool:
    """Wait until ``pid`` has ended (False: still there at ``timeout``)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not ended(pid):
        if loop.time() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True
