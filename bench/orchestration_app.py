"""The application template (docs/examples/app.yaml) on a real cloud.

``bench/run.sh orchestration --app``: as root, a ``stratus up`` with its
defaults' real parts (QEMU guests under TCG, the Linux network data plane,
HAProxy, PostgreSQL from Debian) and its network data plane in a host
namespace of its own (as tests/e2e do, so that nothing touches the
machine's root namespace).  Then, through the Heat API:

1. create with ``count=2`` -> CREATE_COMPLETE, and where the time went: each
   resource's start and end (the resource list polled every 0.25 s), each
   server's create -> ACTIVE (QEMU started) -> serving (its wait condition
   signal: the guest booted under emulation, wrote its row in the database
   with psql, read the rows back, started httpd), the load balancer's
   resources, the database; the cloud's and the guests' CPU.  The servers
   boot ``tiny-psql`` (``stratus guest-image --with psql``, built and
   uploaded first).  The URL output is asked through the floating IP until
   both servers have answered with pages listing both servers' rows.
2. the baseline, in the same run: one server alone on the stack's network,
   ``server create`` -> its console's ``stratus-tiny: ready``.
3. update to ``count=3`` under a steady stream of requests on the URL: the
   time, the requests each server answered, failed requests (must be 0) and
   that the first two servers kept their ids.
4. delete -> DELETE_COMPLETE, and that nothing the stack made is left.

Guests signal the wait condition at the cloud's default signal URL: the
network agent's API relay on the host's address on the external network
(``[network] guest_api_relay``, 198.18.0.1 at the cloud's port, inside the
cloud's host namespace), which carries it to the API on 127.0.0.1.  Nothing
leaves the machine.

    bench/run.sh orchestration --app [--count 2] [--keep]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "docs" / "examples" / "app.yaml"
POLL = 0.25

# Requests from inside the host namespace until STOP exists: each answer's
# first word (the server's name) counted, each failure kept.
CLIENT = r"""
import json, os, sys, time, urllib.request
url, stop = sys.argv[1], sys.argv[2]
bodies, errors = {}, []
while not os.path.exists(stop):
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            b = r.read().decode().split(" ")[0]
            bodies[b] = bodies.get(b, 0) + 1
    except Exception as e:
        errors.append(repr(e))
    time.sleep(0.05)
print(json.dumps({"bodies": bodies, "errors": errors}))
"""


def cloud_processes(marker: str) -> dict[int, str]:
    """pid -> program of the processes whose command line names ``marker``."""
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                argv = (entry / "cmdline").read_bytes().split(b"\0")
                if marker.encode() in b" ".join(argv):
                    found[int(entry.name)] = Path(argv[0].decode()).name
    return found


def postgres_pids(marker: str) -> list[int]:
    """PostgreSQL's processes of an instance: its server (whose data folder
    names the instance, ``marker``) and its children (whose titles do not)."""
    marked = cloud_processes(marker)
    parents: dict[int, tuple[int, str]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, ValueError, IndexError):
                stat = (entry / "stat").read_text()
                comm = stat[stat.index("(") + 1 : stat.rindex(")")]
                parents[int(entry.name)] = (int(stat[stat.rindex(")") + 2 :].split()[1]), comm)
    found = []
    for pid, (ppid, comm) in parents.items():
        if comm != "postgres":
            continue
        if pid in marked or ppid in marked and parents.get(ppid, (0, ""))[1] == "postgres":
            found.append(pid)
    return found


def cpu_of(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        with contextlib.suppress(OSError, ValueError):
            total += sum(h.proc_cpu(pid))
    return total


class App:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.tmp = Path(tempfile.mkdtemp(prefix="sapp-", dir="/tmp"))
        self.ns = f"sapp{uuid.uuid4().hex[:6]}"
        self.server = h.Server(self.tmp / "cloud", env={
            "STRATUS_NETWORK__DRIVER": "linux",
            "STRATUS_NETWORK__HOST_NAMESPACE": self.ns,
            "STRATUS_SERVER__WORKERS": "1",
            "STRATUS_LOGGING__ACCESS_LOG": "false",
        })  # fmt: skip
        self.client = httpx.Client(timeout=120.0)
        self.url = f"http://{h.HOST}:{self.server.port}"
        self.heat = self.project = self.stack_id = ""

    # -- the cloud -----------------------------------------------------------------------

    def start(self) -> None:
        self.server.start()
        self.server.wait_ready(self.client, timeout=120)
        tok, body = h.issue(self.client, self.server.base, h.password_body(self.server.password()))
        self.client.headers["X-Auth-Token"] = tok
        self.project = body["project"]["id"]
        self.heat = f"{self.url}/orchestration/v1/{self.project}"
        deadline = time.monotonic() + 120
        while not any(
            s["state"] == "up" for s in self.get("/compute/v2.1/os-services")["services"]
        ):
            if time.monotonic() > deadline:
                h.fail("the compute host never registered")
            time.sleep(0.3)

    def get(self, path: str, **params: Any) -> Any:
        resp = self.client.get(f"{self.url}{path}", params=params)
        if resp.status_code >= 300:
            h.fail(f"GET {path} -> {resp.status_code} {resp.text[:300]}")
        return resp.json()

    def send(self, method: str, path: str, **kw: Any) -> Any:
        resp = self.client.request(method, f"{self.url}{path}", **kw)
        if resp.status_code >= 300:
            h.fail(f"{method} {path} -> {resp.status_code} {resp.text[:300]}")
        return resp.json() if resp.content else None

    def in_ns(self, *argv: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["ip", "netns", "exec", self.ns, *argv], capture_output=True,
                              text=True, timeout=timeout)  # fmt: skip

    def stop(self) -> None:
        if self.stack_id and self.server.proc is not None and self.server.proc.poll() is None:
            # Cut short: the stack deleted through the API (its database's
            # volume, namespaces and guests go the way they came).
            with contextlib.suppress(Exception):
                path = f"{self.url}/orchestration/v1/{self.project}/stacks/app/{self.stack_id}"
                self.client.delete(path)
                deadline = time.monotonic() + 300
                while time.monotonic() < deadline:
                    got = self.client.get(path).json()["stack"]["stack_status"]
                    if not got.endswith("IN_PROGRESS"):
                        break
                    time.sleep(1)
        self.server.stop()
        for pid in cloud_processes(str(self.tmp)):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        listed = subprocess.run(["ip", "-json", "netns", "list"], capture_output=True, text=True)
        for entry in json.loads(listed.stdout or "[]"):
            if entry.get("name", "").startswith(self.ns):
                subprocess.run(["ip", "netns", "delete", entry["name"]], check=False)
        for lb in (self.tmp / "cloud" / "loadbalancer").glob("*"):
            subprocess.run(["ip", "netns", "delete", f"lb-{lb.name}"], check=False,
                           stderr=subprocess.DEVNULL)  # fmt: skip
        Path(f"/run/stratus/network-{self.ns}.lock").unlink(missing_ok=True)
        if not self.args.keep:
            shutil.rmtree(self.tmp, ignore_errors=True)

    # -- the stack ---------------------------------------------------------------------------

    def follow(self, sid: str, t0: float, action: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """Poll the stack until it is no longer IN_PROGRESS: the stack, and
        per resource / server / signal the times (from t0) things were seen."""
        seen: dict[str, Any] = {"res": {}, "active": {}, "made": {}, "signal": {}}
        secret = ""
        while True:
            now = time.monotonic() - t0
            for r in self.get(f"/orchestration/v1/{self.project}/stacks/app/{sid}/resources")[
                "resources"
            ]:
                if r["resource_status"].startswith(action):
                    times = seen["res"].setdefault(r["resource_name"], {"type": r["resource_type"]})
                    times.setdefault("start", now)
                    if r["resource_status"].endswith("COMPLETE"):
                        times.setdefault("end", now)
                if r["resource_type"] == "OS::Heat::WaitConditionHandle":
                    secret = r["physical_resource_id"]
            for s in self.get("/compute/v2.1/servers/detail")["servers"]:
                seen["made"].setdefault(s["name"], (s["id"], now))
                if s["status"] == "ACTIVE":
                    seen["active"].setdefault(s["name"], now)
            if secret:
                got = self.get(f"/orchestration/v1/{self.project}/signal/{secret}")["signals"]
                for sig in got:
                    seen["signal"].setdefault(sig["id"], now)
            stack = self.get(f"/orchestration/v1/{self.project}/stacks/app/{sid}")["stack"]
            if not stack["stack_status"].endswith("IN_PROGRESS"):
                return stack, seen
            if now > self.args.timeout:
                h.fail(f"the stack is still {stack['stack_status']} after {now:.0f} s")
                raise SystemExit(1)
            time.sleep(POLL)

    def answers(self, url: str, want: int, timeout: float = 180) -> dict[str, str]:
        """GET ``url`` from the host namespace until ``want`` servers answered
        with pages listing all ``want`` servers' rows read from the database
        (each refreshes its page every 10 s): the last page of each."""
        bodies: dict[str, str] = {}
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.in_ns("curl", "-sf", "-m", "5", url)
            if got.returncode == 0 and got.stdout.strip():
                bodies[got.stdout.split(" ")[0]] = got.stdout.strip()
                if len(bodies) >= want and all(has_rows(b, want) for b in bodies.values()):
                    break
            else:
                time.sleep(0.5)
        return bodies

    def upload_image(self) -> tuple[str, float]:
        """The tiny guest with psql (``stratus guest-image --with psql``),
        built and uploaded as the project's image ``tiny-psql``; the seconds."""
        from stratus.compute.guest.tiny import build_tiny_image

        t0 = time.monotonic()
        path = build_tiny_image(self.tmp / "images", extras=("psql",))
        image = self.send("POST", "/image/v2/images", json={
            "name": "tiny-psql", "disk_format": "qcow2", "container_format": "bare"})  # fmt: skip
        resp = self.client.put(f"{self.url}/image/v2/images/{image['id']}/file",
                               content=path.read_bytes(),
                               headers={"Content-Type": "application/octet-stream"})  # fmt: skip
        if resp.status_code != 204:
            h.fail(f"uploading tiny-psql -> {resp.status_code} {resp.text[:300]}")
        return path.name, time.monotonic() - t0


def has_rows(body: str, want: int) -> bool:
    """The page lists rows web-0 .. web-{want-1} read from the database."""
    rows = body.partition("[")[2].partition("]")[0].split()
    return all(f"web-{i}" in rows for i in range(want))


def table(seen: dict[str, Any]) -> None:
    rows = sorted(seen["res"].items(), key=lambda kv: (kv[1].get("start", 0), kv[0]))
    print("  resource           type                             start     end  took")
    for name, t in rows:
        end = t.get("end")
        took = f"{end - t['start']:5.1f}" if end is not None else "    -"
        end_s = f"{end:6.1f}" if end is not None else "     -"
        print(f"  {name:18} {t['type']:32} {t['start']:5.1f}  {end_s} {took}")


def servers(seen: dict[str, Any], names: list[str]) -> None:
    for name in names:
        made = seen["made"].get(name)
        active, signal_t = seen["active"].get(name), seen["signal"].get(name)
        if made is None:
            continue
        parts = [f"  {name}: create seen at {made[1]:5.1f} s"]
        if active is not None:
            parts.append(f"ACTIVE (QEMU running) +{active - made[1]:4.1f} s")
            if signal_t is not None:
                parts.append(f"serving (booted under TCG, database read, signalled) "
                             f"+{signal_t - active:4.1f} s")  # fmt: skip
        print(", ".join(parts))


def span(seen: dict[str, Any], names: tuple[str, ...]) -> str:
    ts = [seen["res"][n] for n in names if n in seen["res"] and "end" in seen["res"][n]]
    if not ts:
        return "-"
    start, end = min(t["start"] for t in ts), max(t["end"] for t in ts)
    return f"{end - start:5.1f} s ({start:.1f} -> {end:.1f})"


def run(app: App) -> None:
    count = app.args.count
    text = TEMPLATE.read_text()
    load = h.Load()
    marker = str(app.tmp)
    name, secs = app.upload_image()
    print(f"image: {name} built and uploaded as tiny-psql in {secs:4.1f} s")
    cloud_cpu0 = sum(app.server.cpu_times())
    t0 = time.monotonic()
    created = app.send("POST", f"/orchestration/v1/{app.project}/stacks", json={
        "stack_name": "app", "template": text, "parameters": {"count": count}})["stack"]  # fmt: skip
    app.stack_id = created["id"]
    stack, seen = app.follow(created["id"], t0, "CREATE")
    took = time.monotonic() - t0
    if stack["stack_status"] != "CREATE_COMPLETE":
        h.fail(f"the app stack ended {stack['stack_status']}: {stack['stack_status_reason']}")
    procs = cloud_processes(marker)
    guests = [p for p, prog in procs.items() if prog.startswith("qemu")]
    cloud_cpu = sum(app.server.cpu_times()) - cloud_cpu0
    guest_cpu = cpu_of(guests)
    db_id = app.get(f"/orchestration/v1/{app.project}/stacks/app/{created['id']}/resources/db")[
        "resource"
    ]["physical_resource_id"]
    pg_cpu = cpu_of(postgres_pids(db_id))
    accounted = cloud_cpu + guest_cpu + pg_cpu
    print(f"app stack (count={count}): create -> CREATE_COMPLETE {took:6.1f} s  "
          f"(cloud CPU {cloud_cpu:.1f} s, guests' QEMU CPU {guest_cpu:.1f} s, "
          f"the PostgreSQL server {pg_cpu:.1f} s; the rest of the machine "
          f"{load.others(accounted):.2f} cores: {h.noise(load.others(accounted))})")  # fmt: skip
    table(seen)
    print("  where the time went:")
    print(
        f"    network (net, subnet, router, interface, group): "
        f"{span(seen, ('net', 'subnet', 'router', 'router_interface', 'web_sg'))}"
    )
    print(f"    database (OS::Trove::Instance -> ACTIVE): {span(seen, ('db',))}")
    print(f"    load balancer (lb, listener, pool, monitor, floating IP): "
          f"{span(seen, ('lb', 'listener', 'pool', 'monitor', 'public_ip'))}; members "
          f"{span(seen, ('members',))}")  # fmt: skip
    print(f"    servers (group -> ACTIVE) {span(seen, ('web',))}; "
          f"until all serve (wait condition) {span(seen, ('ready',))}")  # fmt: skip
    servers(seen, [f"web-{i}" for i in range(count)])
    outputs = {o["output_key"]: o["output_value"] for o in stack["outputs"]}
    url = outputs["url"]
    bodies = app.answers(url, count)
    print(f"  {url} (floating IP on the VIP), asked from the host's side of 'public':")
    for body in sorted(bodies.values()):
        print(f"    {body}")
    if len(bodies) != count:
        h.fail(f"only {sorted(bodies)} of {count} servers answered")
    if not all(has_rows(b, count) for b in bodies.values()):
        h.fail(f"a page does not list the {count} servers' rows from the database")

    # The baseline: one server alone on the stack's network, create -> serving.
    net = app.get(f"/orchestration/v1/{app.project}/stacks/app/{created['id']}/resources/net")[
        "resource"
    ]["physical_resource_id"]
    alone_t0 = time.monotonic()
    alone = app.send("POST", "/compute/v2.1/servers", json={"server": {
        "name": "alone", "imageRef": image_id(app), "flavorRef": "1",
        "networks": [{"uuid": net}]}})["server"]  # fmt: skip
    active_at = ready_at = 0.0
    while not ready_at:
        shown = app.get(f"/compute/v2.1/servers/{alone['id']}")["server"]
        if shown["status"] == "ERROR":
            h.fail(f"the baseline server is ERROR: {shown.get('fault')}")
        if shown["status"] == "ACTIVE" and not active_at:
            active_at = time.monotonic() - alone_t0
        if active_at:
            log = app.send("POST", f"/compute/v2.1/servers/{alone['id']}/action",
                           json={"os-getConsoleOutput": {}})["output"]  # fmt: skip
            if "stratus-tiny: ready" in log:
                ready_at = time.monotonic() - alone_t0
        if time.monotonic() - alone_t0 > 600:
            h.fail("the baseline server never booted")
        time.sleep(POLL)
    print(f"  baseline, one server alone (same run): create -> ACTIVE {active_at:4.1f} s, "
          f"-> console ready {ready_at:5.1f} s")  # fmt: skip
    app.client.delete(f"{app.url}/compute/v2.1/servers/{alone['id']}")
    while app.client.get(f"{app.url}/compute/v2.1/servers/{alone['id']}").status_code != 404:
        time.sleep(POLL)

    # Update to count + 1 under a steady stream of requests.
    before = {n: seen["made"][n][0] for n in (f"web-{i}" for i in range(count))}
    stop = app.tmp / "stop-client"
    client = subprocess.Popen(["ip", "netns", "exec", app.ns, sys.executable, "-c", CLIENT, url,
                               str(stop)], stdout=subprocess.PIPE, text=True)  # fmt: skip
    time.sleep(2)
    cloud_cpu0 = sum(app.server.cpu_times())
    t0 = time.monotonic()
    app.send("PATCH", f"/orchestration/v1/{app.project}/stacks/app/{created['id']}",
             json={"parameters": {"count": count + 1}})  # fmt: skip
    stack, seen_u = app.follow(created["id"], t0, "UPDATE")
    took = time.monotonic() - t0
    cloud_cpu = sum(app.server.cpu_times()) - cloud_cpu0
    time.sleep(5)  # the new server in the stream
    stop.touch()
    out, _ = client.communicate(timeout=60)
    stream = json.loads(out)
    if stack["stack_status"] != "UPDATE_COMPLETE":
        h.fail(f"the update ended {stack['stack_status']}: {stack['stack_status_reason']}")
    after = {s["name"]: s["id"] for s in app.get("/compute/v2.1/servers")["servers"]}
    kept = all(after.get(n) == i for n, i in before.items())
    new = f"web-{count}"
    print(f"update count={count} -> {count + 1}: -> UPDATE_COMPLETE {took:6.1f} s "
          f"(cloud CPU {cloud_cpu:.1f} s); {new} ACTIVE -> serving "
          f"{seen_u['signal'].get(new, 0) - seen_u['active'].get(new, 0):.1f} s; "
          f"first servers kept their ids: {'yes' if kept else 'NO'}")  # fmt: skip
    print(f"  requests meanwhile: {sum(stream['bodies'].values())} answered "
          f"{dict(sorted(stream['bodies'].items()))}, {len(stream['errors'])} failed"
          + (f" (first: {stream['errors'][0]})" if stream["errors"] else ""))  # fmt: skip
    if not kept or stream["errors"]:
        h.fail("the update replaced a server or failed requests")

    # Delete: everything goes.
    cloud_cpu0 = sum(app.server.cpu_times())
    t0 = time.monotonic()
    app.send("DELETE", f"/orchestration/v1/{app.project}/stacks/app/{created['id']}")
    while True:
        st = app.get(f"/orchestration/v1/{app.project}/stacks/app/{created['id']}")["stack"]
        if not st["stack_status"].endswith("IN_PROGRESS"):
            break
        time.sleep(POLL)
    took = time.monotonic() - t0
    left = leftovers(app)
    print(f"delete: -> {st['stack_status']} {took:6.1f} s (cloud CPU "
          f"{sum(app.server.cpu_times()) - cloud_cpu0:.1f} s); left behind: "
          f"{', '.join(left) if left else 'nothing'}")  # fmt: skip
    app.stack_id = ""
    if st["stack_status"] != "DELETE_COMPLETE" or left:
        h.fail("the delete left things behind")


def image_id(app: App) -> str:
    images = app.get("/image/v2/images", name="tiny")["images"]
    return str(images[0]["id"])


def leftovers(app: App) -> list[str]:
    left = []
    checks = {
        "servers": ("/compute/v2.1/servers", "servers"),
        "databases": (f"/database/v1.0/{app.project}/instances", "instances"),
        "load balancers": ("/load-balancer/v2/lbaas/loadbalancers", "loadbalancers"),
        "floating IPs": ("/network/v2.0/floatingips", "floatingips"),
        "routers": ("/network/v2.0/routers", "routers"),
        "ports": ("/network/v2.0/ports", "ports"),
    }
    for what, (path, key) in checks.items():
        if app.get(path)[key]:
            left.append(what)
    if [n for n in app.get("/network/v2.0/networks")["networks"] if not n["router:external"]]:
        left.append("networks")
    resp = app.client.get(f"{app.url}/v1/AUTH_{app.project}", params={"format": "json"})
    if resp.status_code == 200 and resp.json():
        left.append("containers")
    procs = [p for p in cloud_processes(str(app.tmp)).values() if p.startswith(("qemu", "haproxy",
                                                                                "postgres"))]  # fmt: skip
    if procs:
        left.append(f"processes {sorted(set(procs))}")
    return left


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="the application template on a real cloud")
    ap.add_argument("--count", type=int, default=2, help="web servers at create (update adds one)")
    ap.add_argument("--keep", action="store_true", help="keep the data folder")
    ap.add_argument("--timeout", type=float, default=600,
                    help="seconds a create or update may take before the run gives up [600]")  # fmt: skip
    args = ap.parse_args(argv)
    if os.geteuid() != 0:
        h.fail("the app stack needs root (namespaces, bridges, HAProxy, PostgreSQL)")
    for tool in ("qemu-system-x86_64", "haproxy", "curl"):
        if shutil.which(tool) is None and not Path(f"/usr/sbin/{tool}").exists():
            h.fail(f"{tool} is not installed")
    app = App(args)
    # SIGTERM (and SIGINT, ignored in a background job otherwise) end the
    # run through the cleanup below.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: sys.exit(1))
    try:
        app.start()
        print(h.machine())
        run(app)
    finally:
        app.stop()
        if args.keep:
            print(f"kept {app.tmp}")


if __name__ == "__main__":
    main()
