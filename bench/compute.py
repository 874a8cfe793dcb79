"""Performance figures of the Stratus compute service (Nova v2.1).

Starts its own ``stratus up`` servers on fresh temporary data folders and free
ports on 127.0.0.1, then measures:

1. POST /servers -> ACTIVE with the real qemu driver (TCG here): one cold boot
   (the host's image cache is empty: the image is downloaded first), then
   ``--boots`` warm ones, one at a time, each deleted before the next.  Also
   POST -> the qemu process exists, and the server's CPU time per boot.
2. POST /servers -> ``stratus-tiny: ready`` on the serial console, against
   booting the same cached base image with bare qemu (same options as the qemu
   driver, same config drive), the two alternated, one boot at a time; the
   bare boot's "qemu-img create + qemu -daemonize" is also the floor of
   POST -> ACTIVE.
3. ``--burst`` (10) servers requested at once (parallel POSTs, real qemu):
   time to all ACTIVE and to all ready markers, and any ERROR.
4. snapshot of a running tiny server to an active image (``--snapshots``, 3):
   createImage POST -> the image ``active``, split into the snapshot (until
   the task leaves ``image_snapshot``) and the upload, with the server's CPU
   time; against a baseline made by hand in the same run: ``qemu-img
   convert`` of the same running disk plus a plain upload of that file to a
   new image over the image API.
5. ``server list`` of ``--servers`` (500) servers on a second cloud with the
   fake driver: GET /servers/detail and GET /servers, x20 each, p50/p99 and
   the server's CPU time per request, beside a baseline measured in the same
   run (the same lists with no servers, and GET /compute/v2.1).

CPU figures come from /proc/PID/stat (utime+stime of all the server's threads;
reaped children such as qemu-img are counted apart).  Every figure also says how
busy the rest of the machine was (QUIET / busy / NOISY), as boots under TCG
are CPU-bound and slow down when other processes take a core.

Exit status: 0 when every figure was measured, even if a target was missed
(missed targets say MISSED); 1 when a measurement itself went wrong (a server
that did not start, an unexpected HTTP status, a boot that never finished).

Usage: .venv/bin/python bench/compute.py [--boots 5] [--burst 10] [--snapshots 3] [--servers 500]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid as uuidlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import harness as bh  # noqa: E402  (what every benchmark shares)

HOST = bh.HOST  # 127.0.0.1, never anything else
CLK_TCK = bh.CLK_TCK
READY = b"stratus-tiny: ready"
API_VERSION = {"OpenStack-API-Version": "compute 2.96"}
COMPUTE_HOST = "bench"

TARGET_ACTIVE_P50 = 1.0  # s, POST -> ACTIVE
TARGET_READY_RATIO = 1.10  # Stratus ready marker <= 110 % of bare qemu's
TARGET_LIST_MS = 100.0  # server list of 500, p50
TARGET_SNAPSHOT = 3.0  # s, createImage of a running tiny server -> image active
NOVA_RALLY = "Nova/Rally on KVM: ~8 s avg"

POLL = 0.025  # seconds between polls of a booting server (20-50 ms)
BOOT_TIMEOUT = 120.0  # one boot, alone, under TCG
BURST_TIMEOUT = 600.0  # the burst, to all ready markers

fail = bh.fail
pct = bh.pct


# -- cloud -----------------------------------------------------------------------------


class Cloud:
    """A ``stratus up`` with an admin token and helpers for /compute and /image."""

    def __init__(self, data_dir: Path, env: dict[str, str], cpu: int | None = None):
        self.server = bh.Server(data_dir, cpu=cpu, env=env)
        self.url = ""
        self.token = ""
        self.project_id = ""
        self.http: httpx.Client | None = None

    def start(self) -> float:
        self.server.start()
        self.url = f"http://{HOST}:{self.server.port}"
        self.http = httpx.Client(timeout=60.0, limits=httpx.Limits(max_connections=64))
        ready = self.server.wait_ready(self.http, timeout=60.0)
        self.login()
        return ready

    def login(self) -> None:
        assert self.http is not None
        token, body = bh.issue(
            self.http, f"{self.url}/identity", bh.password_body(self.server.password())
        )
        self.token, self.project_id = token, body["project"]["id"]

    @property
    def pid(self) -> int:
        return self.server.pid

    def headers(self) -> dict[str, str]:
        return {"X-Auth-Token": self.token, **API_VERSION}

    def request(self, method: str, path: str, expect: tuple[int, ...], **kw: Any) -> httpx.Response:
        assert self.http is not None
        resp = self.http.request(method, self.url + path, headers=self.headers(), **kw)
        if resp.status_code not in expect:
            raise RuntimeError(f"{method} {path} answered {resp.status_code}: {resp.text[:300]}")
        return resp

    def compute(self, method: str, path: str, expect: tuple[int, ...] = (200,), **kw: Any) -> httpx.Response:
        return self.request(method, f"/compute/v2.1{path}", expect, **kw)

    def wait_image(self, name: str = "tiny", timeout: float = 120.0) -> str:
        """Poll until the bootstrap image is active; its id."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            images = self.request("GET", f"/image/v2/images?name={name}", (200,)).json()["images"]
            if images and images[0]["status"] == "active":
                return str(images[0]["id"])
            time.sleep(0.2)
        raise RuntimeError(f"image {name!r} not active after {timeout:g} s:\n{self.server.log_tail()}")

    def create(self, name: str, image: str, **extra: Any) -> str:
        body = {"server": {"name": name, "imageRef": image, "flavorRef": "1", "networks": "none", **extra}}
        return str(self.compute("POST", "/servers", (202,), json=body).json()["server"]["id"])

    def show(self, server_id: str) -> dict[str, Any]:
        return dict(self.compute("GET", f"/servers/{server_id}").json()["server"])

    def delete(self, server_id: str) -> None:
        self.compute("DELETE", f"/servers/{server_id}", (204, 404))

    def wait_gone(self, server_id: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.compute("GET", f"/servers/{server_id}", (200, 404)).status_code == 404:
                return
            time.sleep(0.1)
        raise RuntimeError(f"server {server_id} still there {timeout:g} s after DELETE")

    def cpu(self) -> tuple[float, float]:
        """(own utime+stime, reaped children's cutime+cstime) of the server, seconds."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        own = (int(fields[11]) + int(fields[12])) / CLK_TCK
        kids = (int(fields[13]) + int(fields[14])) / CLK_TCK
        return own, kids

    def stop(self) -> None:
        if self.http is not None:
            self.http.close()
        self.server.stop()


# -- processes and machine load -----------------------------------------------------------


def find_pids(needle: str) -> list[int]:
    """Live qemu-system processes whose command line holds ``needle`` (a
    server's uuid); not qemu-img, whose arguments name the guest's folder too."""
    found = []
    key = needle.encode()
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/cmdline", "rb") as f:
                argv = f.read()
        except OSError:
            continue
        if key in argv and b"qemu-system" in argv.split(b"\0", 1)[0]:
            found.append(int(entry.name))
    return found


def pid_cpu(pid: int) -> float:
    """utime + stime of a process, 0 when it is gone."""
    try:
        return sum(bh.proc_cpu(pid))
    except OSError:
        return 0.0


Load = bh.Load
noise = bh.noise


def kill_pid(pid: int) -> None:
    """Kill one process we started (by its pid) and wait for it to go."""
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    for _ in range(100):
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            return
        if state in ("Z", "X"):
            return
        time.sleep(0.05)


# -- one boot through Stratus ---------------------------------------------------------------


@dataclass
class Boot:
    server_id: str
    active: float | None = None  # s from POST to status ACTIVE
    process: float | None = None  # s from POST to a process with the uuid in its argv
    ready: float | None = None  # s from POST to the ready marker
    post: float = 0.0  # s the POST itself took
    power: int | None = None
    server_cpu: float = 0.0  # server CPU s from POST to ACTIVE
    kids_cpu: float = 0.0  # reaped children (qemu-img) CPU s from POST to ACTIVE
    others: float = 0.0  # cores used by other processes from POST to ready
    qemu_pid: int | None = None
    status: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def instance_dir(cloud: Cloud, server_id: str) -> Path:
    return cloud.server.data_dir / "compute" / COMPUTE_HOST / "instances" / server_id


def boot_one(cloud: Cloud, image: str, name: str, want_ready: bool = True) -> Boot:
    """POST one server and poll it (GET every POLL s) to ACTIVE, its qemu process
    and its ready marker; it is left running."""
    load = Load()
    cpu0, kids0 = cloud.cpu()
    t0 = time.monotonic()
    server_id = cloud.create(name, image)
    b = Boot(server_id, post=time.monotonic() - t0)
    console = instance_dir(cloud, server_id) / "console.log"
    offset, tail = 0, b""
    deadline = t0 + BOOT_TIMEOUT
    while time.monotonic() < deadline:
        now = time.monotonic()
        if b.process is None:
            pids = find_pids(server_id)
            if pids:
                b.process, b.qemu_pid = now - t0, pids[0]
        if b.active is None:
            s = cloud.show(server_id)
            b.status = s["status"]
            if s["status"] == "ACTIVE":
                b.active = time.monotonic() - t0
                b.power = s.get("OS-EXT-STS:power_state")
                cpu1, kids1 = cloud.cpu()
                b.server_cpu, b.kids_cpu = cpu1 - cpu0, kids1 - kids0
            elif s["status"] == "ERROR":
                raise RuntimeError(f"server {server_id} went to ERROR: {s.get('fault')}")
        if want_ready and b.ready is None:
            try:
                with open(console, "rb") as f:
                    f.seek(offset)
                    chunk = f.read()
                offset += len(chunk)
                tail = (tail + chunk)[-4096:]
                if READY in tail:
                    b.ready = time.monotonic() - t0
            except FileNotFoundError:
                pass
        if b.active is not None and b.process is not None and (b.ready is not None or not want_ready):
            break
        time.sleep(POLL)
    else:
        raise RuntimeError(
            f"server {server_id}: not booted in {BOOT_TIMEOUT:g} s "
            f"(status {b.status}, process {b.process}, ready {b.ready})"
        )
    # qemu -daemonize forks: the process that runs the guest is not the first one seen.
    qemu_cpu = sum(pid_cpu(p) for p in find_pids(server_id))
    own, kids = cloud.cpu()
    b.others = load.others(own - cpu0 + kids - kids0 + qemu_cpu)
    return b


def delete_one(cloud: Cloud, b: Boot) -> float:
    """DELETE and wait for 404 and for the qemu process to be gone; seconds."""
    t0 = time.monotonic()
    cloud.delete(b.server_id)
    cloud.wait_gone(b.server_id)
    for _ in range(200):
        if not find_pids(b.server_id):
            break
        time.sleep(0.05)
    else:
        fail(f"server {b.server_id}: its qemu process outlived DELETE; killing it")
        for pid in find_pids(b.server_id):
            kill_pid(pid)
    return time.monotonic() - t0


# -- one boot with bare qemu --------------------------------------------------------------


def bare_argv(directory: Path, uuid: str, memory_mb: int, vcpus: int, config_drive: Path | None) -> list[str]:
    """The qemu driver's command line (src/stratus/compute/drivers/qemu_command.py,
    build_command), written out here, for a guest in ``directory``."""
    def opt(value: object) -> str:
        return str(value).replace(",", ",,")

    argv = [
        "qemu-system-x86_64",
        "-name", f"guest={opt(uuid)}",
        "-uuid", uuid,
        "-machine", "pc",
        "-accel", "tcg",
        "-m", str(memory_mb),
        "-smp", str(vcpus),
        "-nodefaults",
        "-no-user-config",
        "-display", "none",
        "-daemonize",
        "-pidfile", str(directory / "qemu.pid"),
        "-qmp", f"unix:{opt(directory / 'qmp.sock')},server=on,wait=off",
        "-chardev", f"file,id=ser0,path={opt(directory / 'console.log')},append=on",
        "-serial", "chardev:ser0",
        "-drive", f"file={opt(directory / 'disk.qcow2')},if=none,id=disk0,format=qcow2",
        "-device", "virtio-blk-pci,drive=disk0,bootindex=0",
    ]  # fmt: skip
    if config_drive is not None:
        argv += [
            "-drive",
            f"file={opt(config_drive)},if=ide,index=1,media=cdrom,format=raw,readonly=on",
        ]
    argv += ["-netdev", "user,id=net0", "-device", "virtio-net-pci,netdev=net0"]
    return argv


def compare_argv(ours: list[str], recorded: str, ours_dir: Path, their_dir: Path, ours_uuid: str, their_uuid: str) -> list[str]:
    """Differences between our bare command line and the one Stratus recorded
    (qemu.cmdline), once paths and uuids are made alike."""
    import shlex

    theirs = shlex.split(recorded)
    norm_ours = [a.replace(str(ours_dir), "DIR").replace(ours_uuid, "UUID") for a in ours]
    norm_theirs = [a.replace(str(their_dir), "DIR").replace(their_uuid, "UUID") for a in theirs]
    norm_ours[0] = Path(norm_ours[0]).name
    norm_theirs[0] = Path(norm_theirs[0]).name
    if norm_ours == norm_theirs:
        return []
    only_ours = [a for a in norm_ours if a not in norm_theirs]
    only_theirs = [a for a in norm_theirs if a not in norm_ours]
    return [f"only in ours: {' '.join(only_ours) or '-'}", f"only in Stratus's: {' '.join(only_theirs) or '-'}"]


@dataclass
class BareBoot:
    overlay: float  # s for qemu-img create
    launched: float  # s from start to qemu -daemonize returning (the process runs)
    ready: float  # s from start to the ready marker
    others: float


def bare_boot(work: Path, base: Path, base_format: str, root_gb: int, config_drive: Path | None) -> BareBoot:
    """qemu-img create + qemu, as the driver does, timed from before qemu-img."""
    uuid = str(uuidlib.uuid4())
    directory = work / uuid
    directory.mkdir(parents=True)
    drive = None
    if config_drive is not None:
        drive = directory / "config.iso"
        shutil.copyfile(config_drive, drive)
    load = Load()
    t0 = time.monotonic()
    usage0 = bh.children_cpu()
    subprocess.run(
        ["qemu-img", "create", "-q", "-f", "qcow2", "-b", str(base), "-F", base_format,
         str(directory / "disk.qcow2"), f"{root_gb}G"],
        check=True,
    )  # fmt: skip
    overlay = time.monotonic() - t0
    subprocess.run(bare_argv(directory, uuid, 256, 1, drive), check=True, stdin=subprocess.DEVNULL)
    launched = time.monotonic() - t0
    pid = int((directory / "qemu.pid").read_text().strip())
    console = directory / "console.log"
    ready = None
    offset, tail = 0, b""
    try:
        deadline = t0 + BOOT_TIMEOUT
        while time.monotonic() < deadline:
            try:
                with open(console, "rb") as f:
                    f.seek(offset)
                    chunk = f.read()
                offset += len(chunk)
                tail = (tail + chunk)[-4096:]
                if READY in tail:
                    ready = time.monotonic() - t0
                    break
            except FileNotFoundError:
                pass
            time.sleep(POLL)
        qemu_cpu = pid_cpu(pid)
    finally:
        kill_pid(pid)  # the qemu we started, by its pid
    others = load.others(qemu_cpu + bh.children_cpu() - usage0)
    if ready is None:
        raise RuntimeError(f"bare qemu: no ready marker in {BOOT_TIMEOUT:g} s:\n{console.read_text(errors='replace')[-2000:]}")
    shutil.rmtree(directory, ignore_errors=True)
    return BareBoot(overlay, launched, ready, others)


# -- 4. server list (fake driver) ------------------------------------------------------------


@dataclass
class ListResult:
    name: str
    p50_ms: float
    p99_ms: float
    cpu_ms: float
    size: int
    count: int
    others: float
    requests: int = 0


def time_list(cloud: Cloud, path: str, name: str, runs: int, key: str | None = "servers") -> ListResult:
    """Sequential GETs (after 2 warm-up ones), at least ``runs`` of them and for
    at least 2 s: latency p50/p99 and the server's CPU per request."""
    for _ in range(2):
        cloud.compute("GET", path)
    lat: list[float] = []
    load = Load()
    cpu0, _ = cloud.cpu()
    me0 = time.process_time()
    size = count = 0
    started = time.monotonic()
    # At least ``runs`` requests and 2 s, so that the CPU clock (10 ms ticks) resolves.
    while len(lat) < runs or time.monotonic() - started < 2.0:
        t0 = time.perf_counter()
        resp = cloud.compute("GET", path)
        lat.append((time.perf_counter() - t0) * 1000)
        size = len(resp.content)
        if key:
            count = len(resp.json()[key])
    cpu1, _ = cloud.cpu()
    server_cpu = cpu1 - cpu0
    others = load.others(server_cpu + time.process_time() - me0)
    return ListResult(name, pct(lat, 0.5), pct(lat, 0.99), server_cpu * 1000 / len(lat), size, count, others, len(lat))


def print_list(r: ListResult, base: ListResult | None) -> None:
    ratio = f"  ({r.cpu_ms / base.cpu_ms:.1f}x baseline CPU)" if base and base is not r and base.cpu_ms else ""
    items = f", {r.count} servers" if r.count else ""
    print(
        f"  {r.name:34s} p50 {r.p50_ms:7.1f} ms  p99 {r.p99_ms:7.1f} ms  "
        f"server CPU {r.cpu_ms:6.2f} ms/req{ratio}  ({r.requests} requests, {r.size / 1024:.0f} KiB{items}; "
        f"other load {r.others * 100:.0f} % of a core, {noise(r.others)})",
        flush=True,
    )


def fill_fake(cloud: Cloud, image: str, total: int, batch: int) -> tuple[float, str]:
    """Create ``total`` servers; (seconds to all ACTIVE, how)."""
    t0 = time.monotonic()
    # min_count/max_count batches of ``batch``, 4 requests in flight.
    batches = [min(batch, total - i) for i in range(0, total, batch)]

    def post(i_n: tuple[int, int]) -> None:
        i, n = i_n
        extra = {"min_count": n, "max_count": n} if n > 1 else {}
        cloud.create(f"list-{i:04d}", image, **extra)

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(post, enumerate(batches)))
    how = f"{len(batches)} POSTs with min_count=max_count={batch}, 4 at a time"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        servers = cloud.compute("GET", "/servers/detail").json()["servers"]
        errors = [s for s in servers if s["status"] == "ERROR"]
        if errors:
            raise RuntimeError(f"{len(errors)} fake servers in ERROR: {errors[0].get('fault')}")
        if len(servers) >= total and all(s["status"] == "ACTIVE" for s in servers):
            return time.monotonic() - t0, how
        time.sleep(0.5)
    raise RuntimeError(f"{total} fake servers not ACTIVE after 300 s")


# -- main -------------------------------------------------------------------------------------


def fmt_s(values: list[float]) -> str:
    return f"p50 {statistics.median(values):.2f} s, min {min(values):.2f}, max {max(values):.2f}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--boots", type=int, default=5, help="warm sequential boots, and bare qemu boots [5]")
    ap.add_argument("--burst", type=int, default=10, help="servers requested at once [10]")
    ap.add_argument("--servers", type=int, default=500, help="fake servers for the list figure [500]")
    ap.add_argument("--lists", type=int, default=20, help="timed GETs of each list [20]")
    ap.add_argument("--repeat", type=int, default=1, help="runs of the list figures; the best is kept [1]")
    ap.add_argument(
        "--quiet-wait", type=float, default=bh.QUIET_WAIT,
        help=f"seconds to wait, at most, for other load to stop before each boot or run [{bh.QUIET_WAIT:g}]",
    )  # fmt: skip
    ap.add_argument("--snapshots", type=int, default=3, help="snapshots of a running server [3]")
    ap.add_argument("--only", choices=["boot", "burst", "snapshot", "list"], action="append", help="run only these parts (repeatable)")
    ap.add_argument("--commit", metavar="REV", help="measure the src/ of this git commit instead of the working tree")
    ap.add_argument("--profile", action="store_true", help="sample the fake cloud with py-spy during extra list runs")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder (logs, data)")
    args = ap.parse_args()
    # A SIGTERM unwinds like an exception, so that every server and qemu of
    # ours is cleaned up on the way out.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    bh.QUIET_WAIT = args.quiet_wait
    parts = set(args.only or ["boot", "burst", "snapshot", "list"])

    if shutil.which("qemu-system-x86_64") is None and parts & {"boot", "burst", "snapshot"}:
        print("bench: qemu-system-x86_64 is missing (apt-get install qemu-system-x86)", file=sys.stderr)
        return 2

    tmp = Path(tempfile.mkdtemp(prefix="stratus-bench-"))
    source = bh.use_source(args.commit, tmp)
    if source is None:
        shutil.rmtree(tmp, ignore_errors=True)
        return 2
    print(f"Stratus compute benchmark, {time.strftime('%Y-%m-%d %H:%M:%S %Z')}")
    print(bh.machine())
    kvm = "usable" if os.access("/dev/kvm", os.R_OK | os.W_OK) else "not usable"
    qv = subprocess.run(["qemu-system-x86_64", "--version"], capture_output=True, text=True, check=False).stdout
    print(f"qemu: {qv.splitlines()[0] if qv else 'missing'}; /dev/kvm {kvm}")
    print(f"stratus: {source}")
    print(f"work folder: {tmp}\n", flush=True)

    rows: list[tuple[str, str, str, bool | None]] = []
    cloud: Cloud | None = None
    leftover: list[str] = []
    try:
        if parts & {"boot", "burst", "snapshot"}:
            cloud = Cloud(tmp / "qemu", {"STRATUS_COMPUTE__HOST": COMPUTE_HOST, "STRATUS_COMPUTE__DRIVER": "qemu"})
            ready = cloud.start()
            t_img = time.monotonic()
            image = cloud.wait_image()
            print(f"qemu cloud up in {ready:.2f} s; image `tiny` {image} active {time.monotonic() - t_img:.1f} s later")
            host = cloud.compute("GET", "/os-hypervisors/detail", (200, 403, 404))
            if host.status_code == 200 and host.json().get("hypervisors"):
                h = host.json()["hypervisors"][0]
                print(f"hypervisor: {h.get('hypervisor_type')} {h.get('hypervisor_hostname')}, {h.get('vcpus')} vCPU")
            print(flush=True)

        if "boot" in parts:
            assert cloud is not None
            run_boots(cloud, image, args, tmp, rows, leftover)
        if "burst" in parts:
            assert cloud is not None
            run_burst(cloud, image, args, rows, leftover)
        if "snapshot" in parts:
            assert cloud is not None
            run_snapshots(cloud, image, args, tmp, rows, leftover)
        if cloud is not None:
            cloud.stop()
            cloud = None
        if "list" in parts:
            run_list(tmp, args, rows)
    except Exception as exc:  # report, clean up, exit 1 below
        fail(f"{type(exc).__name__}: {exc}")
        if cloud is not None:
            print(cloud.server.log_tail(), file=sys.stderr)
    finally:
        if cloud is not None:
            for sid in leftover:
                try:
                    cloud.delete(sid)
                except Exception:  # noqa: BLE001
                    pass
            time.sleep(1.0)
            cloud.stop()
        # Whatever qemu of ours is still there (the cloud's guests outlive it).
        for sid in leftover:
            for pid in find_pids(sid):
                print(f"cleaning up qemu pid {pid} of server {sid}")
                kill_pid(pid)
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    print("\nSummary")
    return bh.print_summary(rows)


def run_boots(cloud: Cloud, image: str, args: argparse.Namespace, tmp: Path, rows: list, leftover: list[str]) -> None:
    print("1. POST /servers -> ACTIVE, real qemu driver, one server at a time (GET every 25 ms)")
    cache = cloud.server.data_dir / "compute" / COMPUTE_HOST / "images"
    cached_before = cache.is_dir() and any(p.name == image for p in cache.iterdir())
    bh.wait_quiet()
    cold = boot_one(cloud, image, "bench-cold")
    leftover.append(cold.server_id)
    base = cache / image
    directory = instance_dir(cloud, cold.server_id)
    recorded = (directory / "qemu.cmdline").read_text() if (directory / "qemu.cmdline").exists() else ""
    drive_src = directory / "config.iso"
    drive = tmp / "config.iso"
    if drive_src.exists():
        shutil.copyfile(drive_src, drive)
    else:
        drive = None  # type: ignore[assignment]
    with open(base, "rb") as f:
        base_format = "qcow2" if f.read(4) == b"QFI\xfb" else "raw"
    delete_one(cloud, cold)
    leftover.remove(cold.server_id)
    print(
        f"  cold (image {'already' if cached_before else 'not yet'} in the host cache): "
        f"ACTIVE {cold.active:.3f} s, qemu process {cold.process:.3f} s, ready marker {cold.ready:.2f} s "
        f"(other load {cold.others * 100:.0f} % of a core, {noise(cold.others)})"
    )
    if recorded:
        ours = bare_argv(tmp / "bare" / "X", "U", 256, 1, (tmp / "bare" / "X" / "config.iso") if drive else None)
        diff = compare_argv(ours, recorded, tmp / "bare" / "X", directory, "U", cold.server_id)
        print("  bare qemu command line: " + ("identical to the driver's (qemu.cmdline), paths aside" if not diff else "; ".join(diff)))
    print(flush=True)

    warm: list[Boot] = []
    bare: list[BareBoot] = []
    for i in range(args.boots):
        bh.wait_quiet()
        b = boot_one(cloud, image, f"bench-{i}")
        leftover.append(b.server_id)
        dt = delete_one(cloud, b)
        leftover.remove(b.server_id)
        warm.append(b)
        print(
            f"  boot {i + 1}: POST {b.post * 1000:.0f} ms, qemu process {b.process:.3f} s, ACTIVE {b.active:.3f} s "
            f"(power {b.power}), ready {b.ready:.2f} s; server CPU to ACTIVE {b.server_cpu * 1000:.0f} ms "
            f"+ {b.kids_cpu * 1000:.0f} ms children; delete {dt:.2f} s; other load {b.others * 100:.0f} % ({noise(b.others)})",
            flush=True,
        )
        bh.wait_quiet()
        r = bare_boot(tmp / "bare", base, base_format, 1, drive)
        bare.append(r)
        print(
            f"  bare {i + 1}: qemu-img create {r.overlay * 1000:.0f} ms, qemu running {r.launched:.3f} s, "
            f"ready {r.ready:.2f} s; other load {r.others * 100:.0f} % ({noise(r.others)})",
            flush=True,
        )
    active = [b.active for b in warm if b.active is not None]
    process = [b.process for b in warm if b.process is not None]
    ready = [b.ready for b in warm if b.ready is not None]
    bready = [r.ready for r in bare]
    launched = [r.launched for r in bare]
    cpu = [b.server_cpu * 1000 for b in warm]
    print(f"\n  POST -> ACTIVE        {fmt_s(active)}  (x{len(active)}, warm cache)")
    print(f"  POST -> qemu process  {fmt_s(process)}")
    print(f"  bare qemu-img + qemu -daemonize (the floor of ACTIVE): {fmt_s(launched)}")
    print(f"  Stratus overhead to ACTIVE over that floor: {statistics.median(active) - statistics.median(launched):.3f} s (p50s)")
    print(f"  server CPU, POST -> ACTIVE: p50 {statistics.median(cpu):.0f} ms (excl. qemu-img)")
    print(f"  cold boot (image download into the cache): ACTIVE {cold.active:.3f} s")
    print()
    print("2. time to `stratus-tiny: ready` on the serial console, Stratus vs bare qemu, alternated")
    ratio = statistics.median(ready) / statistics.median(bready)
    print(f"  Stratus POST -> ready   {fmt_s(ready)}")
    print(f"  bare qemu-img -> ready  {fmt_s(bready)}")
    print(f"  ratio of medians        {ratio:.3f} (target <= {TARGET_READY_RATIO:.2f})\n", flush=True)
    p50 = statistics.median(active)
    rows.append(("POST /servers to ACTIVE (warm cache)", f"p50 {p50:.2f} s (max {max(active):.2f}), qemu process p50 {statistics.median(process):.2f} s", f"p50 < {TARGET_ACTIVE_P50:g} s", p50 < TARGET_ACTIVE_P50))
    rows.append(("POST to ACTIVE, cold image cache", f"{cold.active:.2f} s", "-", None))
    rows.append(("floor: qemu-img + qemu -daemonize", f"p50 {statistics.median(launched):.2f} s", "-", None))
    rows.append(("time to guest ready marker", f"{statistics.median(ready):.2f} s vs bare {statistics.median(bready):.2f} s ({(ratio - 1) * 100:+.0f} %)", "within 10 % of bare qemu", ratio <= TARGET_READY_RATIO))


def run_burst(cloud: Cloud, image: str, args: argparse.Namespace, rows: list, leftover: list[str]) -> None:
    n = args.burst
    print(f"3. {n} servers requested at once (parallel POSTs, real qemu, m1.tiny)")
    bh.wait_quiet()
    load = Load()
    barrier = threading.Barrier(n)
    t0 = time.monotonic()
    results: list[tuple[int, str | None, str]] = []
    lock = threading.Lock()

    def post(i: int) -> None:
        barrier.wait()
        body = {"server": {"name": f"burst-{i}", "imageRef": image, "flavorRef": "1", "networks": "none"}}
        with httpx.Client(timeout=60.0) as c:
            resp = c.post(f"{cloud.url}/compute/v2.1/servers", json=body, headers=cloud.headers())
        sid = resp.json()["server"]["id"] if resp.status_code == 202 else None
        with lock:
            results.append((resp.status_code, sid, resp.text[:200]))

    threads = [threading.Thread(target=post, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    posted = time.monotonic() - t0
    ids = [sid for _, sid, _ in results if sid]
    leftover.extend(ids)
    bad_posts = [(code, text) for code, sid, text in results if not sid]
    for code, text in bad_posts:
        print(f"  POST answered {code}: {text}")
    active: dict[str, float] = {}
    ready: dict[str, float] = {}
    errors: dict[str, Any] = {}
    offsets: dict[str, int] = {}
    deadline = t0 + BURST_TIMEOUT
    while time.monotonic() < deadline and len(ready) + len(errors) < len(ids):
        now = time.monotonic() - t0
        servers = {s["id"]: s for s in cloud.compute("GET", "/servers/detail").json()["servers"]}
        for sid in ids:
            s = servers.get(sid)
            if s is None:
                continue
            if s["status"] == "ACTIVE" and sid not in active:
                active[sid] = now
            elif s["status"] == "ERROR" and sid not in errors:
                errors[sid] = s.get("fault")
            if sid not in ready:
                log = instance_dir(cloud, sid) / "console.log"
                try:
                    if READY in log.read_bytes()[offsets.get(sid, 0):]:
                        ready[sid] = now
                except FileNotFoundError:
                    pass
        time.sleep(0.2)
    others = load.others(0.0)  # everything: the guests are the load here
    print(f"  {len(ids)} POSTs answered 202 in {posted:.2f} s")
    if active:
        print(f"  ACTIVE: {len(active)}/{n}, all ACTIVE after {max(active.values()):.2f} s (first {min(active.values()):.2f} s, p50 {statistics.median(active.values()):.2f} s)")
    if ready:
        print(f"  ready markers: {len(ready)}/{n}, the last after {max(ready.values()):.1f} s (first {min(ready.values()):.1f} s, p50 {statistics.median(ready.values()):.1f} s)")
    print(f"  machine busy during the burst: {others:.2f} cores of {os.cpu_count()} (guests included)")
    for sid, fault in errors.items():
        print(f"  ERROR {sid}: {fault}")
    ok = len(active) == n and not errors and not bad_posts
    if not ok and not errors and not bad_posts:
        print(f"  not all ACTIVE within {BURST_TIMEOUT:g} s")
    t1 = time.monotonic()
    for sid in ids:
        cloud.delete(sid)
    for sid in ids:
        cloud.wait_gone(sid, timeout=120)
    for sid in ids:
        for _ in range(200):
            if not find_pids(sid):
                break
            time.sleep(0.05)
        else:
            fail(f"server {sid}: qemu outlived DELETE; killing it")
            for pid in find_pids(sid):
                kill_pid(pid)
        leftover.remove(sid)
    print(f"  deleted all in {time.monotonic() - t1:.1f} s\n", flush=True)
    measured = f"{len(active)}/{n} ACTIVE"
    if active:
        measured += f" in {max(active.values()):.1f} s"
    if ready:
        measured += f", {len(ready)} ready in {max(ready.values()):.0f} s"
    if errors or bad_posts:
        measured += f", {len(errors) + len(bad_posts)} error(s)"
    rows.append((f"{n} servers requested at once", measured, "all ACTIVE, no error", ok))


@dataclass
class Snap:
    snapshot: float  # s from POST to the task leaving image_snapshot
    active: float  # s from POST to the image active
    post: float  # s the POST took
    server_cpu: float  # server CPU s (own + reaped children) from POST to active
    others: float
    size: int


def snapshot_one(cloud: Cloud, server_id: str, name: str) -> tuple[str, Snap]:
    """POST createImage (2.45) and poll the server and the image every POLL s."""
    load = Load()
    cpu0, kids0 = cloud.cpu()
    t0 = time.monotonic()
    resp = cloud.compute("POST", f"/servers/{server_id}/action", (202,), json={"createImage": {"name": name}})
    post = time.monotonic() - t0
    image_id = str(resp.json()["image_id"])
    snapshot = None
    deadline = t0 + BOOT_TIMEOUT
    while time.monotonic() < deadline:
        if snapshot is None:
            task = cloud.show(server_id).get("OS-EXT-STS:task_state")
            if task != "image_snapshot":
                snapshot = time.monotonic() - t0
        image = cloud.request("GET", f"/image/v2/images/{image_id}", (200,)).json()
        if image["status"] == "active":
            active = time.monotonic() - t0
            break
        if image["status"] not in ("queued", "saving"):
            raise RuntimeError(f"snapshot image {image_id} went {image['status']}")
        time.sleep(POLL)
    else:
        raise RuntimeError(f"snapshot image {image_id} not active in {BOOT_TIMEOUT:g} s")
    cpu1, kids1 = cloud.cpu()
    used = cpu1 - cpu0 + kids1 - kids0
    snap = Snap(snapshot or active, active, post, used, load.others(used), int(image.get("size") or 0))
    return image_id, snap


def baseline_snapshot(cloud: Cloud, server_id: str, tmp: Path) -> tuple[float, float, int]:
    """By hand: qemu-img convert of the running server's disk, then a plain
    upload of that file to a new image; (convert s, upload s, bytes)."""
    disk = instance_dir(cloud, server_id) / "disk.qcow2"
    target = tmp / "baseline-snapshot.qcow2"
    target.unlink(missing_ok=True)
    t0 = time.monotonic()
    subprocess.run(["qemu-img", "convert", "-U", "-f", "qcow2", "-O", "qcow2", str(disk), str(target)], check=True)
    convert = time.monotonic() - t0
    body = {"name": "bench-baseline", "disk_format": "qcow2", "container_format": "bare"}
    image_id = cloud.request("POST", "/image/v2/images", (201,), json=body).json()["id"]
    data = target.read_bytes()
    t1 = time.monotonic()
    assert cloud.http is not None
    resp = cloud.http.put(
        f"{cloud.url}/image/v2/images/{image_id}/file", content=data,
        headers={"X-Auth-Token": cloud.token, "Content-Type": "application/octet-stream"},
    )  # fmt: skip
    if resp.status_code != 204:
        raise RuntimeError(f"baseline upload answered {resp.status_code}: {resp.text[:300]}")
    upload = time.monotonic() - t1
    cloud.request("DELETE", f"/image/v2/images/{image_id}", (204,))
    target.unlink(missing_ok=True)
    return convert, upload, len(data)


def run_snapshots(cloud: Cloud, image: str, args: argparse.Namespace, tmp: Path, rows: list, leftover: list[str]) -> None:
    print("4. snapshot of a running tiny server to an active image (createImage @2.45; GET every 25 ms)")
    bh.wait_quiet()
    b = boot_one(cloud, image, "bench-snap")
    leftover.append(b.server_id)
    print(f"  server booted: ACTIVE {b.active:.2f} s, ready {b.ready:.2f} s")
    snaps: list[Snap] = []
    base: list[tuple[float, float, int]] = []
    made: list[str] = []
    for i in range(args.snapshots):
        bh.wait_quiet()
        image_id, r = snapshot_one(cloud, b.server_id, f"bench-snap-{i}")
        made.append(image_id)
        snaps.append(r)
        deadline = time.monotonic() + 30
        while cloud.show(b.server_id).get("OS-EXT-STS:task_state") is not None and time.monotonic() < deadline:
            time.sleep(POLL)
        print(
            f"  snapshot {i + 1}: active {r.active:.2f} s = snapshot {r.snapshot:.2f} s + upload {r.active - r.snapshot:.2f} s "
            f"({r.size / 2**20:.1f} MiB); POST {r.post * 1000:.0f} ms; server CPU {r.server_cpu * 1000:.0f} ms; "
            f"other load {r.others * 100:.0f} % ({noise(r.others)})",
            flush=True,
        )
        bh.wait_quiet()
        base.append(baseline_snapshot(cloud, b.server_id, tmp))
        convert, upload, size = base[-1]
        print(f"  baseline {i + 1}: qemu-img convert {convert:.2f} s + plain upload {upload:.2f} s ({size / 2**20:.1f} MiB)", flush=True)
    for image_id in made:
        cloud.request("DELETE", f"/image/v2/images/{image_id}", (204, 404))
    delete_one(cloud, b)
    leftover.remove(b.server_id)
    active = [r.active for r in snaps]
    p50 = statistics.median(active)
    shot = statistics.median(r.snapshot for r in snaps)
    floor = statistics.median(c + u for c, u, _ in base)
    cpu = statistics.median(r.server_cpu for r in snaps) * 1000
    print(f"\n  createImage -> image active  {fmt_s(active)}  (x{len(active)})")
    print(f"  of which the snapshot (p50) {shot:.2f} s, the upload {p50 - shot:.2f} s")
    print(f"  baseline by hand (convert + upload) p50 {floor:.2f} s; Stratus over it {p50 - floor:+.2f} s")
    print(f"  server CPU per snapshot p50 {cpu:.0f} ms (API, agent, image service, qemu-img children)\n", flush=True)
    rows.append(("snapshot of a running tiny server to active image", f"p50 {p50:.2f} s (snapshot {shot:.2f} + upload {p50 - shot:.2f}), max {max(active):.2f} s; {cpu:.0f} ms CPU", f"< {TARGET_SNAPSHOT:g} s", p50 < TARGET_SNAPSHOT))
    rows.append(("baseline: qemu-img convert + plain upload", f"p50 {floor:.2f} s", "-", None))


def run_list(tmp: Path, args: argparse.Namespace, rows: list) -> None:
    total = args.servers
    print(f"5. server list of {total} servers, fake driver (server on CPU 0, client on CPU 1)")
    env = {
        "STRATUS_COMPUTE__DRIVER": "fake",
        "STRATUS_COMPUTE__HOST": "fakehost",
        # Room for the servers: the fake host has 8 vCPU, 16 GiB, 200 GB.
        "STRATUS_COMPUTE__QUOTA_INSTANCES": str(total + 10),
        "STRATUS_COMPUTE__QUOTA_CORES": str(total + 10),
        "STRATUS_COMPUTE__QUOTA_RAM": str((total + 10) * 256),
        "STRATUS_COMPUTE__CPU_ALLOCATION_RATIO": "1000",
        "STRATUS_COMPUTE__RAM_ALLOCATION_RATIO": "1000",
        "STRATUS_COMPUTE__DISK_ALLOCATION_RATIO": "1000",
    }
    cloud = Cloud(tmp / "fake", env, cpu=0)
    try:
        cloud.start()
        image = cloud.wait_image()
        if bh.PIN:
            os.sched_setaffinity(0, {1})
        best: dict[str, ListResult] = {}

        def measure(name: str, path: str, key: str | None = "servers") -> ListResult:
            runs = []
            for _ in range(max(1, args.repeat)):
                bh.wait_quiet()
                runs.append(time_list(cloud, path, name, args.lists, key))
            r = min(runs, key=lambda x: x.p50_ms)
            best[name] = r
            return r

        base = measure("baseline GET /compute/v2.1", "/", key=None)
        print_list(base, None)
        print_list(measure("GET /servers/detail, 0 servers", "/servers/detail"), base)
        print_list(measure("GET /servers, 0 servers", "/servers"), base)
        seconds, how = fill_fake(cloud, image, total, 10)
        print(f"  created {total} servers ({how}); all ACTIVE after {seconds:.1f} s")
        detail = measure(f"GET /servers/detail, {total} servers", "/servers/detail")
        print_list(detail, base)
        plain = measure(f"GET /servers, {total} servers", "/servers")
        print_list(plain, base)
        if args.profile:
            print(profile_list(cloud, tmp, "/servers/detail"))
        print(flush=True)
        rows.append((f"server list of {total} (detail, fake)", f"p50 {detail.p50_ms:.0f} ms, p99 {detail.p99_ms:.0f} ms, {detail.cpu_ms:.0f} ms CPU", f"< {TARGET_LIST_MS:g} ms", detail.p50_ms < TARGET_LIST_MS))
        rows.append((f"server list of {total} (no detail)", f"p50 {plain.p50_ms:.0f} ms, p99 {plain.p99_ms:.0f} ms, {plain.cpu_ms:.0f} ms CPU", f"< {TARGET_LIST_MS:g} ms", plain.p50_ms < TARGET_LIST_MS))
        rows.append(("baseline: GET /compute/v2.1", f"p50 {base.p50_ms:.1f} ms, {base.cpu_ms:.1f} ms CPU", "-", None))
    finally:
        if bh.PIN:
            os.sched_setaffinity(0, {0, 1})
        cloud.stop()


def profile_list(cloud: Cloud, tmp: Path, path: str, seconds: int = 8) -> str:
    def lists() -> None:
        end = time.monotonic() + seconds - 1.5
        while time.monotonic() < end:
            cloud.compute("GET", path)

    p = bh.profile(cloud.pid, tmp / "list.pyspy", lists, seconds=seconds, rate=200, pin=False, lead=1.0)
    if not p.ok:
        return p.summary
    return "  profile of GET " + path + ":\n    " + p.summary.replace("\n", "\n    ")


if __name__ == "__main__":
    sys.exit(main())
