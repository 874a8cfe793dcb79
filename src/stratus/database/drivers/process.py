"""Running the programs the local drivers need: commands to completion,
long-lived servers (in a namespace, a cgroup and as a user of their own),
and commands whose output is a stream (backups)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

from stratus.database.drivers.base import DriverError, Place

CHUNK = 1 << 20


def as_user(place: Place, argv: Sequence[str]) -> list[str]:
    """``argv`` run as the instance's system user."""
    return ["setpriv", f"--reuid={place.uid}", f"--regid={place.gid}", "--clear-groups", "--",
            *argv]  # fmt: skip


async def run(
    argv: Sequence[str],
    *,
    stdin: bytes | None = None,
    check: bool = True,
    timeout: float = 300,
    log: Path | None = None,
    env: dict[str, str] | None = None,
) -> str:
    """Run a command; its output, or ``DriverError`` with its error output.
    What goes in on stdin (SQL with passwords) never appears in an error.
    With ``log``, the output goes to that file (a daemon that keeps its
    standard streams open would hold pipes open forever).  ``env`` is added
    to the environment (a password kept off the command line)."""
    sink = open(log, "ab") if log is not None else None  # noqa: SIM115
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            stdout=sink or subprocess.PIPE,
            stderr=sink or subprocess.PIPE,
            env={**os.environ, **env} if env else None,
        )
    finally:
        if sink is not None:
            sink.close()
    try:
        out, err = await asyncio.wait_for(proc.communicate(stdin), timeout)
        if log is not None:
            err = log.read_bytes()[-2000:]
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise DriverError(f"{Path(argv[0]).name} took longer than {timeout:.0f} s") from None
    if check and proc.returncode != 0:
        message = (err or b"").decode(errors="replace").strip().splitlines()[-3:]
        raise DriverError(f"{Path(argv[0]).name} failed ({proc.returncode}): {' '.join(message)}")
    return (out or b"").decode(errors="replace")


def _join_cgroups(procs_files: list[Path]) -> None:
    pid = str(os.getpid()).encode()
    for path in procs_files:
        fd = os.open(path, os.O_WRONLY)
        try:
            os.write(fd, pid)
        finally:
            os.close(fd)


def spawn(place: Place, argv: Sequence[str], cgroup_procs: list[Path]) -> subprocess.Popen[bytes]:
    """Start a server: in the instance's cgroup (joined before exec, so every
    process it forks is held too), its namespace, as its user, in a session
    of its own (it outlives the agent)."""
    cmd: list[str] = list(argv)
    cmd = as_user(place, cmd)
    if place.netns:
        cmd = ["ip", "netns", "exec", place.netns, *cmd]
    log = open(place.log_file, "ab")  # noqa: SIM115 (handed to the child)
    try:
        return subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=lambda: _join_cgroups(cgroup_procs),  # noqa: PLW1509
            close_fds=True,
        )
    finally:
        log.close()


def alive(pid: int, name: str) -> bool:
    """Whether ``pid`` runs and is the program ``name`` (not a reused pid)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return False
    if ") Z" in stat:
        return False
    return name.encode() in cmdline.split(b"\0", 1)[0]


def read_pid(path: Path) -> int | None:
    try:
        first = path.read_text().split("\n", 1)[0].strip()
        return int(first) if first else None
    except (FileNotFoundError, ValueError):
        return None


async def stop_pid(pid: int, name: str, sig: int = signal.SIGTERM, timeout: float = 30) -> None:
    """Signal a server and wait until it is gone; SIGKILL after ``timeout``."""
    if not alive(pid, name):
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)
    deadline = time.monotonic() + timeout
    while alive(pid, name):
        if time.monotonic() > deadline:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            deadline = time.monotonic() + 10
        await asyncio.sleep(0.05)


async def stream_out(argv: Sequence[str]) -> AsyncIterator[bytes]:
    """The standard output of a command, as chunks; ``DriverError`` at the
    end when it failed."""
    proc = await asyncio.create_subprocess_exec(
        *argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        limit=CHUNK,
    )  # fmt: skip
    assert proc.stdout is not None and proc.stderr is not None
    err_task = asyncio.ensure_future(proc.stderr.read())
    try:
        while chunk := await proc.stdout.read(CHUNK):
            yield chunk
        await proc.wait()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    err = (await err_task).decode(errors="replace").strip().splitlines()[-3:]
    if proc.returncode != 0:
        raise DriverError(f"{Path(argv[0]).name} failed ({proc.returncode}): {' '.join(err)}")


async def stream_in(argv: Sequence[str], source: AsyncIterator[bytes]) -> None:
    """Feed a stream to a command's standard input."""
    proc = await asyncio.create_subprocess_exec(
        *argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    assert proc.stdin is not None and proc.stderr is not None
    err_task = asyncio.ensure_future(proc.stderr.read())
    try:
        async for chunk in source:
            proc.stdin.write(chunk)
            await proc.stdin.drain()
        proc.stdin.close()
        await proc.wait()
    except (BrokenPipeError, ConnectionResetError):
        await proc.wait()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    err = (await err_task).decode(errors="replace").strip().splitlines()[-3:]
    if proc.returncode != 0:
        raise DriverError(f"{Path(argv[0]).name} failed ({proc.returncode}): {' '.join(err)}")


async def kill_strays(name: str, folder: Path) -> None:
    """Kill what is left of a program ``name`` working on ``folder`` (a
    copy a killed agent started, which outlived it)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if Path(argv[0].decode(errors="replace")).name == name and str(folder).encode() in argv:
            await stop_pid(int(entry.name), name, signal.SIGKILL, timeout=10)


# In a replica's data folder: its copy of the source finished.
SEEDED = "stratus-replica-seeded"
# In a restored instance's data folder: every backup of the chain applied.
RESTORED = "stratus-restored"


def seeded(data_dir: Path) -> bool:
    """Whether a replica's data folder holds a finished copy of its source."""
    return (data_dir / SEEDED).exists()


def empty_folder(folder: Path) -> None:
    """Remove what a folder holds, keeping the folder (a mount point's)."""
    for child in folder.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()


def server_running(
    procs: dict[str, subprocess.Popen[bytes]], instance_id: str, pid: int | None, name: str
) -> bool:
    """Whether the instance's server runs (``pid`` from its pid file, the
    process named ``name``); a child of ours that ended is reaped first."""
    proc = procs.get(instance_id)
    if proc is not None and proc.poll() is not None:
        del procs[instance_id]
    return pid is not None and alive(pid, name)
