"""pgbench inside a database instance beside the same PostgreSQL run bare,
for bench/database.py.

The comparison is made fair before it is made:

- the bare server runs in a cgroup of its own with the flavor's memory and
  CPU (a 1-vCPU flavor is one CPU's worth, in an instance or out of it), and
  a second bare server without any limit is printed beside it, so the cost
  of the flavor and the cost of the isolation are seen apart;
- the runs alternate (instance, bare, bare unlimited, then again) and each
  figure is the median of its rounds, so a neighbour's burst on this shared
  machine lands on all of them rather than on one;
- the CPU time the server's processes used per transaction is printed beside
  each TPS (every process of its cgroup, the backends pgbench started
  included), with the CPU of the volume's ``qemu-storage-daemon`` and the
  time the cgroup spent throttled."""

from __future__ import annotations

import contextlib
import os
import shutil
import statistics
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")
CGROUP = Path("/sys/fs/cgroup")
V2 = (CGROUP / "cgroup.controllers").exists()
PG_BIN = sorted(Path("/usr/lib/postgresql").glob("*/bin"))[-1] if Path(
    "/usr/lib/postgresql").exists() else Path("/usr/bin")  # fmt: skip
AS_NOBODY = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"]


def group_dirs(name: str) -> list[Path]:
    """A cgroup's folders: the unified one, or v1's memory and cpu."""
    return [CGROUP / name] if V2 else [CGROUP / "memory" / name, CGROUP / "cpu" / name]


def instance_group(instance_id: str) -> str:
    """The cgroup the database agent made for an instance (any scope)."""
    base = CGROUP if V2 else CGROUP / "cpu"
    found = list(base.glob(f"stratus-database/*/{instance_id}"))
    return str(found[0].relative_to(base)) if found else ""


def group_cpu(name: str) -> float:
    """CPU seconds of every process in a cgroup, with the children they
    reaped (a backend that ended is counted in its postmaster)."""
    total = 0
    procs = group_dirs(name)[-1] / "cgroup.procs"
    for pid in procs.read_text().split() if procs.exists() else []:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(f) for f in fields[11:15])  # utime stime cutime cstime
    return total / CLK_TCK


def throttled(name: str) -> float:
    """Seconds the cgroup was held back by its CPU quota."""
    stat = group_dirs(name)[-1] / "cpu.stat"
    if not stat.exists():
        return 0.0
    values = dict(line.split() for line in stat.read_text().splitlines() if " " in line)
    if "throttled_usec" in values:
        return int(values["throttled_usec"]) / 1e6
    return int(values.get("throttled_time", 0)) / 1e9


def pids_cpu(pattern: str) -> float:
    """CPU seconds of the processes whose command line matches ``pattern``."""
    out = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True, check=False)
    total = 0
    for pid in out.stdout.split():
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(f) for f in fields[11:13])
    return total / CLK_TCK


@dataclass
class Target:
    """One server pgbench runs against."""

    name: str
    where: list[str]  # the command prefix (a namespace) pgbench runs under
    conn: list[str]
    env: dict[str, str]
    group: str  # its cgroup, for its CPU
    io_cpu: Callable[[], float] = lambda: 0.0  # the volume's daemon
    tps: list[float] = field(default_factory=list)
    cpu_ms: list[float] = field(default_factory=list)
    io_ms: list[float] = field(default_factory=list)
    throttled: float = 0.0

    def pgbench(self, *argv: str) -> str:
        done = subprocess.run([*self.where, "pgbench", *argv, *self.conn],
                              env={**os.environ, **self.env}, check=True,
                              capture_output=True, text=True)  # fmt: skip
        return done.stdout

    def init(self) -> None:
        self.pgbench("-i", "-q", "-s", "10")

    def run(self, seconds: int) -> None:
        c0, io0, t0 = group_cpu(self.group), self.io_cpu(), throttled(self.group)
        out = self.pgbench("-c", "4", "-j", "2", "-T", str(seconds))
        cpu, io = group_cpu(self.group) - c0, self.io_cpu() - io0
        self.throttled += throttled(self.group) - t0
        for line in out.splitlines():
            if line.startswith("tps =") and "without" in line:
                tps = float(line.split()[2])
                break
        else:
            raise RuntimeError(f"no TPS in pgbench's output:\n{out}")
        txns = max(1.0, tps * seconds)
        self.tps.append(tps)
        self.cpu_ms.append(cpu * 1000 / txns)
        self.io_ms.append(io * 1000 / txns)

    def summary(self) -> str:
        io = f" + volume daemon {statistics.median(self.io_ms):.2f} ms" if any(self.io_ms) else ""
        return (f"{self.name}: {statistics.median(self.tps):.0f} TPS "
                f"(rounds {', '.join(f'{t:.0f}' for t in self.tps)}), server CPU "
                f"{statistics.median(self.cpu_ms):.2f} ms/txn{io}, throttled "
                f"{self.throttled:.1f} s")  # fmt: skip


class BareServer:
    """PostgreSQL run bare as ``nobody`` on 127.0.0.1, in a cgroup of its
    own: with the flavor's memory and CPU, or without limits."""

    def __init__(self, folder: Path, group: str, port: int, shared_buffers: str):
        self.folder, self.group, self.port = folder, group, port
        self.shared_buffers = shared_buffers
        self.proc: subprocess.Popen[bytes] | None = None

    def limit(self, memory_mb: int | None, vcpus: int | None) -> None:
        for d in group_dirs(self.group):
            d.mkdir(parents=True, exist_ok=True)
        if memory_mb is None or vcpus is None:
            return
        if V2:
            (group_dirs(self.group)[0] / "memory.max").write_text(str(memory_mb * 2**20))
            (group_dirs(self.group)[0] / "cpu.max").write_text(f"{vcpus * 100000} 100000")
            return
        mem, cpu = group_dirs(self.group)
        (mem / "memory.limit_in_bytes").write_text(str(memory_mb * 2**20))
        (cpu / "cpu.cfs_period_us").write_text("100000")
        (cpu / "cpu.cfs_quota_us").write_text(str(vcpus * 100000))

    def start(self) -> Target:
        self.folder.mkdir(mode=0o777)
        shutil.chown(self.folder, "nobody", "nogroup")
        subprocess.run([*AS_NOBODY, str(PG_BIN / "initdb"), "-D", str(self.folder / "pg"),
                        "-U", "os_admin", "--auth=trust", "-E", "UTF8", "--no-locale",
                        "--no-instructions"], check=True, capture_output=True)  # fmt: skip
        procs = [d / "cgroup.procs" for d in group_dirs(self.group)]

        def join() -> None:
            for path in procs:
                path.write_text(str(os.getpid()))

        self.proc = subprocess.Popen(
            [*AS_NOBODY, str(PG_BIN / "postgres"), "-D", str(self.folder / "pg"),
             "-c", "listen_addresses=127.0.0.1", "-c", f"port={self.port}",
             "-c", "unix_socket_directories=", "-c", f"shared_buffers={self.shared_buffers}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=join,  # noqa: PLW1509
        )  # fmt: skip
        conn = ["-h", "127.0.0.1", "-p", str(self.port), "-U", "os_admin", "postgres"]
        while subprocess.run(["psql", *conn[:6], "-d", "postgres", "-tAc", "SELECT 1"],
                             capture_output=True, check=False).returncode != 0:  # fmt: skip
            time.sleep(0.05)
        return Target(f"bare {self.group.rsplit('/', 1)[-1]}", [], conn, {}, self.group)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(60)
        for d in group_dirs(self.group):
            for folder in (d, d.parent):  # the group, then the bench's own parent
                with contextlib.suppress(OSError):
                    folder.rmdir()
        shutil.rmtree(self.folder, ignore_errors=True)


def compare(targets: list[Target], seconds: int, rounds: int) -> None:
    """Initialize each, then run them in turn, ``rounds`` times."""
    for target in targets:
        target.init()
    for _ in range(rounds):
        for target in targets:
            target.run(seconds)
