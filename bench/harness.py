"""What every benchmark under bench/ shares: the ``stratus up`` server and
its processes, the machine's load (QUIET / busy / NOISY), wrk's report and
the load figures, transfers with their CPU and memory, py-spy profiles,
measuring a git commit's src/, and the closing summary table.

The benchmarks (identity.py, image.py, compute.py, compute_live.py,
objectstore.py, network.py, compute_network.py and the others) import it as
``h`` or ``bh``; it sends no traffic anywhere but 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
HOST = "127.0.0.1"  # never anything else: all traffic stays on this machine
CLK_TCK = os.sysconf("SC_CLK_TCK")

failures: list[str] = []


def fail(message: str) -> None:
    """A measurement went wrong: say so loudly, go on, exit 1 at the end."""
    failures.append(message)
    print(f"\n!!! FAILED: {message}\n", flush=True)


# -- processes -------------------------------------------------------------------


def stratus_command() -> list[str]:
    exe = Path(sys.executable).parent / "stratus"
    if exe.exists():
        return [str(exe)]
    found = shutil.which("stratus")
    if found:
        return [found]
    return [sys.executable, "-m", "stratus.cli"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


# Pin the server to CPU 0 and wrk (and this script, during load) to CPU 1?
PIN = shutil.which("taskset") is not None and {0, 1} <= os.sched_getaffinity(0)


def pinned(cpu: int | None, argv: list[str]) -> list[str]:
    return ["taskset", "-c", str(cpu), *argv] if cpu is not None and PIN else argv


def proc_cpu(pid: int) -> tuple[float, float]:
    """(utime, stime) of a process, all its threads, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) / CLK_TCK, int(fields[12]) / CLK_TCK  # fields 14, 15 of proc(5)


def proc_kib(pid: int, key: str) -> int:
    """A ``/proc/PID/status`` figure in KiB (VmRSS, VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise KeyError(key)


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def stop_proc(proc: subprocess.Popen[bytes] | None) -> None:
    """SIGTERM a process we started, SIGKILL after 15 s."""
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class Server:
    """One ``stratus up`` process, its data folder and its port, on 127.0.0.1.

    ``env``: variables set over this process's (``STRATUS_SERVICES__ENABLED``,
    a driver, ...); ``clean_env``: leave out the ``STRATUS_*`` variables this
    process has, so that only ``env`` configures the cloud; ``log_path``: where
    its output goes (default: beside the data folder, named by the port)."""

    def __init__(
        self,
        data_dir: Path,
        cpu: int | None = None,
        env: dict[str, str] | None = None,
        *,
        clean_env: bool = False,
        log_path: Path | None = None,
    ):
        self.data_dir = data_dir
        self.port = free_port()
        self.url = f"http://{HOST}:{self.port}"
        self.base = f"{self.url}/identity"
        self.log_path = log_path or data_dir.parent / f"{data_dir.name}-{self.port}.log"
        self.cpu = cpu
        self.env = env
        self.clean_env = clean_env
        self.proc: subprocess.Popen[bytes] | None = None
        self.spawned = 0.0

    def start(self) -> None:
        argv = [
            *stratus_command(),
            "up",
            "--data-dir",
            str(self.data_dir),
            "--host",
            HOST,
            "--port",
            str(self.port),
        ]
        inherited = {
            k: v for k, v in os.environ.items() if not (self.clean_env and k.startswith("STRATUS_"))
        }
        env = {**inherited, **(self.env or {})}
        self.spawned = time.monotonic()
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                pinned(self.cpu, argv),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
            )

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def wait_ready(
        self, client: httpx.Client, timeout: float = 30.0, path: str = "/identity/v3"
    ) -> float:
        """Seconds from spawn to the first 200 from ``path`` (default: the
        identity discovery document)."""
        assert self.proc is not None
        deadline = self.spawned + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"stratus up exited with {self.proc.returncode}:\n{self.log_tail()}"
                )
            try:
                if client.get(f"{self.url}{path}", timeout=2.0).status_code == 200:
                    return time.monotonic() - self.spawned
            except httpx.TransportError:
                pass
            time.sleep(0.005)
        raise RuntimeError(f"stratus up not ready after {timeout:.0f} s:\n{self.log_tail()}")

    def password(self) -> str:
        return (self.data_dir / "admin-password").read_text().strip()

    def cpu_times(self) -> tuple[float, float]:
        """(utime, stime) of the server process, all its threads, in seconds."""
        return proc_cpu(self.pid)

    def status_kib(self, key: str) -> int:
        return proc_kib(self.pid, key)

    def log_tail(self, lines: int = 30) -> str:
        return tail(self.log_path, lines)

    def stop(self) -> None:
        stop_proc(self.proc)


# -- identity requests -------------------------------------------------------------


def end_data_plane(folder: Path, namespace: str) -> None:
    """After a cloud whose Linux network agent ran in host namespace
    ``namespace`` stopped: kill the processes that name its data folder
    (guests, dnsmasq, which outlive the server by design), delete the
    namespaces it made (all named after the host namespace) and its lock."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if str(folder).encode() in (entry / "cmdline").read_bytes():
                    os.kill(int(entry.name), signal.SIGKILL)
            except OSError:
                pass
    listed = subprocess.run(["ip", "-json", "netns", "list"], capture_output=True, text=True)
    for ns in json.loads(listed.stdout or "[]") if listed.returncode == 0 else []:
        if ns.get("name", "").startswith(namespace):
            subprocess.run(["ip", "netns", "delete", ns["name"]], check=False)
    Path(f"/run/stratus/network-{namespace}.lock").unlink(missing_ok=True)


def password_body(password: str) -> dict[str, Any]:
    return {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {"name": "admin", "domain": {"id": "default"}, "password": password}
                },
            },
            "scope": {"project": {"name": "admin", "domain": {"id": "default"}}},
        }
    }


def issue(client: httpx.Client, base: str, body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    resp = client.post(f"{base}/v3/auth/tokens", json=body, timeout=30.0)
    if resp.status_code != 201:
        raise RuntimeError(f"POST /v3/auth/tokens answered {resp.status_code}: {resp.text[:300]}")
    return resp.headers["x-subject-token"], resp.json()["token"]


# -- load figures ----------------------------------------------------------------------

# How every wrk run reports: one BENCH line of JSON (the other benchmarks reuse it).
WRK_REPORT_LUA = r"""function response(status, headers, body)
  if status < 200 or status > 299 then
    bad = bad + 1
    bad_status = status
  end
end
function done(summary, latency, requests)
  local non2xx, status = 0, 0
  for _, t in ipairs(threads) do
    non2xx = non2xx + t:get("bad")
    if t:get("bad_status") ~= 0 then status = t:get("bad_status") end
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests": %d, "duration_us": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, ' ..
    '"max_us": %d, "non2xx": %d, "bad_status": %d, "connect": %d, "read": %d, "write": %d, ' ..
    '"timeout": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, non2xx, status, e.connect, e.read, e.write, e.timeout))
end
"""


@dataclass
class LoadResult:
    name: str
    rps: float
    requests: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    non2xx: int
    socket_errors: int
    cpu_ms: float  # server CPU time per request
    busy: float  # server CPU seconds per wall second during the run
    sys_share: float  # share of the server's CPU time spent in the kernel
    others: float  # CPU seconds per second used by other processes (not server, not wrk)
    steal: float  # share of the machine's CPU time stolen by the hypervisor
    runs: list[float] = field(default_factory=list)  # requests/s of every repeat
    extra: dict[str, Any] = field(default_factory=dict)


def load_result(
    name: str,
    r: dict[str, Any],
    cpu: tuple[tuple[float, float], tuple[float, float]],
    ticks: tuple[tuple[int, int, int], tuple[int, int, int]],
    client_cpu: float,
) -> LoadResult:
    """The figures of one wrk run (its BENCH line ``r``) from the server's
    (utime, stime) and the machine's ticks before and after, and the CPU the
    load generator used; non-2xx responses and socket errors are failures."""
    (user0, sys0), (user1, sys1) = cpu
    (tot0, busy0, steal0), (tot1, busy1, steal1) = ticks
    server_cpu = user1 + sys1 - user0 - sys0
    seconds = r["duration_us"] / 1e6
    requests = max(1, r["requests"])
    socket_errors = r["connect"] + r["read"] + r["write"] + r["timeout"]
    result = LoadResult(
        name=name,
        rps=r["requests"] / seconds,
        requests=r["requests"],
        p50_ms=r["p50_us"] / 1000,
        p90_ms=r["p90_us"] / 1000,
        p99_ms=r["p99_us"] / 1000,
        non2xx=r["non2xx"],
        socket_errors=socket_errors,
        cpu_ms=server_cpu * 1000 / requests,
        busy=server_cpu / seconds,
        sys_share=(sys1 - sys0) / max(1e-9, server_cpu),
        others=max(0.0, (busy1 - busy0) / CLK_TCK - server_cpu - client_cpu) / seconds,
        steal=(steal1 - steal0) / max(1, tot1 - tot0),
    )
    if result.non2xx:
        fail(f"{name}: {result.non2xx} non-2xx responses (last status {r['bad_status']})")
    if socket_errors:
        fail(
            f"{name}: socket errors: connect {r['connect']}, read {r['read']}, "
            f"write {r['write']}, timeout {r['timeout']}"
        )
    return result


def machine_ticks() -> tuple[int, int, int]:
    """(total, busy, steal) jiffies of all CPUs together, from /proc/stat."""
    parts = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    values = [int(v) for v in parts[:8]]  # user nice system idle iowait irq softirq steal
    total = sum(values)
    return total, total - values[3] - values[4] - values[7], values[7]


QUIET_WAIT = 20.0  # seconds to wait, at most, for the machine to go quiet before a run


def wait_quiet(max_wait: float | None = None, threshold: float = 0.15) -> float:
    """Wait until the whole machine uses less than ``threshold`` of a core for
    half a second (other people's test suites share it), or ``max_wait`` s.
    Returns the load seen last, in cores."""
    deadline = time.monotonic() + (QUIET_WAIT if max_wait is None else max_wait)
    while True:
        _, busy0, _ = machine_ticks()
        time.sleep(0.5)
        _, busy1, _ = machine_ticks()
        load = (busy1 - busy0) / CLK_TCK / 0.5
        if load < threshold or time.monotonic() >= deadline:
            return load


def noise(others: float) -> str:
    """How busy the rest of the machine was (cores used by other processes)."""
    return "QUIET" if others < 0.1 else ("busy" if others < 0.5 else "NOISY: figures understated")


class Load:
    """CPU used by the whole machine over a window, minus what we account for."""

    def __init__(self) -> None:
        _, self.busy0, _ = machine_ticks()
        self.t0 = time.monotonic()

    def others(self, accounted: float) -> float:
        """Cores used by other processes: machine busy time minus ``accounted`` CPU s."""
        _, busy1, _ = machine_ticks()
        seconds = max(1e-6, time.monotonic() - self.t0)
        return max(0.0, (busy1 - self.busy0) / CLK_TCK - accounted) / seconds


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def times(ratio: float) -> str:
    return f"{ratio:.2f}x" if 0.1 <= ratio < 100 else f"{ratio:.3g}x"


def print_load(r: LoadResult, baseline: LoadResult | None) -> None:
    ratio = f"   ({times(r.rps / baseline.rps)} baseline)" if baseline and baseline is not r else ""
    print(f"  requests/s      {r.rps:10.0f}{ratio}")
    print(
        f"  latency         p50 {r.p50_ms:.2f} ms   p90 {r.p90_ms:.2f} ms   p99 {r.p99_ms:.2f} ms"
    )
    print(
        f"  non-2xx         {r.non2xx:10d}   socket errors {r.socket_errors}   ({r.requests} requests)"
    )
    cpu_ratio = (
        f"   ({times(r.cpu_ms / baseline.cpu_ms)} baseline)"
        if baseline and baseline is not r
        else ""
    )
    print(
        f"  server CPU/req  {r.cpu_ms:10.3f} ms{cpu_ratio}   ({r.sys_share * 100:.0f} % in the kernel)"
    )
    print(
        f"  server busy     {r.busy * 100:9.0f} % of a core   "
        f"(CPU-bound ceiling {1000 / r.cpu_ms if r.cpu_ms else 0:.0f}/s)"
    )
    print(
        f"  other load      {r.others * 100:9.0f} % of a core by other processes, "
        f"steal {r.steal * 100:.0f} % ({noise(r.others)})"
    )
    if len(r.runs) > 1:
        print(f"  repeats         best of {', '.join(f'{x:.0f}' for x in r.runs)} requests/s")
    for key, value in r.extra.items():
        print(f"  {key:15s} " + str(value).replace("\n", "\n" + " " * 18))
    sys.stdout.flush()


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


# -- transfers ----------------------------------------------------------------------------


@dataclass
class Transfer:
    name: str
    mbps: float
    seconds: float
    server_cpu_per_gib: float  # s
    client_cpu_per_gib: float  # s
    busy: float  # server CPU s per wall s
    others: float
    rss_start_mib: float = 0.0
    rss_peak_mib: float = 0.0
    rss_end_mib: float = 0.0
    runs: tuple[float, ...] = ()


class RssSampler(threading.Thread):
    """A VmRSS (KiB, from ``rss``) every ``interval`` s until stopped; the peak."""

    def __init__(self, rss: Callable[[], int], interval: float = 0.02):
        super().__init__(daemon=True)
        self.rss = rss
        self.interval = interval
        self.peak = 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            try:
                self.peak = max(self.peak, self.rss())
            except (OSError, KeyError):
                return
            self.done.wait(self.interval)

    def stop(self) -> int:
        self.done.set()
        self.join()
        return self.peak


def measure_transfer(
    name: str,
    size: int,
    action: Callable[[], None],
    *,
    cpu: Callable[[], float],
    rss: Callable[[], int],
) -> Transfer:
    """Time ``action`` moving ``size`` bytes, after the machine went quiet:
    the servers' CPU (``cpu``: seconds so far) and memory (``rss``: KiB)."""
    wait_quiet()
    rss0 = rss()
    sampler = RssSampler(rss)
    cpu0, me0 = cpu(), time.process_time() + children_cpu()
    _, busy0, _ = machine_ticks()
    sampler.start()
    t0 = time.monotonic()
    action()
    seconds = time.monotonic() - t0
    peak = sampler.stop()
    cpu1, me1 = cpu(), time.process_time() + children_cpu()
    _, busy1, _ = machine_ticks()
    server_cpu, client_cpu = cpu1 - cpu0, me1 - me0
    gib = size / (1 << 30)
    return Transfer(
        name=name,
        mbps=size / seconds / 1e6,
        seconds=seconds,
        server_cpu_per_gib=server_cpu / gib,
        client_cpu_per_gib=client_cpu / gib,
        busy=server_cpu / seconds,
        others=max(0.0, (busy1 - busy0) / CLK_TCK - server_cpu - client_cpu) / seconds,
        rss_start_mib=rss0 / 1024,
        rss_peak_mib=max(peak, rss0) / 1024,
        rss_end_mib=rss() / 1024,
    )


def best(results: list[Transfer]) -> Transfer:
    top = max(results, key=lambda t: t.mbps)
    top.runs = tuple(t.mbps for t in results)
    return top


# -- py-spy profiles -----------------------------------------------------------------------


@dataclass
class Profile:
    """One py-spy recording: its summary (or why there is none), and what the
    load run meanwhile returned."""

    summary: str
    ok: bool = False
    result: Any = None


def profile(
    pid: int,
    out: Path,
    load: Callable[[], Any],
    *,
    seconds: int | None = None,
    rate: int = 250,
    gil: bool = False,
    threads: bool = False,
    pin: bool = True,
    lead: float = 0.0,
    form: str = "event-loop",
    requests: Callable[[Any], float] | None = None,
    top: int | None = None,
) -> Profile:
    """Sample process ``pid`` with py-spy (``rate`` Hz, raw stacks into
    ``out``) while ``load()`` runs, ``lead`` s after py-spy started: for
    ``seconds`` s (py-spy stops by itself), or, when None, until the load
    returns (py-spy is interrupted then and writes what it has).

    ``gil``: sample only the thread holding the GIL (the Python work, which
    one process cannot spread over cores); ``threads``: each stack starts with
    its thread; ``pin``: py-spy on CPU 1, beside the load generator (when PIN).
    The summary's ``form``:

    - ``event-loop``: the event-loop thread's top functions, by own and by
      inclusive samples (``top`` 12);
    - ``by-thread`` (needs ``threads``): the samples by kind of thread, then
      the top functions by own and inclusive (stratus, starlette, uvicorn)
      time, in ms per request, ``requests(result)`` being the requests made
      during the sampled seconds (``top`` 16);
    - ``busy``: every thread's top functions by own samples, idle pool
      threads left out (``top`` 15).
    """
    if form not in ("event-loop", "by-thread", "busy") or (
        form == "by-thread" and (requests is None or not threads)
    ):
        raise ValueError(f"profile: no summary form {form!r} with these options")
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(py_spy).exists():
        return Profile("py-spy is not installed (.venv/bin/pip install py-spy)")
    argv = [py_spy, "record", "-p", str(pid), "-d", str(seconds or 600), "-r", str(rate)]
    argv += ["--gil"] * gil + ["--threads"] * threads + ["-f", "raw", "-o", str(out)]
    spy = subprocess.Popen(
        pinned(1 if pin else None, argv), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    interrupt = seconds is None
    try:
        time.sleep(lead)
        result = load()
    except BaseException:
        interrupt = True
        raise
    finally:
        if interrupt:
            spy.send_signal(signal.SIGINT)
        try:
            _, err = spy.communicate(timeout=60 if interrupt else (seconds or 0) + 30)
        except subprocess.TimeoutExpired:
            spy.kill()
            _, err = spy.communicate()
    if not out.exists() or (spy.returncode != 0 and not interrupt):
        return Profile(
            f"py-spy failed: {err.decode(errors='replace').strip()[-300:]}", False, result
        )
    if form == "event-loop":
        summary = _event_loop_summary(out, top or 12)
    elif form == "busy":
        summary = _busy_summary(out, top or 15)
    else:
        assert requests is not None
        summary = _thread_summary(out, rate, max(1.0, requests(result)), top or 16)
    return Profile(summary, True, result)


def _samples(path: Path) -> list[tuple[str, list[str], int]]:
    """(raw stack, its frames without line numbers, samples) of a raw py-spy file."""
    found = []
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if count.isdigit():
            frames = [re.sub(r":\d+\)$", ")", f) for f in stack.split(";")]
            found.append((stack, frames, int(count)))
    return found


def _event_loop_summary(path: Path, top: int) -> str:
    own: dict[str, int] = {}
    inclusive: dict[str, int] = {}
    total = 0
    for stack, frames, n in _samples(path):
        if "uvicorn/server.py" not in stack:
            continue  # idle worker threads, or another thread
        total += n
        own[frames[-1]] = own.get(frames[-1], 0) + n
        for f in set(frames):
            inclusive[f] = inclusive.get(f, 0) + n
    if not total:
        return "no samples of the event-loop thread"
    lines = [f"{total} samples of the event-loop thread; own time:"]
    for f, n in sorted(own.items(), key=lambda kv: -kv[1])[:top]:
        lines.append(f"{n * 100 / total:5.1f} %  {f}")
    lines.append("inclusive (below 90 %):")
    below = [kv for kv in sorted(inclusive.items(), key=lambda kv: -kv[1]) if kv[1] < 0.9 * total]
    for f, n in below[: top * 2]:
        lines.append(f"{n * 100 / total:5.1f} %  {f}")
    return "\n".join(lines)


def _thread_summary(path: Path, rate: int, requests: float, top: int) -> str:
    own: dict[str, int] = {}
    inclusive: dict[str, int] = {}
    kinds: dict[str, int] = {}
    total = 0
    for stack, frames, n in _samples(path):
        total += n
        frames = frames[1:]  # [0]: the thread
        kind = "event loop" if "uvicorn/server.py" in stack else (
            "disk worker threads" if "concurrent/futures/thread.py" in stack else
            "sqlite threads" if "aiosqlite" in stack else "other")  # fmt: skip
        kinds[kind] = kinds.get(kind, 0) + n
        if not frames:
            continue
        own[frames[-1]] = own.get(frames[-1], 0) + n
        for f in set(frames):
            inclusive[f] = inclusive.get(f, 0) + n
    if not total:
        return "no samples"

    def ms(n: int) -> str:
        return f"{n / rate * 1000 / requests:6.3f} ms"

    lines = [f"{total} samples holding the GIL: {ms(total)} per request, by thread:"]
    for kind, n in sorted(kinds.items(), key=lambda kv: -kv[1]):
        lines.append(f"  {n * 100 / total:5.1f} %  {ms(n)}  {kind}")
    lines.append("own time:")
    for f, n in sorted(own.items(), key=lambda kv: -kv[1])[:top]:
        lines.append(f"  {n * 100 / total:5.1f} %  {ms(n)}  {f}")
    lines.append("inclusive (stratus, starlette and uvicorn frames, below 60 %):")
    below = [
        kv for kv in sorted(inclusive.items(), key=lambda kv: -kv[1])
        if kv[1] < 0.6 * total and ("stratus" in kv[0] or "starlette" in kv[0] or "uvicorn" in kv[0])
    ]  # fmt: skip
    for f, n in below[: top * 2]:
        lines.append(f"  {n * 100 / total:5.1f} %  {ms(n)}  {f}")
    return "\n".join(lines)


def _busy_summary(path: Path, top: int) -> str:
    own: dict[str, int] = {}
    total = 0
    for stack, frames, n in _samples(path):
        leaf = frames[-1]
        if (
            "wait" in leaf
            and "threading" in stack
            and "_worker" in stack
            and "os.write" not in stack
        ):
            continue  # idle pool threads
        total += n
        own[leaf] = own.get(leaf, 0) + n
    lines = [f"{total} busy samples (all threads); own time:"]
    for f, n in sorted(own.items(), key=lambda kv: -kv[1])[:top]:
        lines.append(f"{n * 100 / max(1, total):5.1f} %  {f}")
    return "\n".join(lines)


def profile_run(server: Server | int, out: Path, load: Callable[[], Any], duration: float) -> str:
    """The event-loop thread of the server sampled during one more,
    unmeasured, load run of ``duration`` s (the identity benchmark's)."""
    pid = server if isinstance(server, int) else server.pid
    p = profile(pid, out, load, seconds=max(1, int(duration) - 2))
    return f"{out}\n{p.summary}" if p.ok else p.summary


# -- the source measured, and the summary -------------------------------------------------


def git(*argv: str) -> str:
    return subprocess.run(
        ["git", *argv], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.strip()


def extract_commit(rev: str, dest: Path) -> Path:
    """src/ of commit ``rev`` into ``dest``; returns the folder to put on PYTHONPATH."""
    commit = git("rev-parse", "--verify", f"{rev}^{{commit}}")
    dest.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "archive", commit, "src"], cwd=REPO, capture_output=True, check=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    # Byte-compile, as an installed package is, so that startup times compare.
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(dest / "src")], check=True)
    print(f"measuring commit {commit[:12]} ({git('log', '-1', '--format=%s', commit)[:60]})")
    return dest / "src"


def describe_tree() -> str:
    try:
        head = git("rev-parse", "--short=12", "HEAD")
        dirty = git("status", "--porcelain", "--", "src")
    except (subprocess.CalledProcessError, OSError):
        return "working tree (not a git checkout)"
    return f"working tree at {head}" + (" with uncommitted changes in src/" if dirty else "")


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def use_source(commit: str | None, tmp: Path) -> str | None:
    """Measure commit ``commit``'s src/ (extracted into ``tmp`` and put first
    on PYTHONPATH, for this process and the servers it starts), or the working
    tree; what is measured, or None (said on stderr) when it cannot be had."""
    if not commit:
        return describe_tree()
    try:
        source = extract_commit(commit, tmp / "source")
    except (subprocess.CalledProcessError, OSError) as exc:
        print(f"bench: cannot extract {commit}: {exc}", file=sys.stderr)
        return None
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [str(source), *filter(None, [os.environ.get("PYTHONPATH")])]
    )
    return str(source)


def machine() -> str:
    return f"machine: {os.cpu_count()} CPUs, {cpu_model()}; python {sys.version.split()[0]}"


def print_summary(rows: Sequence[tuple[Any, ...]], extra: Sequence[str] = ()) -> int:
    """The closing table (figure | measured | target | met? | ``extra``
    columns), the missed targets, and the measurement failures; the exit
    status: 1 when a measurement failed, else 0 (a missed target is not a
    failure)."""
    header = ("figure", "measured", "target", "met?", *extra)
    cells = [
        (*r[:3], "-" if r[3] is None else ("yes" if r[3] else "MISSED"), *map(str, r[4:]))
        for r in rows
    ]
    widths = [max([len(header[i]), *(len(str(c[i])) for c in cells)]) for i in range(len(header))]

    def line(values: Sequence[str]) -> str:
        return (
            "| " + " | ".join(str(c).ljust(w) for c, w in zip(values, widths, strict=True)) + " |"
        )

    print(line(header))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for c in cells:
        print(line(c))
    missed = [r[0] for r in rows if r[3] is False]
    print()
    print(f"MISSED {len(missed)} target(s): {'; '.join(missed)}" if missed else "All targets met.")
    if failures:
        print(f"\n!!! {len(failures)} measurement failure(s):")
        for f in failures:
            print(f"!!!   {f}")
        return 1
    return 0
