"""A cloud's processes and health: the pid file of ``stratus up``, and what
``stratus status`` shows (the local processes, whether the API answers, and
every agent from the database's host rows and heartbeats).

``stratus up`` holds an exclusive lock on ``DATA_DIR/stratus.pid`` while it
runs (a second ``up`` on the same data folder is refused) and writes its pid
there; its API workers are its children (``stratus api-worker``).  ``stratus
up --detach`` starts it in the background, ``stratus stop`` stops it.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib
import os
import signal
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from stratus.common import tls
from stratus.common.config import Config
from stratus.common.health import AgentReport, AgentState

PID_FILE = "stratus.pid"
LOG_FILE = "stratus.log"  # where `stratus up --detach` writes its log
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")

# Services whose agents `stratus status` lists: name -> module with an
# ``agents(db, cfg)`` report (common.health.AgentReport).  A new service with
# agents adds its line.
REPORTS: dict[str, str] = {
    "compute": "stratus.compute.service.health",
}


class AlreadyRunning(Exception):
    def __init__(self, pid: int | None) -> None:
        super().__init__(f"a cloud already runs from this data folder (pid {pid or '?'})")
        self.pid = pid


class PidFile:
    """``DATA_DIR/stratus.pid``, locked for as long as the cloud runs."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / PID_FILE
        self._file: IO[str] | None = None

    def acquire(self, url: str = "") -> None:
        """Lock and write the file: the pid, then the URL the cloud serves at
        on this machine (a `--port` given to `stratus up` included)."""
        handle = self.path.open("a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise AlreadyRunning(read_pid(self.path.parent)) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n{url}\n")
        handle.flush()
        self._file = handle

    def release(self) -> None:
        if self._file is not None:
            with contextlib.suppress(OSError):
                self.path.unlink()
            self._file.close()
            self._file = None


def read_pid(data_dir: Path) -> int | None:
    try:
        return int((data_dir / PID_FILE).read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def read_url(data_dir: Path) -> str | None:
    try:
        return (data_dir / PID_FILE).read_text().split()[1]
    except (OSError, IndexError):
        return None


# -- processes ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Process:
    pid: int
    role: str  # primary | api-worker
    started: datetime
    rss: int  # bytes


def _boot_time() -> float:
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith("btime "):
            return float(line.split()[1])
    return 0.0


def _stat(pid: int) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def _cmdline(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return []


def _process(pid: int, role: str) -> Process | None:
    fields = _stat(pid)
    if fields is None or fields[0] == "Z":
        return None
    started = _boot_time() + int(fields[19]) / CLK_TCK
    rss = int(fields[21]) * PAGE_SIZE
    return Process(pid, role, datetime.fromtimestamp(started, UTC), rss)


def is_cloud(pid: int) -> bool:
    """Whether ``pid`` is a running ``stratus up`` (not a reused pid)."""
    argv = _cmdline(pid)
    fields = _stat(pid)
    return fields is not None and fields[0] != "Z" and "up" in argv and "stratus" in " ".join(argv)


def running_pid(data_dir: Path) -> int | None:
    pid = read_pid(data_dir)
    return pid if pid is not None and is_cloud(pid) else None


def processes(primary: int) -> list[Process]:
    """The primary and its API workers."""
    found = [p for p in [_process(primary, "primary")] if p is not None]
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        fields = _stat(int(entry.name))
        if fields is None or int(fields[1]) != primary:
            continue
        if "api-worker" in _cmdline(int(entry.name)):
            worker = _process(int(entry.name), "api-worker")
            if worker is not None:
                found.append(worker)
    return found


def stop(data_dir: Path, timeout: float = 30.0) -> int | None:
    """SIGTERM the cloud and wait for it to end (SIGKILL after ``timeout``);
    the pid stopped, or None when none ran."""
    pid = running_pid(data_dir)
    if pid is None:
        return None
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not is_cloud(pid):
            return pid
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    return pid


# -- the report ---------------------------------------------------------------------------


@dataclass
class Status:
    data_dir: Path
    url: str
    services: list[str]
    database: str
    running: bool = False
    processes: list[Process] = field(default_factory=list)
    answers: str = ""  # what GET / said ("" when not asked)
    agents: list[AgentState] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        return self.running and not self.problems


def local_url(cfg: Config) -> str:
    host = cfg.server.host
    if host in ("0.0.0.0", "", "::"):
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{cfg.server.port}/"


async def _probe(url: str) -> tuple[bool, str]:
    import httpx

    started = time.monotonic()
    try:
        async with tls.client(timeout=5.0) as client:
            resp = await client.get(url)
    except httpx.HTTPError as exc:
        return False, f"no answer ({type(exc).__name__})"
    ms = (time.monotonic() - started) * 1000
    return resp.status_code == 200, f"HTTP {resp.status_code} in {ms:.0f} ms"


async def _agents(cfg: Config) -> tuple[list[AgentState], list[str]]:
    from stratus.common.db import Database

    db = Database(cfg.database_url)
    out: list[AgentState] = []
    problems: list[str] = []
    try:
        for service, module in REPORTS.items():
            if service not in cfg.services.enabled:
                continue
            report: AgentReport = importlib.import_module(module).agents
            try:
                out.extend(await report(db, cfg))
            except Exception as exc:  # no schema yet, the database is down, ...
                problems.append(f"{service} agents could not be read: {exc}")
    finally:
        await db.close()
    return out, problems


async def gather(cfg: Config) -> Status:
    database = "SQLite" if not cfg.database.url else cfg.database_url.split("@")[-1]
    st = Status(cfg.data_dir, cfg.public_url, list(cfg.services.enabled), database)
    pid = running_pid(cfg.data_dir)
    if pid is not None:
        st.running = True
        st.processes = processes(pid)
        url = read_url(cfg.data_dir) or local_url(cfg)
        st.url = url.rstrip("/")
        ok, st.answers = await _probe(url)
        if not ok:
            st.problems.append(f"the API does not answer at {url}: {st.answers}")
        workers = sum(1 for p in st.processes if p.role == "api-worker")
        if workers < cfg.server_workers - 1:
            st.problems.append(f"{workers} of {cfg.server_workers - 1} API workers run")
    if cfg.database.url or (cfg.data_dir / "stratus.db").exists():
        st.agents, problems = await _agents(cfg)
        st.problems += problems
    if st.running:
        st.problems += [f"{a.service} agent on {a.host} is down" for a in st.agents if not a.alive]
    return st


def _ago(when: datetime | None, now: datetime) -> str:
    if when is None:
        return "never"
    seconds = int((now - when).total_seconds())
    if seconds < 120:
        return f"{seconds} s ago"
    if seconds < 7200:
        return f"{seconds // 60} min ago"
    return f"{seconds // 3600} h ago"


def render(st: Status) -> str:
    now = datetime.now(UTC)
    lines = [f"Stratus in {st.data_dir.resolve()}"]
    if st.running:
        lines.append(f"  running at {st.url} ({st.answers})")
    else:
        lines.append("  not running")
    lines.append(f"  services: {', '.join(st.services)}; database: {st.database}")
    for p in st.processes:
        since = p.started.astimezone().strftime("%Y-%m-%d %H:%M:%S")
        lines.append(
            f"  {p.role:<10} pid {p.pid:<7} since {since} ({_ago(p.started, now)}), "
            f"RSS {p.rss / 2**20:.0f} MiB"
        )
    if st.running:
        lines.append(
            "  in the primary: schema and bootstrap, the compute scheduler, the "
            "object store's replicator, auditor, updater and expirer"
        )
    if st.agents:
        lines.append("Agents:")
        for a in st.agents:
            state = "up" if a.alive else "DOWN"
            enabled = "" if a.enabled else ", disabled"
            lines.append(
                f"  {a.service:<8} {a.host:<20} {state:<4} heartbeat "
                f"{_ago(a.heartbeat, now)}{enabled}; {a.detail}"
            )
    if st.problems:
        lines.append("Problems:")
        lines += [f"  {p}" for p in st.problems]
    return "\n".join(lines)


def as_json(st: Status) -> dict[str, Any]:
    return {
        "data_dir": str(st.data_dir.resolve()),
        "url": st.url,
        "running": st.running,
        "healthy": st.healthy,
        "answers": st.answers,
        "services": st.services,
        "database": st.database,
        "processes": [
            {"pid": p.pid, "role": p.role, "since": p.started.isoformat(), "rss": p.rss}
            for p in st.processes
        ],
        "agents": [
            {
                "service": a.service,
                "host": a.host,
                "alive": a.alive,
                "enabled": a.enabled,
                "heartbeat": a.heartbeat.isoformat() if a.heartbeat else None,
                "detail": a.detail,
            }
            for a in st.agents
        ],
        "problems": st.problems,
    }
