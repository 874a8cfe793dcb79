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

For each it prints p50 and p99 latency and the server's CPU time per
operation (from /proc/PID/stat).  Exit status 0 when every figure was
measured, even if a target was missed; 1 when a measurement went wrong.

Usage: .venv/bin/python bench/compute_network.py [--repeat 20] [--real]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
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
    def __init__(self, real: bool) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="sbn-", dir="/tmp"))
        self.port = h.free_port()
        self.url = f"http://{h.HOST}:{self.port}"
        self.ns = f"sbn{uuid.uuid4().hex[:6]}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("STRATUS_")}
        env["STRATUS_SERVER__WORKERS"] = "1"
        env["STRATUS_COMPUTE__HOST"] = "benchhost"
        if real:
            env["STRATUS_NETWORK__DRIVER"] = "linux"
            env["STRATUS_NETWORK__HOST_NAMESPACE"] = self.ns
        else:
            env["STRATUS_NETWORK__DRIVER"] = "fake"
            env["STRATUS_COMPUTE__DRIVER"] = "fake"
        self.log = (self.dir / "server.log").open("ab")
        argv = [*h.stratus_command(), "up", "--data-dir", str(self.dir), "--host", h.HOST]
        self.proc = subprocess.Popen(
            [*argv, "--port", str(self.port)], stdout=self.log, stderr=subprocess.STDOUT, env=env
        )
        deadline = time.monotonic() + 60
        while True:
            if self.proc.poll() is not None:
                raise SystemExit(
                    f"bench: stratus up exited:\n{(self.dir / 'server.log').read_text()}"
                )
            try:
                if httpx.get(f"{self.url}/identity/v3", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("bench: stratus up did not answer in 60 s")
            time.sleep(0.1)
        password = (self.dir / "admin-password").read_text().strip()
        user = {"name": "admin", "domain": {"id": "default"}, "password": password}
        body = {
            "auth": {
                "identity": {"methods": ["password"], "password": {"user": user}},
                "scope": {"project": {"name": "admin", "domain": {"id": "default"}}},
            }
        }
        resp = httpx.post(f"{self.url}/identity/v3/auth/tokens", json=body, timeout=30)
        resp.raise_for_status()
        self.http = httpx.Client(
            base_url=self.url,
            timeout=120,
            headers={"X-Auth-Token": resp.headers["x-subject-token"]},
        )

    def cpu(self) -> float:
        utime, stime = h.proc_cpu(self.proc.pid)
        return utime + stime

    def close(self) -> None:
        self.http.close()
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()
        for entry in Path("/proc").iterdir():  # its guests and dnsmasq
            if entry.name.isdigit():
                try:
                    if str(self.dir).encode() in (entry / "cmdline").read_bytes():
                        os.kill(int(entry.name), 9)
                except OSError:
                    pass
        listed = subprocess.run(["ip", "-json", "netns", "list"], capture_output=True, text=True)
        for ns in json.loads(listed.stdout or "[]") if listed.returncode == 0 else []:
            if ns.get("name", "").startswith(self.ns):
                subprocess.run(["ip", "netns", "delete", ns["name"]], check=False)
        Path(f"/run/stratus/network-{self.ns}.lock").unlink(missing_ok=True)
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


def report(
    name: str, times: list[float], cpu_ms: float, target: float | None
) -> tuple[float, bool]:
    p50 = statistics.median(times)
    p99 = sorted(times)[max(0, int(len(times) * 0.99) - 1)]
    verdict = ""
    if target is not None:
        verdict = f"target < {target:.0f} ms: " + ("met" if p50 < target else "MISSED")
    print(f"{name:44} p50 {p50:7.1f} ms  p99 {p99:7.1f} ms  CPU {cpu_ms:6.1f} ms/op  {verdict}")
    return p50, target is None or p50 < target


def run(args: argparse.Namespace) -> None:
    cloud = Cloud(args.real)
    try:
        http = cloud.http
        n = args.repeat
        net = ok(http.post("/network/v2.0/networks", json={"network": {"name": "bench"}}), 201)
        net_id = net.json()["network"]["id"]
        sub = {"network_id": net_id, "cidr": "10.99.0.0/20", "ip_version": 4}
        ok(http.post("/network/v2.0/subnets", json={"subnet": sub}), 201)
        images: list[dict[str, str]] = []
        until(
            lambda: bool(
                images.extend(
                    http.get("/image/v2/images", params={"name": "tiny"}).json()["images"]
                )
                or any(i["status"] == "active" for i in images)
            ),
            "no active tiny image",
        )
        server = {
            "name": "bench",
            "imageRef": images[0]["id"],
            "flavorRef": "1",
            "networks": [{"uuid": net_id}],
        }
        sid = ok(http.post("/compute/v2.1/servers", json={"server": server}, headers=NOVA), 202)
        server_id = sid.json()["server"]["id"]

        def active() -> bool:
            shown = http.get(f"/compute/v2.1/servers/{server_id}", headers=NOVA).json()["server"]
            if shown["status"] == "ERROR":
                raise SystemExit(f"bench: the server failed: {shown.get('fault')}")
            return bool(shown["status"] == "ACTIVE")

        until(active, "the server is not ACTIVE", timeout=600)
        if args.real:  # a guest unplugs a NIC once its OS is up (ACPI)

            def ready() -> bool:
                body = {"os-getConsoleOutput": {}}
                resp = http.post(f"/compute/v2.1/servers/{server_id}/action", json=body)
                return "stratus-tiny: ready" in resp.json().get("output", "")

            until(ready, "the guest never said it was ready", timeout=600)
        mode = "QEMU + Linux data plane" if args.real else "fake compute driver + fake data plane"
        print(f"compute on the network service ({mode}), {n} operations each, one at a time")

        times, cpu0 = [], cloud.cpu()
        made = []
        for _ in range(n):
            start = time.perf_counter()
            resp = ok(http.post("/network/v2.0/ports", json={"port": {"network_id": net_id}}), 201)
            times.append((time.perf_counter() - start) * 1000)
            made.append(resp.json()["port"]["id"])
        report("baseline: port create (network API)", times, (cloud.cpu() - cpu0) * 1000 / n, None)
        for port_id in made:
            http.delete(f"/network/v2.0/ports/{port_id}")

        def agent_alone(bound_at_create: bool) -> tuple[list[float], float]:
            times, cpu0 = [], cloud.cpu()
            for _ in range(n):
                start = time.perf_counter()
                port: dict[str, str] = {
                    "network_id": net_id,
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
                until(lambda p=made_id: port_status(http, p) == "ACTIVE", "a port never ACTIVE")
                times.append((time.perf_counter() - start) * 1000)
                http.delete(f"/network/v2.0/ports/{made_id}")
                time.sleep(0.5)  # the agent removes the tap before the next one
            return times, (cloud.cpu() - cpu0) * 1000 / n

        times, cpu = agent_alone(False)
        report("port create, then bind -> ACTIVE (agent)", times, cpu, None)
        times, cpu = agent_alone(True)
        report("bound port create -> ACTIVE (agent)", times, cpu, None)

        path = f"/compute/v2.1/servers/{server_id}/os-interface"
        plug, unplug = [], []
        cpu_plug = cpu_unplug = 0.0
        for _ in range(n):
            cpu0 = cloud.cpu()
            start = time.perf_counter()
            body = {"interfaceAttachment": {"net_id": net_id}}
            port_id = ok(http.post(path, json=body), 200).json()["interfaceAttachment"]["port_id"]
            until(
                lambda p=port_id: port_status(http, p) == "ACTIVE", f"port {port_id} never ACTIVE"
            )
            plug.append((time.perf_counter() - start) * 1000)
            cpu_plug += cloud.cpu() - cpu0
            cpu0 = cloud.cpu()
            start = time.perf_counter()
            ok(http.delete(f"{path}/{port_id}"), 202)
            until(lambda p=port_id: port_status(http, p) is None, f"port {port_id} never deleted")
            unplug.append((time.perf_counter() - start) * 1000)
            cpu_unplug += cloud.cpu() - cpu0
        report(
            "port create -> ACTIVE on the server (hot-plug)", plug, cpu_plug * 1000 / n, TARGET_MS
        )
        report("unplug -> port deleted", unplug, cpu_unplug * 1000 / n, None)
        print(
            "for comparison: Neutron/Nova take several seconds for a port to be ACTIVE on a booting server"
        )
    finally:
        if not args.keep:
            cloud.close()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--real", action="store_true", help="QEMU and the Linux data plane (root)")
    parser.add_argument("--keep", action="store_true", help="leave the cloud running")
    args = parser.parse_args()
    if args.real and os.geteuid() != 0:
        print("bench: --real needs root (namespaces, nftables)", file=sys.stderr)
        return 1
    run(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
