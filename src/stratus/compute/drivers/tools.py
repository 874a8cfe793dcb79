"""Helpers every driver that runs QEMU tools shares: commands run in their
own process group, qcow2 overlays, the tail of a console log.  (Drivers do
not import each other; they import this.)"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from pathlib import Path
from typing import Any

from stratus.compute.drivers.base import DriverError


def kill_group(pid: int) -> None:
    """SIGKILL a process group (led by ``pid``): a wrapper and what it runs."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


async def create_overlay(
    qemu_img: str,
    base: Path,
    base_format: str,
    target: Path,
    size_gb: int,
    *,
    what: str = "base image",
) -> None:
    """A qcow2 copy-on-write overlay of ``base`` at ``target`` (grown to
    ``size_gb`` when positive), written aside and renamed into place."""
    if not base.is_file():
        raise DriverError(f"{what} {base} is missing")
    partial = target.with_suffix(".partial")
    cmd = [qemu_img, "create", "-q", "-f", "qcow2", "-b", str(base)]
    cmd += ["-F", base_format, str(partial)]
    if size_gb > 0:
        cmd.append(f"{size_gb}G")
    rc, out, err = await run(cmd, timeout=60)
    if rc != 0:
        partial.unlink(missing_ok=True)
        raise DriverError(f"could not create the disk: {(err or out).strip()}")
    partial.rename(target)


async def copy_stopped_disk(qemu_img: str, disk: Path, partial: Path) -> None:
    """A stopped guest's qcow2 disk flattened into ``partial`` (a snapshot's
    copy; the partial file removed if it fails)."""
    cmd = [qemu_img, "convert", "-U", "-f", "qcow2", "-O", "qcow2", str(disk), str(partial)]
    rc, out, err = await run(cmd, timeout=600)
    if rc != 0:
        partial.unlink(missing_ok=True)
        raise DriverError(f"could not copy the disk: {(err or out).strip()}")


async def run(cmd: list[str], timeout: float) -> tuple[int, str, str]:
    """Run a command without blocking the event loop: (status, stdout, stderr)."""
    try:
        process = await asyncio.create_subprocess_exec(
            *cmd,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,  # its own process group: killed with its children
        )
    except OSError as exc:
        return 127, "", str(exc)
    try:
        out, err = await asyncio.wait_for(process.communicate(), timeout)
    except TimeoutError:
        kill_group(process.pid)
        await process.wait()
        return -1, "", f"{cmd[0]} timed out after {timeout:g} s"
    except BaseException:
        # Cancelled (the agent is stopping): never leave the child behind.
        kill_group(process.pid)
        raise
    rc = process.returncode if process.returncode is not None else -1
    return rc, out.decode(errors="replace"), err.decode(errors="replace")


def tail_lines(path: Path, length: int | None) -> str:
    """The last ``length`` lines of a file (all if None), decoded leniently."""
    try:
        with open(path, "rb") as f:
            if length is None:
                data = f.read()
            else:
                data = _tail_bytes(f, max(length, 0))
    except FileNotFoundError:
        return ""
    text = data.decode("utf-8", errors="replace").replace("\r\n", "\n")
    if length is None:
        return text
    if length <= 0:
        return ""
    lines = text.splitlines(keepends=True)
    return "".join(lines[-length:])


def _tail_bytes(f: Any, lines: int, block: int = 65536) -> bytes:
    f.seek(0, os.SEEK_END)
    end = position = f.tell()
    while position > 0:
        position = max(0, position - block)
        f.seek(position)
        chunk = f.read(end - position)
        if chunk.count(b"\n") > lines:
            return bytes(chunk)
    f.seek(0)
    return bytes(f.read(end))
