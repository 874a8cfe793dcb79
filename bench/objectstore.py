"""Performance figures of the Stratus object store (the Swift API).

Starts its own ``stratus up`` (identity and object-store only) on a fresh
temporary data folder and free ports on 127.0.0.1, and measures:

1. the baseline, in the same run: ``GET /object-store/healthcheck`` (no token,
   no disk), the HTTP ceiling of this stack, and dd's sequential write and read
   of 1 GiB on the same filesystem (``conv=fdatasync``, ``iflag=direct``);
2. 4 KiB PUT: wrk, a Lua counter giving every request a new object name, 16
   connections; every PUT is fsynced (file and folder) before its 201;
3. 4 KiB GET: wrk over a set of pre-created 4 KiB objects;
   both with the server on CPU 0 and wrk on CPU 1 ("pinned"), and again with
   both free to use both cores ("unpinned": the object path fsyncs in threads);
4. 256 MiB PUT, streamed from a generator by httpx (chunked), and 256 MiB GET
   to /dev/null by curl (once dropped from the page cache, once from it), with
   the server's resident memory sampled every 20 ms (it must stay flat);
5. the JSON listing of a container of 10,000 objects (made by parallel PUTs of
   empty objects), ``GET ?format=json&limit=10000`` x10;
6. the same 4 KiB PUT and GET (and the 256 MiB transfers) on three replicas:
   by default the all-in-one with one in-process node holding three devices
   in zones 1-3 (``nodes = "local"``, ``ring_dir`` set); with ``--nodes http``,
   three ``stratus storage-node`` processes, one device each, behind
   ``stratus up`` with ``[objectstore] nodes = "http"``.

For every load figure: requests/s, latency p50/p90/p99, non-2xx (must be 0),
and the CPU time per request of every server process together (utime+stime of
all threads, /proc/PID/stat); "other load" is the CPU used meanwhile by
processes other than the servers and the load generator (QUIET / busy /
NOISY).  Interference slows a run down but hardly changes CPU per request.

Exit status: 0 when every figure was measured, even if a target was missed
(missed targets say MISSED); 1 when a measurement itself went wrong.

Usage: .venv/bin/python bench/objectstore.py [--duration 10] [--repeat 1] [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import harness as bh  # noqa: E402  (what every benchmark shares)
import image as imb  # noqa: E402  (dd and the page-cache helpers of the image benchmark)

HOST = bh.HOST  # 127.0.0.1, never anything else
CLK_TCK = bh.CLK_TCK
MIB = 1 << 20
SERVICES_ENV = {"STRATUS_SERVICES__ENABLED": '["identity", "object-store"]'}

# Targets of issue 3 (one replica, concurrency 16, data fsynced), and OpenStack
# Swift 2.38's figures, all-in-one on the same machine, for comparison.
TARGET_PUT_RPS = 1000.0
TARGET_PUT_CPU_MS = 2.0
TARGET_GET_RPS = 2000.0
TARGET_GET_CPU_MS = 1.0
TARGET_BIG_PUT_SHARE = 0.80  # of dd's write rate
TARGET_BIG_GET_MBPS = 500.0
TARGET_LIST_MS = 100.0
RSS_GROWTH_MIB = 64.0  # "constant memory": peak RSS at most this above the start
SWIFT = {
    "put": "182/s, 9.7 ms CPU",
    "get": "402/s, 4.6 ms CPU",
    "big_put": "287 MB/s",
    "big_get": "248 MB/s",
    "list": "250-390 ms",
}

fail = bh.fail
noise = bh.noise
Transfer = bh.Transfer
best = bh.best
proc_cpu = bh.proc_cpu
proc_kib = bh.proc_kib
tail = bh.tail
stop_proc = bh.stop_proc


# -- processes -------------------------------------------------------------------------------


def child_pids(pid: int) -> list[int]:
    """The direct children of a process (the API workers of ``[server] workers``)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def tree(root: int) -> list[int]:
    """``root`` and every process descending from it (API workers, a Swift
    server's workers)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(stat.parent.name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo += children.get(pid, [])
    return out


class Served:
    """What ``wrk`` and ``create_objects`` need of a server under load besides
    ``pids``, ``token``, ``account`` and ``http``: its CPU time, headers, containers."""

    token: str
    account: str
    http: httpx.Client

    @property
    def pids(self) -> list[int]:
        raise NotImplementedError

    def cpu(self) -> tuple[float, float]:
        """(user, system) seconds of every server process together."""
        user = system = 0.0
        for pid in self.pids:
            try:
                u, s = proc_cpu(pid)
            except OSError:
                continue  # a worker that just ended
            user, system = user + u, system + s
        return user, system

    def pin(self, cpus: set[int]) -> None:
        """Servers that place their processes themselves are left alone."""

    def headers(self, **extra: str) -> dict[str, str]:
        return {"X-Auth-Token": self.token, **extra}

    def put_container(self, name: str) -> None:
        resp = self.http.put(f"{self.account}/{name}", headers=self.headers())
        if resp.status_code not in (201, 202):
            raise RuntimeError(f"PUT container {name} answered {resp.status_code}: {resp.text[:200]}")


def set_affinity(pid: int, cpus: set[int]) -> None:
    """Every thread of a process (threads made later inherit it)."""
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            os.sched_setaffinity(int(tid), cpus)
        except (ProcessLookupError, OSError):
            pass  # a thread that just ended


def wait_port(port: int, proc: subprocess.Popen[bytes], log: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"storage node exited with {proc.returncode}:\n{tail(log)}")
        try:
            with socket.create_connection((HOST, port), timeout=1.0):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"storage node on port {port} not listening after {timeout:.0f} s")


class Cloud(Served):
    """``stratus up`` with identity and the object store; with ``replicas`` 3,
    also three ``stratus storage-node`` processes it reaches over HTTP."""

    def __init__(
        self, root: Path, replicas: int = 1, nodes: str = "local", workers: int = 1,
        cpu_affinity: bool = False,
    ):  # fmt: skip
        self.root = root
        self.replicas = replicas
        self.local = nodes == "local"
        root.mkdir(parents=True)
        env = dict(SERVICES_ENV)
        env["STRATUS_SERVER__WORKERS"] = str(workers)
        env["STRATUS_SERVER__CPU_AFFINITY"] = "true" if cpu_affinity else "false"
        self.cpu_affinity = cpu_affinity  # the servers pin themselves: leave them be
        self.workers: list[int] = []
        self.nodes: list[subprocess.Popen[bytes]] = []
        self.node_ports: list[int] = []
        if replicas > 1:
            self.rings = (root / "rings").resolve()
            env["STRATUS_OBJECTSTORE__NODES"] = nodes
            env["STRATUS_OBJECTSTORE__RING_DIR"] = str(self.rings)
            if self.local:  # one in-process node holding the three devices
                self.local_port = bh.free_port()
                env["STRATUS_OBJECTSTORE__NODE_PORT"] = str(self.local_port)
        self.server = bh.Server(root / "data", env=env)
        self.http = httpx.Client(timeout=httpx.Timeout(60.0, read=600.0, write=600.0))
        self.token = ""
        self.account = ""

    def build_rings(self) -> None:
        """Three replicas, part power 10, one device per node in zones 1-3."""
        self.rings.mkdir()
        if self.local:
            self.node_ports = [self.local_port] * self.replicas
        else:
            self.node_ports = [bh.free_port() for _ in range(self.replicas)]
        stratus = bh.stratus_command()
        for kind in ("account", "container", "object"):
            builder = str(self.rings / f"{kind}.ring.gz")
            run = [*stratus, "ring"]
            subprocess.run(
                [*run, "create", builder, "--replicas", str(self.replicas), "--part-power", "10",
                 "--min-part-hours", "0"],
                check=True, capture_output=True,
            )  # fmt: skip
            for i, port in enumerate(self.node_ports):
                subprocess.run(
                    [*run, "add", builder, "--zone", str(i + 1), "--ip", HOST, "--port", str(port),
                     "--device", f"sd{'abc'[i]}"],
                    check=True, capture_output=True,
                )  # fmt: skip
            subprocess.run([*run, "rebalance", builder], check=True, capture_output=True)

    def start(self) -> None:
        if self.replicas > 1:
            self.build_rings()
        if self.replicas > 1 and self.local:
            for i in range(self.replicas):
                (self.root / "data" / "objectstore" / "devices" / f"sd{'abc'[i]}").mkdir(parents=True)
        elif self.replicas > 1:
            for i, port in enumerate(self.node_ports):
                devices = self.root / f"node{i + 1}"
                (devices / f"sd{'abc'[i]}").mkdir(parents=True)
                log = self.root / f"node{i + 1}.log"
                with open(log, "ab") as out:
                    proc = subprocess.Popen(
                        [*bh.stratus_command(), "storage-node", "--devices", str(devices),
                         "--ring-dir", str(self.rings), "--host", HOST, "--port", str(port)],
                        stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                        env={**os.environ, **SERVICES_ENV},
                    )  # fmt: skip
                self.nodes.append(proc)
                wait_port(port, proc, log)
        self.server.start()
        self.server.wait_ready(self.http, timeout=60.0)
        self.token, body = bh.issue(
            self.http, self.server.base, bh.password_body(self.server.password())
        )
        project = body["project"]["id"]
        self.account = f"http://{HOST}:{self.server.port}/object-store/v1/AUTH_{project}"
        self.workers = child_pids(self.server.pid)

    @property
    def pids(self) -> list[int]:
        return [self.server.pid, *self.workers, *(p.pid for p in self.nodes)]

    def rss_kib(self) -> int:
        return sum(proc_kib(pid, "VmRSS") for pid in self.pids)

    def pin(self, cpus: set[int]) -> None:
        if self.cpu_affinity:
            return
        for pid in self.pids:
            set_affinity(pid, cpus)

    def stop(self) -> None:
        self.http.close()
        self.server.stop()
        for proc in self.nodes:
            stop_proc(proc)

    def log_tail(self) -> str:
        parts = [self.server.log_tail()]
        for i in range(len(self.nodes)):
            parts.append(f"-- node{i + 1}:\n" + tail(self.root / f"node{i + 1}.log", 10))
        return "\n".join(parts)


def create_objects(cloud: Cloud, container: str, names: list[str], body: bytes, concurrency: int = 16) -> float:
    """PUT every name in parallel (asyncio, ``concurrency`` connections); returns the seconds."""

    async def main() -> None:
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        async with httpx.AsyncClient(limits=limits, timeout=60.0) as client:
            todo = iter(names)

            async def worker() -> None:
                for name in todo:
                    resp = await client.put(
                        f"{cloud.account}/{container}/{name}", content=body, headers=cloud.headers()
                    )
                    if resp.status_code != 201:
                        raise RuntimeError(f"PUT {container}/{name} answered {resp.status_code}")

            await asyncio.gather(*(worker() for _ in range(concurrency)))

    t0 = time.monotonic()
    asyncio.run(main())
    return time.monotonic() - t0


# -- wrk ------------------------------------------------------------------------------------------

# PUT: every request a new object name, <prefix>-<thread>-<counter>; GET: the
# pre-created objects <prefix><n>, n cycling over BENCH_OBJECTS.  Every response
# outside 2xx is counted, and done() prints one JSON line of exact figures.
WRK_LUA = r"""
local method = os.getenv("BENCH_METHOD") or "GET"
local base = os.getenv("BENCH_PATH")
local prefix = os.getenv("BENCH_PREFIX") or ""
local nobjects = tonumber(os.getenv("BENCH_OBJECTS") or "1")
local size = tonumber(os.getenv("BENCH_SIZE") or "0")
local headers = {}
local token = os.getenv("BENCH_AUTH_TOKEN")
if token and token ~= "" then headers["X-Auth-Token"] = token end
local subject = os.getenv("BENCH_SUBJECT_TOKEN")
if subject and subject ~= "" then headers["X-Subject-Token"] = subject end
local body = nil
if method == "PUT" then
  body = string.rep("0123456789abcdef", size / 16)
  headers["Content-Type"] = "application/octet-stream"
end

local threads = {}
local nthreads = 0
function setup(thread)
  thread:set("id", nthreads)
  nthreads = nthreads + 1
  table.insert(threads, thread)
end
function init(args) bad = 0; bad_status = 0; counter = 0 end
function request()
  counter = counter + 1
  local path
  if method == "PUT" then
    path = string.format("%s%s-%d-%08d", base, prefix, id, counter)
  elseif nobjects > 1 then
    path = string.format("%s%s%06d", base, prefix, (counter * 7919 + id) % nobjects)
  else
    path = base
  end
  return wrk.format(method, path, headers, body)
end
""" + bh.WRK_REPORT_LUA

RUN_ID = [0]  # runs so far: a new object-name prefix for every PUT run


def wrk(
    cloud: Cloud,
    name: str,
    url: str,
    *,
    method: str = "GET",
    prefix: str = "",
    objects: int = 1,
    size: int = 0,
    auth: bool = True,
    subject: str = "",
    pin: bool,
    connections: int,
    duration: float,
    repeat: int,
    workdir: Path,
    warmup: float = 2.0,
    profile: Path | None = None,
) -> bh.LoadResult:
    """Load ``url`` with wrk ``repeat`` times; the run with the most requests/s is
    returned.  Pinned: every server process on CPU 0, wrk on CPU 1; else all free."""
    script = workdir / "objectstore.lua"
    script.write_text(WRK_LUA)
    cloud.pin({0} if pin and bh.PIN else set(range(os.cpu_count() or 1)))
    base, path = re.match(r"(https?://[^/]+)(/.*)", url).groups()  # type: ignore[union-attr]

    def run(seconds: float) -> dict[str, Any]:
        RUN_ID[0] += 1
        env = {
            **os.environ,
            "BENCH_METHOD": method,
            "BENCH_PATH": path,
            "BENCH_PREFIX": f"{prefix}{RUN_ID[0]}" if method == "PUT" else prefix,
            "BENCH_OBJECTS": str(objects),
            "BENCH_SIZE": str(size),
            "BENCH_AUTH_TOKEN": cloud.token if auth else "",
            "BENCH_SUBJECT_TOKEN": subject,
        }
        argv = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout=10s",
                "-s", str(script), base]  # fmt: skip
        argv = bh.pinned(1, argv) if pin else argv
        out = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
        match = re.search(r"^BENCH (\{.*\})$", out.stdout, re.M)
        if out.returncode != 0 or match is None:
            raise RuntimeError(f"wrk failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")
        return dict(json.loads(match.group(1)))

    def measured() -> bh.LoadResult:
        log_path: Path | None = getattr(cloud, "log_path", None)
        log_start = log_path.stat().st_size if log_path is not None and log_path.exists() else 0
        cpu0, ticks0, wrk0 = cloud.cpu(), bh.machine_ticks(), bh.children_cpu()
        r = run(duration)
        cpu1, ticks1 = cloud.cpu(), bh.machine_ticks()
        wrk_cpu = bh.children_cpu() - wrk0
        if r["non2xx"] and log_path is not None:
            print_complaints(name, log_path, log_start)
        result = bh.load_result(name, r, (cpu0, cpu1), (ticks0, ticks1), wrk_cpu)
        result.extra["wrk CPU"] = f"{wrk_cpu * 1000 / max(1, r['requests']):.3f} ms per request"
        if not r["requests"]:
            fail(f"{name}: no request completed in {duration:g} s")
        return result

    if warmup > 0:
        run(warmup)
    results = []
    for _ in range(max(1, repeat)):
        bh.wait_quiet()
        results.append(measured())
    best = max(results, key=lambda x: x.rps)
    best.runs = [x.rps for x in results]
    if profile is not None:
        best.extra["profile"] = profile_run(cloud, profile, lambda: run(duration), duration)
    return best


def print_complaints(name: str, log_path: Path, start: int, most: int = 20) -> None:
    """What the cloud logged above INFO during a run that had errors: a
    failed request is logged whether or not access logs are on."""
    with log_path.open("rb") as f:
        f.seek(start)
        text = f.read().decode(errors="replace")
    lines = [ln for ln in text.splitlines() if not ln[:1].isdigit() or " INFO " not in ln]
    print(f"  {name}: the cloud's warnings and errors during the run ({len(lines)} lines):")
    for line in lines[:most]:
        print(f"    {line[:300]}")


def profile_run(cloud: Cloud, out: Path, load: Callable[[], dict[str, Any]], duration: float) -> str:
    """Sample the server with py-spy (250 Hz, ``--gil``: only the thread holding
    the GIL, i.e. the Python work, which one process cannot spread over cores)
    during one more, unmeasured, run; where that time goes, per request."""
    seconds = max(1, int(duration) - 2)

    def sampled(r: dict[str, Any]) -> float:  # requests during the sampled seconds
        return r["requests"] / (r["duration_us"] / 1e6) * seconds

    user0, sys0 = cloud.cpu()
    p = bh.profile(
        cloud.server.pid, out, load, seconds=seconds, rate=250, gil=True, threads=True,
        form="by-thread", requests=sampled,
    )  # fmt: skip
    user1, sys1 = cloud.cpu()
    if not p.ok:
        return p.summary
    r = p.result
    rps = r["requests"] / (r["duration_us"] / 1e6)
    n = max(1, r["requests"])
    return (
        f"{out.name}: {rps:.0f}/s while sampled; server CPU {(user1 + sys1 - user0 - sys0) * 1000 / n:.2f} ms"
        f" per request ({(user1 - user0) * 1000 / n:.2f} user, {(sys1 - sys0) * 1000 / n:.2f} kernel;"
        f" sampling slows the server, so these are above the measured run's)\n"
        + p.summary
    )


# -- big objects ------------------------------------------------------------------------------------


def measure_transfer(cloud: Cloud, name: str, size: int, action: Callable[[], None]) -> Transfer:
    return bh.measure_transfer(
        name, size, action, cpu=lambda: sum(cloud.cpu()), rss=cloud.rss_kib
    )


def put_big(cloud: Cloud, url: str, blocks: list[bytes], mib: int, etag: str) -> None:
    resp = cloud.http.put(
        url,
        content=imb.generator(blocks, mib),  # chunked: constant memory on this side too
        headers=cloud.headers(**{"Content-Type": "application/octet-stream"}),
    )
    if resp.status_code != 201:
        raise RuntimeError(f"PUT {url} answered {resp.status_code}: {resp.text[:300]}")
    if resp.headers.get("etag", "").strip('"') != etag:
        raise RuntimeError(f"PUT {url}: ETag {resp.headers.get('etag')} is not {etag}")


def get_big(cloud: Cloud, url: str, size: int, pin: bool) -> None:
    """GET to nowhere with curl (cheaper per byte than a Python client), else httpx."""
    if shutil.which("curl"):
        argv = ["curl", "-sS", "-f", "-o", "/dev/null", "-w", "%{size_download}"]
        argv += ["-H", f"X-Auth-Token: {cloud.token}", url]
        out = subprocess.run(
            bh.pinned(1, argv) if pin else argv, capture_output=True, text=True, check=False
        )
        if out.returncode != 0:
            raise RuntimeError(f"curl GET failed ({out.returncode}): {out.stderr.strip()}")
        got = int(float(out.stdout.strip() or 0))
    else:
        got = 0
        with cloud.http.stream("GET", url, headers=cloud.headers()) as resp:
            if resp.status_code != 200:
                raise RuntimeError(f"GET {url} answered {resp.status_code}")
            for chunk in resp.iter_raw(MIB):
                got += len(chunk)
    if got != size:
        raise RuntimeError(f"GET {url} returned {got} bytes, not {size}")


def drop_object_cache(cloud: Cloud, min_size: int) -> int:
    """Drop the stored copies of the big object (every .data file at least
    ``min_size`` bytes under the cloud's folder) from the page cache."""
    n = 0
    for path in cloud.root.rglob("*.data"):
        if path.stat().st_size >= min_size:
            imb.drop_file_cache(path)
            n += 1
    return n


def print_transfer(t: Transfer, ref: str = "") -> None:
    print(f"  throughput      {t.mbps:8.0f} MB/s  {ref}  {t.seconds:.2f} s")
    ceiling = 1.073741824e3 / t.server_cpu_per_gib if t.server_cpu_per_gib else 0
    print(
        f"  server CPU      {t.server_cpu_per_gib:8.2f} s per GiB   (busy {t.busy * 100:.0f} % of a core;"
        f" CPU-bound ceiling {ceiling:.0f} MB/s on one core)"
    )
    print(
        f"  server RSS      start {t.rss_start_mib:.0f} MiB, peak {t.rss_peak_mib:.0f} MiB "
        f"(+{t.rss_peak_mib - t.rss_start_mib:.0f}), end {t.rss_end_mib:.0f} MiB"
    )
    print(f"  other load      {t.others * 100:8.0f} % of a core by other processes ({noise(t.others)})")
    if len(t.runs) > 1:
        print(f"  repeats         best of {', '.join(f'{x:.0f}' for x in t.runs)} MB/s")
    sys.stdout.flush()


best = imb.best  # the same pick: the fastest run, with every run's rate


def big_objects(
    cloud: Cloud, container: str, blocks: list[bytes], mib: int, repeat: int, pin: bool, label: str
) -> dict[str, Transfer]:
    size = mib * MIB
    md5 = hashlib.md5(usedforsecurity=False)
    for chunk in imb.generator(blocks, mib):
        md5.update(chunk)
    etag = md5.hexdigest()
    cloud.pin({0} if pin and bh.PIN else set(range(os.cpu_count() or 1)))
    if bh.PIN:
        os.sched_setaffinity(0, {1} if pin else {0, 1})
    puts, colds, warms = [], [], []
    for i in range(max(1, repeat)):
        url = f"{cloud.account}/{container}/big-{label}-{i}"
        puts.append(measure_transfer(cloud, "PUT", size, lambda u=url: put_big(cloud, u, blocks, mib, etag)))
        drop_object_cache(cloud, size)
        colds.append(measure_transfer(cloud, "GET disk", size, lambda u=url: get_big(cloud, u, size, pin)))
        warms.append(measure_transfer(cloud, "GET cache", size, lambda u=url: get_big(cloud, u, size, pin)))
        cloud.http.delete(url, headers=cloud.headers())
    return {"put": best(puts), "cold": best(colds), "warm": best(warms)}


# -- listing ------------------------------------------------------------------------------------------


@dataclass
class Listing:
    times_ms: list[float]
    cpu_ms: float  # server CPU per listing
    bytes: int
    others: float


def measure_listing(cloud: Cloud, container: str, count: int, times: int) -> Listing:
    url = f"{cloud.account}/{container}?format=json&limit={count}"
    cloud.http.get(url, headers=cloud.headers()).raise_for_status()  # warm
    bh.wait_quiet()
    walls: list[float] = []
    cpu0 = sum(cloud.cpu())
    _, busy0, _ = bh.machine_ticks()
    me0 = time.process_time()
    t_all = time.monotonic()
    size = 0
    for _ in range(times):
        t0 = time.monotonic()
        resp = cloud.http.get(url, headers=cloud.headers())
        walls.append((time.monotonic() - t0) * 1000)
        if resp.status_code != 200:
            raise RuntimeError(f"GET listing answered {resp.status_code}")
        size = len(resp.content)
        got = len(resp.json())
        if got != count:
            raise RuntimeError(f"the listing has {got} objects, not {count}")
    seconds = time.monotonic() - t_all
    cpu = sum(cloud.cpu()) - cpu0
    _, busy1, _ = bh.machine_ticks()
    others = max(0.0, (busy1 - busy0) / CLK_TCK - cpu - (time.process_time() - me0)) / seconds
    return Listing(walls, cpu * 1000 / times, size, others)


# -- main ------------------------------------------------------------------------------------------------


def pin_modes(args: argparse.Namespace) -> list[tuple[str, bool]]:
    """Pinned (server on CPU 0, client on CPU 1) and unpinned; only unpinned
    with several API workers, which are there to use both cores."""
    if bh.PIN and args.workers == 1:
        return [("pinned", True), ("unpinned", False)]
    return [("unpinned", False)]


def load_figures(
    cloud: Cloud, args: argparse.Namespace, tmp: Path, label: str, baseline: bool, profile: bool
) -> dict[str, bh.LoadResult]:
    """Baseline (optional), 4 KiB PUT and 4 KiB GET, pinned then unpinned."""
    out: dict[str, bh.LoadResult] = {}
    common: dict[str, Any] = {
        "connections": args.connections,
        "duration": args.duration,
        "repeat": args.repeat,
        "workdir": tmp,
    }
    cloud.put_container("bench-put")
    cloud.put_container("bench-get")
    t = create_objects(
        cloud, "bench-get", [f"get-{i:06d}" for i in range(args.objects)], b"g" * 4096
    )
    print(f"  ({args.objects} objects of 4 KiB made for the GETs in {t:.1f} s)")
    for mode, pin in pin_modes(args):
        if bh.PIN:
            os.sched_setaffinity(0, {1} if pin else {0, 1})
        where = "server processes on CPU 0, wrk on CPU 1" if pin else "no pinning, both cores"
        base = None
        if baseline:
            print(f"\n{label} baseline, {mode}: GET /object-store/healthcheck (no token, no disk) -- {where}")
            base = out[f"base {mode}"] = wrk(
                cloud, "baseline", f"http://{HOST}:{cloud.server.port}/object-store/healthcheck",
                auth=False, pin=pin, **common,
            )  # fmt: skip
            bh.print_load(base, None)
        print(f"\n{label} 4 KiB PUT, {mode}: a new object per request, fsynced -- {where}")
        r = out[f"put {mode}"] = wrk(
            cloud, f"{label} PUT {mode}", f"{cloud.account}/bench-put/",
            method="PUT", prefix="put", size=4096, pin=pin,
            profile=tmp / f"put-{label.replace(' ', '-')}.pyspy" if profile and pin else None, **common,
        )  # fmt: skip
        bh.print_load(r, base)
        print(f"\n{label} 4 KiB GET, {mode}: {args.objects} objects, cycled -- {where}")
        r = out[f"get {mode}"] = wrk(
            cloud, f"{label} GET {mode}", f"{cloud.account}/bench-get/",
            prefix="get-", objects=args.objects, pin=pin,
            profile=tmp / f"get-{label.replace(' ', '-')}.pyspy" if profile and pin else None, **common,
        )  # fmt: skip
        bh.print_load(r, base)
    if bh.PIN:
        os.sched_setaffinity(0, {1})
    return out


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--duration", type=float, default=10.0, help="seconds of each load run [10]")
    ap.add_argument("--connections", type=int, default=16, help="wrk connections [16]")
    ap.add_argument(
        "--workers", type=int, default=1,
        help="processes serving the port ([server] workers); above 1, unpinned runs only [1]",
    )  # fmt: skip
    ap.add_argument(
        "--cpu-affinity", action="store_true",
        help="[server] cpu_affinity: each server process on its own CPU (with --workers)",
    )  # fmt: skip
    ap.add_argument("--objects", type=int, default=1000, help="4 KiB objects for the GETs [1000]")
    ap.add_argument("--big", type=int, default=256, help="MiB of the big object [256]")
    ap.add_argument("--dd-size", type=int, default=1024, help="MiB of dd's write and read [1024]")
    ap.add_argument("--listing", type=int, default=10000, help="objects in the listed container [10000]")
    ap.add_argument("--repeat", type=int, default=1, help="runs of each figure; the best is kept [1]")
    ap.add_argument(
        "--quiet-wait",
        type=float,
        default=bh.QUIET_WAIT,
        help=f"seconds to wait, at most, for other load to stop before each run [{bh.QUIET_WAIT:g}]",
    )
    ap.add_argument("--commit", metavar="REV", help="measure the src/ of this git commit")
    ap.add_argument("--no-replicas", action="store_true", help="skip the three-replica figures")
    ap.add_argument(
        "--nodes",
        choices=("local", "http"),
        default="local",
        help="three replicas on one in-process node with three devices (local), or on three "
        "`stratus storage-node` processes reached over HTTP (http) [local]",
    )
    ap.add_argument(
        "--profile",
        action="store_true",
        help="sample the one-replica server with py-spy during one more pinned 4 KiB PUT run",
    )
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder (logs, data)")
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # unwind: servers are stopped
    bh.QUIET_WAIT = args.quiet_wait

    if shutil.which("wrk") is None:
        print("bench: wrk is missing; run bench/run.sh, which installs it", file=sys.stderr)
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="stratus-bench-"))
    source = bh.use_source(args.commit, tmp)
    if source is None:
        shutil.rmtree(tmp, ignore_errors=True)
        return 2
    need = (args.dd_size + 4 * args.big) * MIB
    if shutil.disk_usage(tmp).free < need:
        print(f"bench: less than {need / 2**30:.1f} GiB free in {tmp}", file=sys.stderr)
        shutil.rmtree(tmp, ignore_errors=True)
        return 2
    fs = subprocess.run(
        ["df", "--output=source,fstype", str(tmp)], capture_output=True, text=True, check=False
    ).stdout.split()[-2:]
    print(f"Stratus object store benchmark, {time.strftime('%Y-%m-%d %H:%M:%S %Z')}")
    print(bh.machine())
    print(f"filesystem: {' '.join(fs)} ({tmp})")
    print(
        f"load: wrk -t1 -c{args.connections} -d{args.duration:g}s, best of {args.repeat} run(s) each,"
        f" after a 2 s warm-up; pinned (server processes on CPU 0, wrk on CPU 1) and unpinned"
    )
    print(f"stratus: {source}; [server] workers = {args.workers}, cpu_affinity = {args.cpu_affinity}")
    print(f"work folder: {tmp}\n", flush=True)

    rows: list[tuple[str, str, str, bool | None, str]] = []
    loads: dict[str, bh.LoadResult] = {}
    loads3: dict[str, bh.LoadResult] = {}
    big: dict[str, dict[str, Transfer]] = {}
    big3: dict[str, Transfer] = {}
    listing: Listing | None = None
    dd_write = dd_read = 0.0
    cloud: Cloud | None = None
    try:
        # 1. dd ----------------------------------------------------------------------------------
        print(f"1. disk baseline: dd, {args.dd_size} x 1 MiB on the same filesystem")
        runs = [imb.measure_dd(tmp, args.dd_size) for _ in range(max(1, args.repeat))]
        w = max(runs, key=lambda r: r.write)
        rd = max(runs, key=lambda r: r.read)
        dd_write, dd_read = w.write, rd.read
        print(
            f"  write (conv=fdatasync)  {w.write:6.0f} MB/s   other load {w.write_others * 100:.0f} %"
            f" ({noise(w.write_others)})   dd: {w.write_line}"
        )
        print(
            f"  read (iflag=direct)     {rd.read:6.0f} MB/s   other load {rd.read_others * 100:.0f} %"
            f" ({noise(rd.read_others)})   dd: {rd.read_line}"
        )
        if len(runs) > 1:
            print(f"  repeats  write {', '.join(f'{r.write:.0f}' for r in runs)};"
                  f" read {', '.join(f'{r.read:.0f}' for r in runs)} MB/s")  # fmt: skip
        print(flush=True)

        # 2-3. one replica: 4 KiB PUT and GET ----------------------------------------------------------
        print("2-3. one replica (the all-in-one's in-process node, device sda): 4 KiB PUT and GET")
        cloud = Cloud(
            tmp / "one", replicas=1, workers=args.workers, cpu_affinity=args.cpu_affinity
        )
        cloud.start()
        if bh.PIN:
            os.sched_setaffinity(0, {1})
        loads = load_figures(cloud, args, tmp, "1 replica", baseline=True, profile=args.profile)
        print(flush=True)

        # 4. big objects ----------------------------------------------------------------------------
        blocks = imb.data_blocks()
        cloud.put_container("bench-big")
        for mode, pin in pin_modes(args):
            big[mode] = big_objects(cloud, "bench-big", blocks, args.big, args.repeat, pin, mode)
            where = "server on CPU 0, client on CPU 1" if pin else "no pinning"
            print(f"4. {args.big} MiB PUT, {mode} ({where}): streamed from a generator by httpx, chunked")
            print_transfer(big[mode]["put"], f"({big[mode]['put'].mbps / dd_write:.0%} of dd write {dd_write:.0f} MB/s)")
            print(f"   {args.big} MiB GET, {mode}, to /dev/null ({'curl' if shutil.which('curl') else 'httpx'}),"
                  " the stored file dropped from the page cache first:")  # fmt: skip
            print_transfer(big[mode]["cold"], f"({big[mode]['cold'].mbps / dd_read:.0%} of dd read {dd_read:.0f} MB/s)")
            print(f"   {args.big} MiB GET, {mode}, straight after (page cache):")
            print_transfer(big[mode]["warm"])
            print(flush=True)

        # 5. listing ----------------------------------------------------------------------------------
        print(f"5. JSON listing of a container of {args.listing} objects, x10")
        cloud.put_container("bench-list")
        cloud.pin(set(range(os.cpu_count() or 1)))
        if bh.PIN:
            os.sched_setaffinity(0, {0, 1})
        t = create_objects(cloud, "bench-list", [f"obj/{i:08d}" for i in range(args.listing)], b"")
        print(f"  {args.listing} empty objects made by 16 parallel PUTs in {t:.1f} s ({args.listing / t:.0f}/s, unpinned)")
        if bh.PIN:
            cloud.pin({0})
            os.sched_setaffinity(0, {1})
        listing = measure_listing(cloud, "bench-list", args.listing, 10)
        print(
            f"  GET ?format=json&limit={args.listing}: p50 {statistics.median(listing.times_ms):.1f} ms,"
            f" min {min(listing.times_ms):.1f}, max {max(listing.times_ms):.1f} ms;"
            f" {listing.bytes / 1e6:.2f} MB; server CPU {listing.cpu_ms:.1f} ms per listing (server on CPU 0)"
        )
        print(f"  other load {listing.others * 100:.0f} % of a core ({noise(listing.others)})\n", flush=True)
        cloud.stop()
        cloud = None

        # 6. three replicas ---------------------------------------------------------------------------
        if not args.no_replicas:
            if args.nodes == "local":
                print("6. three replicas, all-in-one: one in-process node with three devices (sda, sdb, sdc"
                      " in zones 1-3; nodes = local, ring_dir set)")  # fmt: skip
            else:
                print("6. three replicas: three `stratus storage-node` processes (one device each, zones 1-3)"
                      " behind `stratus up` (nodes = http); CPU summed over the four processes")  # fmt: skip
            cloud = Cloud(
                tmp / "three", replicas=3, nodes=args.nodes, workers=args.workers,
                cpu_affinity=args.cpu_affinity,
            )  # fmt: skip
            cloud.start()
            if bh.PIN:
                os.sched_setaffinity(0, {1})
            loads3 = load_figures(cloud, args, tmp, "3 replicas", baseline=False, profile=False)
            print()
            cloud.put_container("bench-big")
            r3 = big_objects(cloud, "bench-big", blocks, args.big, args.repeat, False, "three")
            big3 = r3
            print(f"6. 3 replicas, {args.big} MiB PUT, unpinned (three copies written)")
            print_transfer(r3["put"], f"({r3['put'].mbps / dd_write:.0%} of dd write {dd_write:.0f} MB/s)")
            print(f"   3 replicas, {args.big} MiB GET, unpinned, from the page cache")
            print_transfer(r3["warm"])
            print(flush=True)
            cloud.stop()
            cloud = None
    except Exception as exc:  # report, clean up, exit 1 below
        fail(f"{type(exc).__name__}: {exc}")
        if cloud is not None:
            print(cloud.log_tail(), file=sys.stderr)
    finally:
        if bh.PIN:
            os.sched_setaffinity(0, {0, 1})
        if cloud is not None:
            cloud.stop()
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    # -- summary -----------------------------------------------------------------------------------------
    w = f", {args.workers} workers" if args.workers > 1 else ""

    def lat(r: bh.LoadResult) -> str:
        return f"{r.rps:.0f}/s, {r.cpu_ms:.2f} ms CPU, p99 {r.p99_ms:.1f} ms [{noise(r.others)}]"

    if dd_write:
        rows.append(("dd write 1 GiB (conv=fdatasync)", f"{dd_write:.0f} MB/s", "-", None, ""))
        rows.append(("dd read 1 GiB (iflag=direct)", f"{dd_read:.0f} MB/s", "-", None, ""))
    for mode in ("pinned", "unpinned"):
        if f"base {mode}" in loads:
            rows.append((f"baseline: healthcheck, {mode}", lat(loads[f"base {mode}"]), "-", None, ""))
    for mode in ("pinned", "unpinned"):
        if f"put {mode}" in loads:
            r = loads[f"put {mode}"]
            rows.append((
                f"4 KiB PUT, 1 replica{w}, {mode}", lat(r),
                f">= {TARGET_PUT_RPS:,.0f}/s, <= {TARGET_PUT_CPU_MS:g} ms CPU",
                r.rps >= TARGET_PUT_RPS and r.cpu_ms <= TARGET_PUT_CPU_MS, SWIFT["put"],
            ))  # fmt: skip
        if f"get {mode}" in loads:
            r = loads[f"get {mode}"]
            rows.append((
                f"4 KiB GET, 1 replica{w}, {mode}", lat(r),
                f">= {TARGET_GET_RPS:,.0f}/s, <= {TARGET_GET_CPU_MS:g} ms CPU",
                r.rps >= TARGET_GET_RPS and r.cpu_ms <= TARGET_GET_CPU_MS, SWIFT["get"],
            ))  # fmt: skip
    for mode, b in big.items():
        growth = max(b["put"].rss_peak_mib - b["put"].rss_start_mib,
                     b["warm"].rss_peak_mib - b["warm"].rss_start_mib,
                     b["cold"].rss_peak_mib - b["cold"].rss_start_mib)  # fmt: skip
        share = b["put"].mbps / dd_write
        rows.append((
            f"{args.big} MiB PUT, {mode}",
            f"{b['put'].mbps:.0f} MB/s ({share:.0%} of dd), {b['put'].server_cpu_per_gib:.2f} s CPU/GiB"
            f" [{noise(b['put'].others)}]",
            f">= {TARGET_BIG_PUT_SHARE:.0%} of dd write", share >= TARGET_BIG_PUT_SHARE, SWIFT["big_put"],
        ))  # fmt: skip
        rows.append((
            f"{args.big} MiB GET, {mode}, page cache",
            f"{b['warm'].mbps:.0f} MB/s, {b['warm'].server_cpu_per_gib:.2f} s CPU/GiB [{noise(b['warm'].others)}]",
            f">= {TARGET_BIG_GET_MBPS:g} MB/s", b["warm"].mbps >= TARGET_BIG_GET_MBPS, SWIFT["big_get"],
        ))  # fmt: skip
        rows.append((
            f"{args.big} MiB GET, {mode}, from disk",
            f"{b['cold'].mbps:.0f} MB/s ({b['cold'].mbps / dd_read:.0%} of dd read) [{noise(b['cold'].others)}]",
            f">= {TARGET_BIG_GET_MBPS:g} MB/s", b["cold"].mbps >= TARGET_BIG_GET_MBPS, "",
        ))  # fmt: skip
        rows.append((
            f"server RSS growth, {args.big} MiB, {mode}", f"+{growth:.0f} MiB",
            f"< +{RSS_GROWTH_MIB:g} MiB (constant)", growth < RSS_GROWTH_MIB, "",
        ))  # fmt: skip
    if listing is not None:
        p50 = statistics.median(listing.times_ms)
        rows.append((
            f"JSON listing, {args.listing} objects (p50 of 10)",
            f"{p50:.1f} ms (max {max(listing.times_ms):.1f}), {listing.cpu_ms:.1f} ms CPU [{noise(listing.others)}]",
            f"< {TARGET_LIST_MS:g} ms", p50 < TARGET_LIST_MS, SWIFT["list"],
        ))  # fmt: skip
    for mode in ("pinned", "unpinned"):
        for op in ("put", "get"):
            if f"{op} {mode}" in loads3:
                rows.append((f"4 KiB {op.upper()}, 3 replicas ({args.nodes} node{'' if args.nodes == 'local' else 's'}), {mode}", lat(loads3[f"{op} {mode}"]), "-", None, ""))
    if big3:
        rows.append((f"{args.big} MiB PUT, 3 replicas, unpinned",
                     f"{big3['put'].mbps:.0f} MB/s ({big3['put'].mbps / dd_write:.0%} of dd)", "-", None, ""))
        rows.append((f"{args.big} MiB GET, 3 replicas, page cache",
                     f"{big3['warm'].mbps:.0f} MB/s", "-", None, ""))  # fmt: skip

    print("Summary")
    return bh.print_summary(rows, extra=("Swift 2.38 (comparison)",))


if __name__ == "__main__":
    sys.exit(main())
