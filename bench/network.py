"""Performance figures of the Stratus network service's API (Neutron v2.0).

Starts its own ``stratus up`` (identity and network only, SQLite unless
``--database`` names another) on a fresh temporary data folder and a free port
on 127.0.0.1, then measures, one request at a time:

1. the baseline: an identity token validation (GET /identity/v3/auth/tokens),
   the same stack's cheapest authenticated round trip, in the same run;
2. network create, subnet create, router create and add_router_interface:
   each a full API round trip (targets: p50 < 100 ms each);
3. ``port list`` of 2,000 ports (GET /network/v2.0/ports as the admin, who
   sees them all; target: < 200 ms), and the same with ``fields=id``.

For each it prints p50 and p99 latency and the server's CPU time per request
(from /proc/PID/stat): latency swings on a shared machine, CPU per request is
steadier.  The data plane (the network agent) is not part of these figures.

Exit status: 0 when every figure was measured, even if a target was missed (a
benchmark, not a test: missed targets say MISSED); 1 when a measurement went
wrong (an unexpected status, a server that did not start).

Usage: .venv/bin/python bench/network.py [--repeat 30] [--ports 2000] [--database URL]
"""

from __future__ import annotations

import argparse
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
import harness as h  # noqa: E402  (what every benchmark shares)

TARGET_WRITE_MS = 100.0
TARGET_LIST_MS = 200.0
# Neutron's published Rally figures, for comparison.
NEUTRON = "Rally: ~0.5-1 s per network or port create"


def cpu_seconds(pid: int) -> float:
    return sum(h.proc_cpu(pid))


class Cloud:
    """``stratus up`` with identity and network only, configured by nothing
    but these (and ``database``), and an admin's client of it."""

    def __init__(self, database: str) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="stratus-bench-network-"))
        # the data plane in a host namespace of its own, removed at the end
        self.ns = f"sbnet{uuid.uuid4().hex[:6]}"
        env = {
            "STRATUS_SERVICES__ENABLED": '["identity", "network"]',
            "STRATUS_NETWORK__HOST_NAMESPACE": self.ns,
        }
        if database:
            env["STRATUS_DATABASE__URL"] = database
        self.server = h.Server(self.dir, env=env, clean_env=True, log_path=self.dir / "server.log")
        self.http = httpx.Client(base_url=self.server.url, timeout=60)
        try:
            self.server.start()
            self.server.wait_ready(self.http, timeout=60, path="/network/")
            body = h.password_body(self.server.password())
            self.token, _ = h.issue(self.http, self.server.base, body)
        except RuntimeError as exc:
            self.close()
            raise SystemExit(f"bench: {exc}") from None
        self.http.headers["X-Auth-Token"] = self.token

    def close(self) -> None:
        self.http.close()
        self.server.stop()
        h.end_data_plane(self.dir, self.ns)
        shutil.rmtree(self.dir, ignore_errors=True)


def measure(
    cloud: Cloud, repeat: int, call: Callable[[int], httpx.Response], expect: int
) -> tuple[list[float], float]:
    """Latencies (ms) of ``repeat`` calls, and the server's CPU ms per call."""
    times = []
    cpu0 = cpu_seconds(cloud.server.pid)
    for i in range(repeat):
        start = time.perf_counter()
        resp = call(i)
        times.append((time.perf_counter() - start) * 1000)
        if resp.status_code != expect:
            raise SystemExit(
                f"bench: {resp.request.method} {resp.request.url} -> "
                f"{resp.status_code}: {resp.text[:300]}"
            )
    cpu = (cpu_seconds(cloud.server.pid) - cpu0) * 1000 / repeat
    return times, cpu


def report(name: str, times: list[float], cpu: float, target: float | None) -> None:
    p50 = statistics.median(times)
    p99 = sorted(times)[max(0, int(len(times) * 0.99) - 1)]
    verdict = ""
    if target is not None:
        verdict = f"target < {target:.0f} ms: " + ("met" if p50 < target else "MISSED")
    print(f"{name:34} p50 {p50:7.1f} ms  p99 {p99:7.1f} ms  CPU {cpu:6.1f} ms/req  {verdict}")


def run(args: argparse.Namespace) -> None:
    cloud = Cloud(args.database)
    try:
        http = cloud.http
        n = args.repeat
        print(
            f"network API, {n} round trips each, one at a time, SQLite"
            if not args.database
            else f"network API, {n} round trips each, {args.database}"
        )
        unlimited = {r: -1 for r in ("network", "subnet", "port", "router")}
        http.put(f"/network/v2.0/quotas/{_project(http)}", json={"quota": unlimited})
        headers = {"X-Subject-Token": cloud.token}
        times, cpu = measure(
            cloud, n, lambda _i: http.get("/identity/v3/auth/tokens", headers=headers), 200
        )
        report("baseline: token validate", times, cpu, None)

        nets: list[str] = []
        subnets: list[str] = []
        routers: list[str] = []

        def network(i: int) -> httpx.Response:
            resp = http.post("/network/v2.0/networks", json={"network": {"name": f"b{i}"}})
            nets.append(resp.json().get("network", {}).get("id", ""))
            return resp

        def subnet(i: int) -> httpx.Response:
            resp = http.post(
                "/network/v2.0/subnets",
                json={
                    "subnet": {
                        "network_id": nets[i],
                        "cidr": f"10.{i // 256}.{i % 256}.0/24",
                        "ip_version": 4,
                    }
                },
            )
            subnets.append(resp.json().get("subnet", {}).get("id", ""))
            return resp

        def router(i: int) -> httpx.Response:
            resp = http.post("/network/v2.0/routers", json={"router": {"name": f"r{i}"}})
            routers.append(resp.json().get("router", {}).get("id", ""))
            return resp

        def interface(i: int) -> httpx.Response:
            return http.put(
                f"/network/v2.0/routers/{routers[i]}/add_router_interface",
                json={"subnet_id": subnets[i]},
            )

        for name, call, status in (
            ("network create", network, 201),
            ("subnet create (DHCP port too)", subnet, 201),
            ("router create", router, 201),
            ("router add interface", interface, 200),
        ):
            times, cpu = measure(cloud, n, call, status)
            report(name, times, cpu, TARGET_WRITE_MS)

        big = http.post("/network/v2.0/networks", json={"network": {"name": "many"}}).json()
        http.post(
            "/network/v2.0/subnets",
            json={
                "subnet": {
                    "network_id": big["network"]["id"],
                    "cidr": "172.16.0.0/20",
                    "ip_version": 4,
                }
            },
        )
        made = 0
        start = time.perf_counter()
        while made < args.ports:
            count = min(100, args.ports - made)
            resp = http.post(
                "/network/v2.0/ports",
                json={
                    "ports": [
                        {"network_id": big["network"]["id"], "name": f"p{made + k}"}
                        for k in range(count)
                    ]
                },
            )
            if resp.status_code != 201:
                raise SystemExit(
                    f"bench: bulk port create -> {resp.status_code}: {resp.text[:300]}"
                )
            made += count
        per_port = (time.perf_counter() - start) * 1000 / args.ports
        total = len(http.get("/network/v2.0/ports", params={"fields": "id"}).json()["ports"])
        print(
            f"made {args.ports} ports in bulk ({per_port:.1f} ms each); "
            f"the admin's port list has {total}"
        )
        times, cpu = measure(cloud, max(5, n // 3), lambda _i: http.get("/network/v2.0/ports"), 200)
        report(f"port list ({total} ports)", times, cpu, TARGET_LIST_MS)
        times, cpu = measure(
            cloud,
            max(5, n // 3),
            lambda _i: http.get("/network/v2.0/ports", params={"fields": "id"}),
            200,
        )
        report(f"port list fields=id ({total})", times, cpu, None)
        print(f"for comparison, Neutron: {NEUTRON}")
    finally:
        cloud.close()


def _project(http: httpx.Client) -> str:
    resp = http.get(
        "/identity/v3/auth/tokens", headers={"X-Subject-Token": http.headers["X-Auth-Token"]}
    )
    return str(resp.json()["token"]["project"]["id"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=30, help="round trips per figure")
    parser.add_argument("--ports", type=int, default=2000, help="ports in the listed network")
    parser.add_argument("--database", default="", help="SQLAlchemy URL (default: SQLite)")
    args = parser.parse_args(argv)
    run(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
