"""What the crash tests share: killing a whole cloud (the primary and its API
workers) with SIGKILL, waiting for a condition, and reading the object store's
devices the way its node does, to compare the listings with the disk."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from stratus.objectstore.drivers.diskio import read_metadata
from stratus.objectstore.drivers.hashes import select_files
from tests.conftest import Server


def children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except FileNotFoundError:
        return found
    for task in tasks:
        try:
            text = Path(f"/proc/{pid}/task/{task}/children").read_text()
        except OSError:
            continue
        found.extend(int(c) for c in text.split())
    return found


def kill_cloud(srv: Server) -> None:
    """SIGKILL the cloud's processes at once (as a power cut or the OOM killer
    of a cgroup would): the primary and its API workers, none of which gets to
    finish a request; then wait until they are gone."""
    workers = children(srv.process.pid)
    for pid in [srv.process.pid, *workers]:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    srv.process.wait()
    for pid in workers:
        wait_for(f"worker {pid} to end", lambda pid=pid: not Path(f"/proc/{pid}").exists(), 30)  # type: ignore[misc]


def wait_for(what: str, check: Callable[[], object], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"{what}: not after {timeout} s"
        time.sleep(0.2)


def eventually(check: Callable[[], None], timeout: float = 60) -> None:
    """Run ``check`` (which asserts) until it passes; its last failure is
    raised after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            check()
            return
        except AssertionError:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.5)


@dataclass(frozen=True)
class OnDisk:
    size: int
    etag: str


def devices(data_dir: Path) -> list[Path]:
    root = data_dir / "objectstore" / "devices"
    return sorted(p for p in root.iterdir() if p.is_dir())


def objects_on_disk(data_dir: Path) -> dict[str, OnDisk]:
    """``/account/container/object`` -> what its current ``.data`` holds,
    for every object stored on the cloud's devices (tombstones excluded)."""
    found: dict[str, OnDisk] = {}
    for device in devices(data_dir):
        for folder in (device / "objects").glob("*/*/*"):
            if not folder.is_dir():
                continue
            keep, _ = select_files(os.listdir(folder), None)
            winner = next((n for n in keep if not n.endswith(".meta")), None)
            if winner is None or not winner.endswith(".data"):
                continue
            fd = os.open(folder / winner, os.O_RDONLY)
            try:
                meta = read_metadata(fd, check_size=True)
            finally:
                os.close(fd)
            found[meta.name] = OnDisk(meta.content_length, meta.etag)
    return found


def stray_files(data_dir: Path) -> list[str]:
    """Files of the object store's devices that belong to nothing: partial
    writes in tmp/, async pendings still unsent, older versions beside the
    current one, quarantined copies."""
    out: list[str] = []
    for device in devices(data_dir):
        for sub in ("tmp", "async_pending", "quarantined"):
            out.extend(str(p) for p in (device / sub).rglob("*") if p.is_file())
        for folder in (device / "objects").glob("*/*/*"):
            if folder.is_dir():
                _, obsolete = select_files(os.listdir(folder), None)
                out.extend(str(folder / n) for n in obsolete)
    return out
