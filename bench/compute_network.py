"""Performance figures of compute on the network service: interface
hot-plug on a running server.

Starts its own ``stratus up`` (SQLite) on a fresh temporary data folder and
a free port on 127.0.0.1, with the fake compute driver and the fake data
plane by default (``--real``: the QEMU driver and the Linux data plane in a
host namespace of its own, as root, with a tiny guest), boots one server on
a network, then measures, one at a time:

1. the baseline: a port create on the same network through the network API
   (``POST /network/v2.0/ports``), the same stack's nearest round trip;
2. the network agent alone: a port created, then bound to the server's host
   (as compute made it before), and a port created already bound (as
   compute makes it now), each until the agent reports it ACTIVE (its tap
   made and filtered), then deleted: the data plane's part of item 3;
3. port create -> bound and ACTIVE on the running server, by hot-plug:
   ``POST /servers/{id}/os-interface`` (answered once the agent has bound
   the port to the server's host and plugged it into the guest), until the
   port shows ACTIVE (target: p50 < 300 ms);
4. the unplug: ``DELETE .../os-interface/{port}`` until the port is gone.

For each it prints p50 and p99 latency and the CPU time per operation of
the server process and of its reaped children (``ip``, ``nft``: the network
agent's commands), from /proc/PID/stat.  ``--commit REV`` also starts a
cloud of commit REV's src/ (before) beside the working tree's (after), and
takes their measurements in turn, one operation each, so that both see the
same load.  Exit status 0 when every figure was measured, even if a target
was missed; 1 when a measurement went wrong.

Usage: .venv/bin/python bench/compute_network.py [--repeat 20] [--real] [--commit REV]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402

TARGET_MS = 300.0
NOVA = {"OpenStack-API-Version": "compute 2.96"}


class Cloud:
    def __init__(self, real: bool, source: str | None = None) -> None:
        """``source``: a src/ folder to run instead of this process's."""
        self.dir = Path(tempfile.mkdtemp(prefix="sbn-", dir="/tmp"))
        self.ns = f"sbn{uuid.uuid4().hex[:6]}"
        env = {"STRATUS_SERVER__WORKERS": "1", "STRATUS_COMPUTE__HOST": "benchhost"}
        if source is not None:
            env["PYTHONPATH"] = os.pathsep.join(
                [source, *filter(None, [os.environ.get("PYTHONPATH")])]
            )
        if real:
            env["STRATUS_NETWORK__DRIVER"] = "linux"
            env["STRATUS_NETWORK__HOST_NAMESPACE"] = self.ns
        else:
            env["STRATUS_NETWORK__DRIVER"] = "fake"
            env["STRATUS_COMPUTE__DRIVER"] = "fake"
        self.server = h.Server(self.dir, env=env, clean_env=True, log_path=self.dir / "server.log")
        self.http = httpx.Client(base_url=self.server.url, timeout=120)
        try:
            self.server.start()
            self.server.wait_ready(self.http, timeout=60)
            body = h.password_body(self.server.password())
            token, _ = h.issue(self.http, self.server.base, body)
        except RuntimeError as exc:
            self.close()
            raise SystemExit(f"bench: {exc}") from None
        self.http.headers["X-Auth-Token"] = token

    def cpu(self) -> tuple[float, float]:
        """CPU seconds of the server and of its reaped children (ip, nft)."""
        fields = Path(f"/proc/{self.server.pid}/stat").read_text().rsplit(")", 1)[1].split()
        own, kids = int(fields[11]) + int(fields[12]), int(fields[13]) + int(fields[14])
        return own / h.CLK_TCK, kids / h.CLK_TCK

    def close(self) -> None:
        self.http.close()
        self.server.stop()
        h.end_data_plane(self.dir, self.ns)
        shutil.rmtree(self.dir, ignore_errors=True)


def ok(resp: httpx.Response, status: int) -> httpx.Response:
    if resp.status_code != status:
        raise SystemExit(
            f"bench: {resp.request.method} {resp.request.url} -> {resp.status_code}: {resp.text[:300]}"
        )
    return resp


def until(check: Callable[[], bool], what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit(f"bench: {what} after {timeout:g} s")
        time.sleep(0.01)


def port_status(http: httpx.Client, port_id: str) -> str | None:
    resp = http.get(f"/network/v2.0/ports/{port_id}")
    return str(resp.json()["port"]["status"]) if resp.status_code == 200 else None


class Figure:
    """One figure's operations, wall time and CPU (server, children) each."""

    def __init__(self, name: str, target: float | None = None) -> None:
        self.name = name
        self.target = target
        self.times: list[float] = []
        self.cpu: list[tuple[float, float]] = []

    def add(self, ms: float, before: tuple[float, float], after: tuple[float, float]) -> None:
        self.times.append(ms)
        self.cpu.append((after[0] - before[0], after[1] - before[1]))

    def report(self, label: str = "") -> None:
        times = self.times
        p50 = statistics.median(times)
        p99 = sorted(times)[max(0, int(len(times) * 0.99) - 1)]
        own = sum(c[0] for c in self.cpu) * 1000 / len(times)
        kids = sum(c[1] for c in self.cpu) * 1000 / len(times)
        verdict = ""
        if self.target is not None:
            verdict = f"  target < {self.target:.0f} ms: " + (
                "met" if p50 < self.target else "MISSED"
            )
        name = f"{label}{self.name}"
        print(
            f"{name:58} p50 {p50:7.1f} ms  p99 {p99:7.1f} ms  "
            f"CPU {own + kids:6.1f} ms/op (server {own:.1f} + ip/nft {kids:.1f}){verdict}"
        )


class Bench:
    """One cloud's server on a network, and its operations, one at a time."""

    def __init__(self, cloud: Cloud, label: str, real: bool) -> None:
        self.cloud = cloud
        self.label = label
        self.real = real
        self.figures = {
            "baseline": Figure("baseline: port create (network API)"),
            "bind": Figure("port create, then bind -> ACTIVE (agent)"),
            "bound": Figure("bound port create -> ACTIVE (agent)"),
            "plug": Figure("port create -> ACTIVE on the server (hot-plug)", TARGET_MS),
            "unplug": Figure("unplug -> port deleted"),
        }
        self.attached: str | None = None  # the port hot-plugged last
        self.plugs = 0  # hot-plugs still to make

    def boot(self) -> None:
        http = self.cloud.http
        net = ok(http.post("/network/v2.0/networks", json={"network": {"name": "bench"}}), 201)
        self.net_id = net.json()["network"]["id"]
        sub = {"network_id": self.net_id, "cidr": "10.99.0.0/20", "ip_version": 4}
        ok(http.post("/network/v2.0/subnets", json={"subnet": sub}), 201)
        images: list[dict[str, str]] = []

        def tiny() -> bool:
            images[:] = http.get("/image/v2/images", params={"name": "tiny"}).json()["images"]
            return any(i["status"] == "active" for i in images)

        until(tiny, "no active tiny image")
        server = {
            "name": "bench",
            "imageRef": images[0]["id"],
            "flavorRef": "1",
            "networks": [{"uuid": self.net_id}],
        }
        sid = ok(http.post("/compute/v2.1/servers", json={"server": server}, headers=NOVA), 202)
        self.server_id = sid.json()["server"]["id"]

    def ready(self) -> bool:
        http = self.cloud.http
        shown = http.get(f"/compute/v2.1/servers/{self.server_id}", headers=NOVA).json()["server"]
        if shown["status"] == "ERROR":
            raise SystemExit(f"bench: the server failed: {shown.get('fault')}")
        if shown["status"] != "ACTIVE":
            return False
        if not self.real:
            return True
        # A guest unplugs a NIC once its OS is up (ACPI).
        body: dict[str, dict[str, str]] = {"os-getConsoleOutput": {}}
        resp = http.post(f"/compute/v2.1/servers/{self.server_id}/action", json=body)
        return "stratus-tiny: ready" in resp.json().get("output", "")

    def baseline(self) -> None:
        http, f = self.cloud.http, self.figures["baseline"]
        cpu0, start = self.cloud.cpu(), time.perf_counter()
        resp = ok(http.post("/network/v2.0/ports", json={"port": {"network_id": self.net_id}}), 201)
        f.add((time.perf_counter() - start) * 1000, cpu0, self.cloud.cpu())
        http.delete(f"/network/v2.0/ports/{resp.json()['port']['id']}")

    def agent_alone(self, bound_at_create: bool) -> None:
        http = self.cloud.http
        f = self.figures["bound" if bound_at_create else "bind"]
        cpu0, start = self.cloud.cpu(), time.perf_counter()
        port: dict[str, str] = {
            "network_id": self.net_id,
            "device_owner": "compute:bench",
            "device_id": str(uuid.uuid4()),
        }
        if bound_at_create:
            port["binding:host_id"] = "benchhost"
        made = ok(http.post("/network/v2.0/ports", json={"port": port}), 201)
        made_id = made.json()["port"]["id"]
        if not bound_at_create:  # then bound, as compute did before
            body = {"port": {"binding:host_id": "benchhost"}}
            ok(http.put(f"/network/v2.0/ports/{made_id}", json=body), 200)
        until(lambda: port_status(http, made_id) == "ACTIVE", "a port never ACTIVE")
        f.add((time.perf_counter() - start) * 1000, cpu0, self.cloud.cpu())
        http.delete(f"/network/v2.0/ports/{made_id}")

    def unplug_plug(self) -> None:
        """The last port's unplug (if any), then a plug at once: a plug
        right after an unplug, as in a run of attaches and detaches."""
        http = self.cloud.http
        path = f"/compute/v2.1/servers/{self.server_id}/os-interface"
        if self.attached is not None:
            port_id = self.attached
            cpu0, start = self.cloud.cpu(), time.perf_counter()
            ok(http.delete(f"{path}/{port_id}"), 202)
            until(lambda: port_status(http, port_id) is None, f"port {port_id} never deleted")
            self.figures["unplug"].add((time.perf_counter() - start) * 1000, cpu0, self.cloud.cpu())
            self.attached = None
        if self.plugs == 0:
            return
        self.plugs -= 1
        cpu0, start = self.cloud.cpu(), time.perf_counter()
        body = {"interfaceAttachment": {"net_id": self.net_id}}
        port_id = ok(http.post(path, json=body), 200).json()["interfaceAttachment"]["port_id"]
        until(lambda: port_status(http, port_id) == "ACTIVE", f"port {port_id} never ACTIVE")
        self.figures["plug"].add((time.perf_counter() - start) * 1000, cpu0, self.cloud.cpu())
        self.attached = port_id


def run(args: argparse.Namespace) -> None:
    benches: list[Bench] = []
    tmp = Path(tempfile.mkdtemp(prefix="sbn-src-", dir="/tmp"))
    try:
        if args.commit:
            source = str(h.extract_commit(args.commit, tmp / "source"))
            benches.append(Bench(Cloud(args.real, source), f"before ({args.commit}): ", args.real))
        label = "after (this tree): " if args.commit else ""
        benches.append(Bench(Cloud(args.real), label, args.real))
        for b in benches:
            b.boot()
        for b in benches:
            until(b.ready, "the server is not ACTIVE (or the guest never said it was ready)", 900)
        mode = "QEMU + Linux data plane" if args.real else "fake compute driver + fake data plane"
        print(
            f"compute on the network service ({mode}), {args.repeat} operations each, one at a"
            f" time{', the clouds in turn' if len(benches) > 1 else ''}; "
            f"load average {os.getloadavg()[0]:.1f}"
        )
        steps: list[Callable[[Bench], None]] = [
            Bench.baseline,
            lambda b: b.agent_alone(False),
            lambda b: b.agent_alone(True),
        ]
        for step in steps:
            for _ in range(args.repeat):
                for b in benches:
                    step(b)
                    time.sleep(0.2)  # the agent's removal of the port is not measured
        for b in benches:
            b.plugs = args.repeat
        for _ in range(args.repeat + 1):
            for b in benches:
                b.unplug_plug()
        print(f"load average at the end {os.getloadavg()[0]:.1f}")
        for key in ("baseline", "bind", "bound", "plug", "unplug"):
            for b in benches:
                b.figures[key].report(b.label)
        print(
            "for comparison: Neutron/Nova take several seconds for a port to be ACTIVE on a booting server"
        )
    finally:
        if not args.keep:
            for b in benches:
                b.cloud.close()
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--real", action="store_true", help="QEMU and the Linux data plane (root)")
    parser.add_argument("--commit", metavar="REV", help="also measure this commit's src/, in turn")
    parser.add_argument("--keep", action="store_true", help="leave the clouds running")
    args = parser.parse_args()
    if args.real and os.geteuid() != 0:
        print("bench: --real needs root (namespaces, nftables)", file=sys.stderr)
        return 1
    run(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
