"""A process that holds a volume file's image lock the way QEMU does, for
an export that locks nothing itself (tgt): a qcow2 file whose bytes an
iSCSI LUN serves to a QEMU running the format elsewhere has that QEMU as
its one writer, and a ``qemu-img`` here (an internal snapshot made or
deleted, a resize) must find the image locked, as it would beside an NBD
export's daemon or a local guest.

QEMU locks an image with byte-range locks (``block/file-posix.c``): a
lock on byte 100+n says "I use permission n", one on byte 200+n "I do not
share permission n" (n = 1: write).  The holder takes shared locks on 101
and 201, as a writer that shares no writing: another process asking to
write, or to read consistently, is refused ("Failed to get ... lock").

It outlives the agent (as tgtd does), writes its pid file once it holds
the locks, and ends by itself when its pid file goes (the export's folder
removed)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from pathlib import Path

from stratus.common.pidfiles import daemon_pid, wait_ended
from stratus.volume.drivers.base import DriverError

MARK = "stratus-lock-holder"  # on its command line (tests end leftovers by it)
START_TIMEOUT = 10.0

# Run as ``python -c SCRIPT MARK <file> <pid file>`` (no import of stratus:
# it must not depend on the agent's path).
# It forks: the first process ends once the second holds the locks (never
# a child of the agent, which asyncio would kill with its transport).
SCRIPT = """
import fcntl, os, sys, time
path, pidfile = sys.argv[2], sys.argv[3]
child = os.fork()
if child:
    while not os.path.exists(pidfile):
        if os.waitpid(child, os.WNOHANG)[0]:
            sys.exit(1)
        time.sleep(0.02)
    sys.exit(0)
fd = os.open(path, os.O_RDONLY)
for byte in (101, 201):
    fcntl.lockf(fd, fcntl.LOCK_SH | fcntl.LOCK_NB, 1, byte)
with open(pidfile + ".new", "w") as f:
    f.write(str(os.getpid()))
os.replace(pidfile + ".new", pidfile)
while os.path.exists(pidfile):
    time.sleep(2)
"""


async def hold(path: Path, pidfile: Path) -> None:
    """Start a holder of ``path``'s lock (none when one runs); its errors
    go to ``<pid file>.log``."""
    if daemon_pid(pidfile) is not None:
        return
    pidfile.unlink(missing_ok=True)
    errors = pidfile.with_name(pidfile.name + ".log")
    with open(errors, "wb") as err:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-c", SCRIPT, MARK, str(path.absolute()), str(pidfile.absolute()),
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL, stderr=err,
            start_new_session=True,
        )  # fmt: skip
    try:
        code = await asyncio.wait_for(process.wait(), START_TIMEOUT)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
        code = -1
    if code != 0 or daemon_pid(pidfile) is None:
        text = errors.read_text(errors="replace").strip()[-300:]
        raise DriverError(f"the lock holder of {path} did not start: {text}")


async def release(pidfile: Path) -> None:
    """End the holder (if one runs) and wait until its locks are gone."""
    pid = daemon_pid(pidfile)
    pidfile.unlink(missing_ok=True)
    if pid is None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    await wait_ended(pid, 5.0)
