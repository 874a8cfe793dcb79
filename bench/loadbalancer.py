"""Performance figures of the load balancers (Octavia v2 with HAProxy), as
root, on a cloud of its own whose network data plane lives in a host
namespace made for the run; backends (nginx serving a small file) and the
client (wrk) are namespaces with ports on the cloud's network.  Nothing
leaves those namespaces; everything is removed afterwards.

1. ``loadbalancer create`` -> ACTIVE and answering: a load balancer, then
   one listener, one pool and one member (each applied before the next, as
   the API takes them), until the first HTTP answer through the VIP.  p50.
   The same made in one call (Octavia's fully populated load balancer).
2. a member change -> applied in HAProxy: a member added (or removed) until
   the load balancer is ACTIVE again (the agent reloaded HAProxy).  p50,
   made under load: the failed requests of the 20 changes are counted.
3. HTTP requests/s through the VIP to two nginx backends, beside the same
   client hitting the backends directly in the same run: two wrk (one
   thread, 8 connections each), one per backend or both at the VIP, in
   rounds (the best of each kind), with CPU time per request: the run's own
   processes' (wrk, nginx, HAProxy), the machine's, and how long HAProxy
   waited for a CPU, and the context switches per request (each one a
   process put to sleep or woken: what the extra hop multiplies).  The VIP
   is measured with HAProxy at the agent's nice value and at another
   (``--nice``), and through a TCP listener of the same load balancer (port
   81, layer 4: no HTTP processing in HAProxy), in the same run.  Needs
   nginx and wrk.

   For these runs wrk, nginx and HAProxy share one cpu cgroup of the
   run's own (``--shares``).  Without it the kernel's
   autogroup gives each session one share of a busy machine: the direct
   runs' four processes had one, and HAProxy, a session of its own (it
   daemonizes), another, so other people's work on the machine decided the
   ratio more than the data plane did, and HAProxy's nice weighed only
   against itself.  In one group both kinds of run get the same share, and
   nice orders HAProxy against its own clients and backends.

Exit status: 0 when every figure was measured, even if a target was missed;
1 when a measurement itself went wrong.

Usage: .venv/bin/python bench/loadbalancer.py [--repeat 5] [--changes 20] [--seconds 5]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import bench.harness as bh  # noqa: E402

SUBNET, GATEWAY = "10.72.0.0/24", "10.72.0.1"
BACKENDS = {"b1": "10.72.0.11", "b2": "10.72.0.12"}
CLIENT = "10.72.0.30"
NGINX = """user root;
worker_processes 1;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/error.log;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  keepalive_requests 100000;
  server {{ listen {address}:80; root {dir}/www; }}
}}
"""
WRK_LUA = (
    "local threads = {}\n"
    "function setup(thread) table.insert(threads, thread) end\n"
    "function init(args) bad = 0; bad_status = 0 end\n" + bh.WRK_REPORT_LUA
)


class CpuGroup:
    """A cpu cgroup (v1) holding the run's own processes, at ``shares``
    beside the 1024 of each other session; nothing when there is no cpu
    controller."""

    ROOT = Path("/sys/fs/cgroup/cpu")

    def __init__(self, name: str, shares: int) -> None:
        self.path: Path | None = self.ROOT / name
        if not (self.ROOT / "cpu.shares").exists():
            self.path = None
            return
        self.path.mkdir(exist_ok=True)
        (self.path / "cpu.shares").write_text(str(shares))

    def describe(self) -> str:
        if self.path is None:
            return "no cpu cgroup (no v1 cpu controller): the run's processes share the machine as sessions"
        shares = (self.path / "cpu.shares").read_text().strip()
        return f"the run's processes in cpu cgroup {self.path.name} (cpu.shares {shares}; each other session 1024)"

    def add(self, pid: int) -> None:
        if self.path is not None:
            (self.path / "cgroup.procs").write_text(str(pid))

    def join(self) -> None:
        """In a child before it runs its program (``preexec_fn``)."""
        self.add(os.getpid())

    def empty(self) -> None:
        """Every process back in the root group."""
        if self.path is None:
            return
        for pid in (self.path / "cgroup.procs").read_text().split():
            try:
                (self.ROOT / "cgroup.procs").write_text(pid)
            except OSError:  # gone meanwhile
                pass

    def remove(self) -> None:
        if self.path is None:
            return
        for _ in range(50):
            self.empty()
            try:
                self.path.rmdir()
                return
            except OSError:
                time.sleep(0.1)


@dataclass
class Run:
    rps: float
    machine_ms: float  # the machine's CPU per request: others' work too
    ours_ms: dict[str, float]  # per request: wrk, nginx, HAProxy (user + system)
    failed: int
    haproxy_waited: float  # seconds HAProxy waited for a CPU, per second of the run
    switches: dict[str, float]  # context switches per request: wrk, nginx, HAProxy

    @property
    def ours(self) -> float:
        return sum(self.ours_ms.values())

    def line(self) -> str:
        parts = ", ".join(f"{k} {v:.4f}" for k, v in self.ours_ms.items() if v)
        switches = ", ".join(f"{k} {v:.2f}" for k, v in self.switches.items() if v)
        return (f"{self.rps:,.0f} req/s, {self.failed} failed; CPU/request {self.ours:.4f} ms "
                f"ours ({parts}), {self.machine_ms:.4f} ms machine; HAProxy waited for a CPU "
                f"{self.haproxy_waited:.2f} s/s; context switches/request "
                f"{sum(self.switches.values()):.2f} ({switches})")  # fmt: skip


def _run_delay(pid: int) -> int:
    """Nanoseconds a process spent runnable but waiting for a CPU."""
    try:
        return int(Path(f"/proc/{pid}/schedstat").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return 0


def _switches(pid: int) -> int:
    """Context switches (voluntary and not) of a process, all its threads."""
    total = 0
    for status in Path(f"/proc/{pid}/task").glob("*/status"):
        try:
            for line in status.read_text().splitlines():
                if line.startswith(("voluntary_ctxt_switches:", "nonvoluntary_ctxt_switches:")):
                    total += int(line.split()[1])
        except (OSError, ValueError, IndexError):  # a thread gone meanwhile
            pass
    return total


def sh(*argv: str) -> str:
    return subprocess.run(argv, check=True, capture_output=True, text=True).stdout


def wait_for(what: str, check: Callable[[], bool], timeout: float = 60, step: float = 0.01) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: not after {timeout} s")
        time.sleep(step)


class Bench:
    def __init__(self, tmp: Path, shares: int = 1024) -> None:
        self.tmp = tmp
        self.prefix = f"lbb{uuid.uuid4().hex[:5]}"
        self.group = CpuGroup(self.prefix, shares)
        env = {
            "STRATUS_SERVICES__ENABLED": '["identity", "network", "load-balancer"]',
            "STRATUS_NETWORK__DRIVER": "linux",
            "STRATUS_NETWORK__HOST_NAMESPACE": self.prefix,
            "STRATUS_LOADBALANCER__DRIVER": "haproxy",
            "STRATUS_SERVER__WORKERS": "1",
            "STRATUS_LOGGING__ACCESS_LOG": "false",
        }
        self.server = bh.Server(tmp / "cloud", env=env)
        self.http = httpx.Client(timeout=60)
        self.procs: list[subprocess.Popen[bytes]] = []
        self.token = ""

    def ns(self, name: str) -> str:
        return f"{self.prefix}-{name}"

    def start(self) -> None:
        self.server.start()
        self.server.wait_ready(self.http)
        body = bh.password_body(self.server.password())
        self.token, _ = bh.issue(self.http, self.server.base, body)

    def api(self, method: str, path: str, **kw: Any) -> Any:
        url = f"http://127.0.0.1:{self.server.port}{path}"
        resp = self.http.request(method, url, headers={"X-Auth-Token": self.token}, **kw)
        if resp.status_code >= 400:
            raise RuntimeError(f"{method} {path}: {resp.status_code} {resp.text}")
        return resp.json() if resp.content else None

    def lb(self, method: str, path: str, **kw: Any) -> Any:
        return self.api(method, f"/load-balancer/v2/lbaas{path}", **kw)

    def active(self, lb_id: str) -> bool:
        lb = self.lb("GET", f"/loadbalancers/{lb_id}")["loadbalancer"]
        if lb["provisioning_status"] == "ERROR":
            raise RuntimeError(f"load balancer {lb_id} ERROR")
        return bool(lb["provisioning_status"] == "ACTIVE")

    def network(self) -> None:
        wait_for(
            "the network agent", lambda: bool(self.api("GET", "/network/v2.0/agents")["agents"])
        )
        host = self.api("GET", "/network/v2.0/agents")["agents"][0]["host"]
        net = self.api("POST", "/network/v2.0/networks", json={"network": {"name": "bench"}})
        self.net_id = net["network"]["id"]
        sub = self.api("POST", "/network/v2.0/subnets", json={"subnet": {
            "network_id": self.net_id, "cidr": SUBNET, "ip_version": 4}})  # fmt: skip
        self.sub_id = sub["subnet"]["id"]
        group = self.api("POST", "/network/v2.0/security-groups",
                         json={"security_group": {"name": "web"}})["security_group"]["id"]  # fmt: skip
        self.api("POST", "/network/v2.0/security-group-rules", json={"security_group_rule": {
            "security_group_id": group, "direction": "ingress", "protocol": "tcp",
            "port_range_min": 1, "port_range_max": 65535}})  # fmt: skip
        for name, address in [*BACKENDS.items(), ("client", CLIENT)]:
            sh("ip", "netns", "add", self.ns(name))
            self.api("POST", "/network/v2.0/ports", json={"port": {
                "network_id": self.net_id, "binding:host_id": host,
                "binding:profile": {"netns": self.ns(name)}, "security_groups": [group],
                "fixed_ips": [{"subnet_id": self.sub_id, "ip_address": address}]}})  # fmt: skip
        for name, address in BACKENDS.items():
            folder = self.tmp / name
            (folder / "www").mkdir(parents=True)
            (folder / "www" / "index.html").write_text(f"{name}\n")
            conf = folder / "nginx.conf"
            conf.write_text(NGINX.format(dir=folder, address=address))
            self.procs.append(subprocess.Popen(
                ["ip", "netns", "exec", self.ns(name), "nginx", "-c", str(conf), "-p", str(folder)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            ))  # fmt: skip
        for address in BACKENDS.values():
            wait_for("a backend answers", lambda a=address: self.answers(f"http://{a}/"), 60, 0.1)

    def answers(self, url: str) -> bool:
        proc = subprocess.run(["ip", "netns", "exec", self.ns("client"), "curl", "-sf", "-m", "1",
                               url], capture_output=True)  # fmt: skip
        return proc.returncode == 0

    phases: list[list[float]] = []

    def make(self) -> tuple[str, str, str, float]:
        """A load balancer answering through one listener, pool and member:
        (its id, its VIP, its pool, the seconds it took)."""
        t0 = time.monotonic()
        lb = self.lb(
            "POST", "/loadbalancers", json={"loadbalancer": {"vip_subnet_id": self.sub_id}}
        )
        lb_id, vip = lb["loadbalancer"]["id"], lb["loadbalancer"]["vip_address"]
        wait_for("ACTIVE", lambda: self.active(lb_id))
        marks = [time.monotonic() - t0]
        listener = self.lb("POST", "/listeners", json={"listener": {
            "loadbalancer_id": lb_id, "protocol": "HTTP", "protocol_port": 80}})["listener"]  # fmt: skip
        wait_for("ACTIVE", lambda: self.active(lb_id))
        marks.append(time.monotonic() - t0)
        pool = self.lb("POST", "/pools", json={"pool": {"listener_id": listener["id"],
                       "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN"}})["pool"]  # fmt: skip
        wait_for("ACTIVE", lambda: self.active(lb_id))
        marks.append(time.monotonic() - t0)
        self.lb("POST", f"/pools/{pool['id']}/members", json={"member": {
            "address": BACKENDS["b1"], "protocol_port": 80, "subnet_id": self.sub_id}})  # fmt: skip
        wait_for("ACTIVE", lambda: self.active(lb_id))
        marks.append(time.monotonic() - t0)
        wait_for("the VIP answers", lambda: self.answers(f"http://{vip}/"), step=0.005)
        self.phases.append([*marks, time.monotonic() - t0])
        return lb_id, vip, pool["id"], time.monotonic() - t0

    def make_tree(self) -> float:
        """The same load balancer in one call (its tree in the create):
        the seconds until it answers on its VIP."""
        t0 = time.monotonic()
        pool = {"name": "p", "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN", "members": [
            {"address": BACKENDS["b1"], "protocol_port": 80, "subnet_id": self.sub_id}]}  # fmt: skip
        lb = self.lb("POST", "/loadbalancers", json={"loadbalancer": {
            "vip_subnet_id": self.sub_id,
            "listeners": [{"protocol": "HTTP", "protocol_port": 80, "default_pool": pool}]}})  # fmt: skip
        lb_id, vip = lb["loadbalancer"]["id"], lb["loadbalancer"]["vip_address"]
        wait_for("ACTIVE", lambda: self.active(lb_id))
        wait_for("the VIP answers", lambda: self.answers(f"http://{vip}/"), step=0.005)
        return time.monotonic() - t0

    def wrk(
        self, url: str, seconds: float, connections: int, grouped: bool = False
    ) -> subprocess.Popen[str]:
        script = self.tmp / "report.lua"
        if not script.exists():  # once: a wrk starting meanwhile reads it
            script.write_text(WRK_LUA)
        argv = ["ip", "netns", "exec", self.ns("client"), "wrk", "-t1", f"-c{connections}",
                f"-d{seconds:g}s", "-s", str(script), url]  # fmt: skip
        return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                preexec_fn=self.group.join if grouped else None)  # fmt: skip

    @staticmethod
    def report(proc: subprocess.Popen[str]) -> dict[str, Any]:
        out, err = proc.communicate(timeout=600)
        for line in out.splitlines():
            if line.startswith("BENCH "):
                return json.loads(line[6:])  # type: ignore[no-any-return]
        raise RuntimeError(f"wrk: no report:\n{out}\n{err}")

    def our_pids(self, lb_id: str) -> dict[str, list[int]]:
        """The processes of the run: HAProxy, the nginx (masters, workers)."""
        pidfile = self.server.data_dir / "loadbalancer" / lb_id / "haproxy.pid"
        nginx = []
        for proc in self.procs:
            nginx.append(proc.pid)
            for task in Path(f"/proc/{proc.pid}/task").glob("*/children"):
                nginx += [int(x) for x in task.read_text().split()]
        return {"haproxy": [int(pidfile.read_text().split()[0])], "nginx": nginx}

    def throughput(self, urls: list[str], seconds: float, lb_id: str) -> Run:
        """One wrk per URL (16 connections in all), and the CPU it took."""
        pids = self.our_pids(lb_id)
        before = {k: sum(sum(bh.proc_cpu(p)) for p in v) for k, v in pids.items()}
        switched = {k: sum(_switches(p) for p in v) for k, v in pids.items()}
        waited0 = _run_delay(pids["haproxy"][0])
        kids0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        _, busy0, _ = bh.machine_ticks()
        procs = [self.wrk(u, seconds, 16 // len(urls), grouped=True) for u in urls]
        reports = [self.report(p) for p in procs]
        _, busy1, _ = bh.machine_ticks()
        kids1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        after = {k: sum(sum(bh.proc_cpu(p)) for p in v) for k, v in pids.items()}
        requests = max(1, sum(r["requests"] for r in reports))
        switches = {k: (sum(_switches(p) for p in v) - switched[k]) / requests
                    for k, v in pids.items()}  # fmt: skip
        switches["wrk"] = (kids1.ru_nvcsw - kids0.ru_nvcsw + kids1.ru_nivcsw - kids0.ru_nivcsw) \
            / requests  # fmt: skip
        per = {k: (after[k] - before[k]) * 1000 / requests for k in pids}
        per["wrk"] = ((kids1.ru_utime - kids0.ru_utime) + (kids1.ru_stime - kids0.ru_stime)) \
            * 1000 / requests  # fmt: skip
        return Run(
            rps=sum(r["requests"] / (r["duration_us"] / 1e6) for r in reports),
            machine_ms=(busy1 - busy0) / bh.CLK_TCK * 1000 / requests,
            ours_ms=per,
            failed=sum(r["non2xx"] + r["connect"] + r["read"] + r["write"] + r["timeout"]
                       for r in reports),
            haproxy_waited=(_run_delay(pids["haproxy"][0]) - waited0) / (seconds * 1e9),
            switches=switches,
        )

    def cleanup(self) -> None:
        lbs = [d.name for d in (self.server.data_dir / "loadbalancer").glob("*") if d.is_dir()]
        self.server.stop()
        for proc in self.procs:
            proc.kill()
        for name in sh("ip", "netns", "list").split():
            if name.startswith(self.prefix) or name in {f"lb-{i}" for i in lbs}:
                for pid in sh("ip", "netns", "pids", name).split():
                    try:
                        os.kill(int(pid), signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                subprocess.run(["ip", "netns", "delete", name], check=False)
        self.group.remove()


def compare(
    b: Bench, lb_id: str, url: str, tcp_url: str, args: argparse.Namespace
) -> tuple[Run, Run]:
    """Requests/s direct to the backends and through the VIP, HAProxy at the
    agent's nice value and at another (0, or ``--nice`` when the agent's is
    0), and through a TCP listener of the same load balancer (layer 4: no
    HTTP processing in HAProxy, the same two hops), in rounds, each run
    after a quiet moment (at most 20 s) of the machine; the best of each.
    Returns direct and the agent's VIP runs."""
    pid = b.our_pids(lb_id)["haproxy"][0]
    for member in [pid, *b.our_pids(lb_id)["nginx"]]:  # wrk joins as it starts
        b.group.add(member)
    agents = os.getpriority(os.PRIO_PROCESS, pid)
    other = args.nice if agents == 0 else 0
    mine, theirs = f"VIP, nice {agents} (agent's)", f"VIP, nice {other}"
    nices = {mine: agents, theirs: other}
    direct = [f"http://{a}/" for a in BACKENDS.values()]
    tcp = f"VIP, TCP listener, nice {agents}"
    targets = {"direct": direct, mine: [url, url], theirs: [url, url], tcp: [tcp_url, tcp_url]}
    runs: dict[str, list[Run]] = {name: [] for name in targets}
    quiet = 0.0
    for _ in range(args.rounds):
        for name in runs:
            quiet = max(quiet, bh.wait_quiet(20.0))
            os.setpriority(os.PRIO_PROCESS, pid, nices.get(name, agents))
            runs[name].append(b.throughput(targets[name], args.seconds, lb_id))
    os.setpriority(os.PRIO_PROCESS, pid, agents)
    b.group.empty()  # the other figures as the cloud runs them
    print(f"machine before the runs: up to {quiet:.2f} cores busy ({bh.noise(quiet)}); "
          "'machine' CPU counts every process, others' too; 'ours' the run's own")  # fmt: skip
    print(f"{b.group.describe()}; the best of {args.rounds} runs of each kind:")
    best = {name: max(rs, key=lambda r: r.rps) for name, rs in runs.items()}
    for name, r in best.items():
        print(f"  {name + ':':24} {r.line()}")
    # With the cores to itself and every run CPU-bound, req/s would go as
    # the inverse of the CPU each request takes: the VIP's ceiling here.
    ceiling = best["direct"].ours / max(1e-9, best[mine].ours)
    print(f"  CPU-bound, the VIP would carry {ceiling:.0%} of direct (direct's CPU per request "
          f"{best['direct'].ours:.4f} ms / the VIP's {best[mine].ours:.4f} ms, ours)")  # fmt: skip
    layer4 = best["direct"].ours / max(1e-9, best[tcp].ours)
    print(f"  the same through the TCP listener: {layer4:.0%} ({best[tcp].ours:.4f} ms); "
          f"its req/s {best[tcp].rps / max(1.0, best['direct'].rps):.0%} of direct")  # fmt: skip
    return best["direct"], best[mine]


def layer4(b: Bench, lb_id: str) -> str:
    """A TCP listener (port 81) on the load balancer, with a pool of both
    backends: the URL that reaches them through it."""
    listener = b.lb("POST", "/listeners", json={"listener": {
        "loadbalancer_id": lb_id, "protocol": "TCP", "protocol_port": 81}})["listener"]  # fmt: skip
    wait_for("ACTIVE", lambda: b.active(lb_id))
    pool = b.lb("POST", "/pools", json={"pool": {"listener_id": listener["id"],
                "protocol": "TCP", "lb_algorithm": "ROUND_ROBIN"}})["pool"]  # fmt: skip
    wait_for("ACTIVE", lambda: b.active(lb_id))
    for address in BACKENDS.values():
        b.lb("POST", f"/pools/{pool['id']}/members", json={"member": {
            "address": address, "protocol_port": 80, "subnet_id": b.sub_id}})  # fmt: skip
        wait_for("ACTIVE", lambda: b.active(lb_id))
    vip = b.lb("GET", f"/loadbalancers/{lb_id}")["loadbalancer"]["vip_address"]
    wait_for("the TCP listener answers", lambda: b.answers(f"http://{vip}:81/"), step=0.05)
    return f"http://{vip}:81/"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="load balancers made (figure 1)")
    parser.add_argument("--changes", type=int, default=20, help="member changes (figure 2)")
    parser.add_argument("--seconds", type=float, default=5.0, help="each wrk run (figure 3)")
    parser.add_argument("--rounds", type=int, default=2, help="wrk runs of each kind (figure 3)")
    parser.add_argument("--nice", type=int, default=-10,
                        help="HAProxy's nice value beside 0, when the agent's is 0 (figure 3)")  # fmt: skip
    parser.add_argument("--shares", type=int, default=10240,
                        help="cpu.shares of the run's cgroup (each other session has 1024; "
                        "figure 3)")  # fmt: skip
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("bench/loadbalancer.py needs root (namespaces)", file=sys.stderr)
        return 1
    print(bh.machine())
    with tempfile.TemporaryDirectory(prefix="stratus-lb-bench-") as tmp:
        b = Bench(Path(tmp), args.shares)
        try:
            b.start()
            b.network()
            made = [b.make() for _ in range(args.repeat)]
            create = statistics.median(m[3] for m in made)
            trees = [b.make_tree() for _ in range(args.repeat)]
            tree = statistics.median(trees)
            print(f"the same in one call (the tree in the create): p50 {tree:.2f} s "
                  f"(each: {', '.join(f'{t:.2f}' for t in trees)})")  # fmt: skip
            print(f"create -> ACTIVE and answering: p50 {create:.2f} s "
                  f"(each: {', '.join(f'{m[3]:.2f}' for m in made)})")  # fmt: skip
            for marks in b.phases:
                print("  load balancer ACTIVE {:.2f} s, listener {:.2f}, pool {:.2f}, member "
                      "{:.2f}, answering {:.2f}".format(*marks))  # fmt: skip
            lb_id, vip, pool_id, _ = made[0]
            b.lb("POST", f"/pools/{pool_id}/members", json={"member": {
                "address": BACKENDS["b2"], "protocol_port": 80, "subnet_id": b.sub_id}})  # fmt: skip
            wait_for("ACTIVE", lambda: b.active(lb_id))
            url = f"http://{vip}/"
            d, v = compare(b, lb_id, url, layer4(b, lb_id), args)
            # Member changes under load: the second backend removed, added back.
            seconds = max(30.0, args.changes * 3.0)
            load = b.wrk(url, seconds, 8)
            time.sleep(1.0)
            applied: list[float] = []
            members = b.lb("GET", f"/pools/{pool_id}/members")["members"]
            second = next(m["id"] for m in members if m["address"] == BACKENDS["b2"])
            for i in range(args.changes):
                t0 = time.monotonic()
                if i % 2 == 0:  # the second backend leaves the pool...
                    b.lb("DELETE", f"/pools/{pool_id}/members/{second}")
                else:  # ... and comes back
                    second = b.lb("POST", f"/pools/{pool_id}/members", json={"member": {
                        "address": BACKENDS["b2"], "protocol_port": 80,
                        "subnet_id": b.sub_id}})["member"]["id"]  # fmt: skip
                wait_for("ACTIVE", lambda: b.active(lb_id), step=0.005)
                applied.append(time.monotonic() - t0)
            load.send_signal(signal.SIGINT)
            r = b.report(load)
            failed = r["non2xx"] + r["connect"] + r["read"] + r["write"] + r["timeout"]
            change = statistics.median(applied)
            kinds = ", ".join(f"{k} {r[k]}" for k in ("non2xx", "connect", "read", "write",
                                                      "timeout") if r[k])  # fmt: skip
            print(f"member change -> applied: p50 {change:.3f} s, max {max(applied):.3f} s; "
                  f"{r['requests']} requests meanwhile, {failed} failed ({kinds or 'none'}; "
                  "wrk's timeout is 2 s)")  # fmt: skip
            ratio = v.rps / max(1.0, d.rps)
            rows = [
                ("create -> ACTIVE and answering (p50)", f"{create:.2f} s", "< 2 s", create < 2.0),
                ("the same, one call with its tree (p50)", f"{tree:.2f} s", "< 2 s", tree < 2.0),
                ("member change -> applied (p50)", f"{change:.3f} s", "< 1 s", change < 1.0),
                ("req/s through the VIP vs direct", f"{ratio:.0%} ({v.rps:,.0f} vs {d.rps:,.0f})",
                 ">= 60%", ratio >= 0.6),
                ("CPU per request (ours), VIP vs direct", f"{v.ours:.4f} vs {d.ours:.4f} ms", "-",
                 None),
                (f"failed requests during {args.changes} member changes", str(failed), "0",
                 failed == 0),
            ]  # fmt: skip
            return bh.print_summary(rows)
        finally:
            b.cleanup()


if __name__ == "__main__":
    sys.exit(main())
