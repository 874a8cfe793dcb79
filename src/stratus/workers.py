"""More than one process serving the all-in-one's port (``[server] workers``).

Python runs one thread of Python at a time, so one process uses about one
core.  With ``workers = N`` the ``stratus up`` process (the *primary*) binds
the port with ``SO_REUSEPORT``, becomes ready as usual, then starts N - 1
*API workers* (``stratus api-worker``) that bind the same address the same
way: the kernel spreads new connections evenly over the listening sockets
(by a hash of the connection's addresses), and a worker that exits leaves
its share to the others.

The API is stateless over the shared database and disks, which is what makes
this safe (it is the scale-out design on one machine).  What must exist once
stays in the primary: schema migrations and bootstrap, the compute scheduler
and agent, the tiny-image build, image-import recovery and the object store's
background workers (replicator, auditor, updater, expirer).  An API worker
that records compute work wakes the primary's scheduler or agent with a
datagram on an abstract unix socket named after the primary's pid.  Caches
are per process and bounded as between scale-out API servers: identity
catches up with changes from other processes every ``[identity]
sync_interval`` seconds, the object store's container and account info
every few seconds.

With ``[server] cpu_affinity`` every process (the primary too) is pinned to
one CPU, round robin: a process's event loop and its disk threads then hand
work to each other on one core, which costs far less CPU per request than
hand-offs between cores.  Processes started later inherit the pin, including
guests the primary's compute agent starts: enable it where the all-in-one does
not run guests, or run the agent as its own process (``stratus
compute-agent``).

The workers die with the primary (``PR_SET_PDEATHSIG``), and are stopped by
it (SIGTERM, then SIGKILL) when it shuts down.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from stratus.common import metrics

log = logging.getLogger(__name__)

PRIMARY_ENV = "STRATUS_PRIMARY_PID"
STOP_GRACE = 10.0
WATCH_INTERVAL = 1.0


def listen(host: str, port: int) -> socket.socket:
    """One process's listening socket on the shared address."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    return sock


def _wake_address(primary_pid: int) -> bytes:
    return f"\0stratus-wake-{primary_pid}".encode()


class WakeReceiver:
    """In the primary: wake-ups sent by API workers (a host name, or empty
    for the scheduler), handed to ``wake``."""

    def __init__(self, wake: Callable[[str | None], None]) -> None:
        self.wake = wake
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(_wake_address(os.getpid()))
        self.sock.setblocking(False)
        asyncio.get_running_loop().add_reader(self.sock.fileno(), self._read)

    def _read(self) -> None:
        while True:
            try:
                data = self.sock.recv(1024)
            except BlockingIOError:
                return
            except OSError:
                log.exception("workers: reading a wake-up failed")
                return
            self.wake(data.decode("utf-8", "replace") or None)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            asyncio.get_running_loop().remove_reader(self.sock.fileno())
        self.sock.close()


class WakeSender:
    """In an API worker: tell the primary that compute work was recorded."""

    def __init__(self, primary_pid: int) -> None:
        self.address = _wake_address(primary_pid)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.setblocking(False)

    def __call__(self, host: str | None) -> None:
        try:
            self.sock.sendto((host or "").encode(), self.address)
        except OSError as exc:  # the agent's poll still finds the work
            log.warning("workers: cannot wake the primary (%s); its next poll will", exc)


def primary_pid() -> int | None:
    """The primary's pid when this process is an API worker."""
    value = os.environ.get(PRIMARY_ENV)
    return int(value) if value else None


def pin_to_cpu(index: int) -> int | None:
    """Pin every thread of this process (and the threads and processes it
    creates later) to one CPU of those it may use, chosen by ``index``."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return None
    cpu = cpus[index % len(cpus)]
    for task in Path("/proc/self/task").iterdir():
        with contextlib.suppress(OSError):  # a thread that just ended
            os.sched_setaffinity(int(task.name), {cpu})
    return cpu


def die_with_parent() -> None:
    """Linux: get SIGTERM when the primary dies, even by SIGKILL."""
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM)


class Workers:
    """The primary's API worker processes."""

    def __init__(
        self, data_dir: Path, sock: socket.socket, count: int, *, cpu_affinity: bool = False
    ) -> None:
        self.data_dir = data_dir
        self.sock = sock
        self.count = count
        self.cpu_affinity = cpu_affinity
        self.processes: list[subprocess.Popen[bytes]] = []
        self.started_at = 0.0
        self.killed = False  # a worker was killed at stop: its requests did not finish
        self._stopping = False

    def start(self) -> None:
        self.started_at = time.time()
        env = {**os.environ, PRIMARY_ENV: str(os.getpid())}
        host, port = self.sock.getsockname()[:2]
        command = [sys.executable, "-m", "stratus", "api-worker", "--data-dir", str(self.data_dir)]
        command += ["--listen", host, "--port", str(port)]
        for k in range(1, self.count + 1):
            pin = ["--cpu-index", str(k)] if self.cpu_affinity else []
            self.processes.append(subprocess.Popen([*command, *pin], env=env))
        if self.cpu_affinity:
            cpu = pin_to_cpu(0)
            if cpu is not None:
                log.info("workers: the primary runs on CPU %d", cpu)
        log.info(
            "workers: %d API worker process(es) started: %s",
            self.count,
            " ".join(str(p.pid) for p in self.processes),
        )

    async def watch(self, on_exit: Callable[[float], Awaitable[None]]) -> None:
        """Notice a worker that dies (it is not replaced: the others take its
        share), and have ``on_exit(started_at)`` put right what its
        unfinished requests left."""
        while not self._stopping:
            await asyncio.sleep(WATCH_INTERVAL)
            for process in list(self.processes):
                code = process.poll()
                if code is None or self._stopping:
                    continue
                self.processes.remove(process)
                metrics.process_dead(process.pid)
                log.warning("workers: API worker %d exited (%s)", process.pid, code)
                await on_exit(self.started_at)

    async def stop(self) -> None:
        self._stopping = True
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                await asyncio.to_thread(process.wait, STOP_GRACE)
            except subprocess.TimeoutExpired:
                log.warning("workers: API worker %d did not stop; killing it", process.pid)
                self.killed = True
                process.kill()
                await asyncio.to_thread(process.wait)
            metrics.process_dead(process.pid)
        self.processes.clear()
