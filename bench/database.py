"""The database service's figures (root): ``database instance create`` ->
ACTIVE and accepting connections, p50 over several creates, beside a bare
``initdb`` + ``postgres`` start + first connection measured in the same run
(the floor: what the datastore itself costs), with the CPU time of the cloud's
process per create.  Optionally pgbench inside an instance beside the same
PostgreSQL run bare.

    bench/run.sh database [--creates 5] [--datastore postgresql] [--pgbench 30]

Everything stays on this machine: the cloud's network lives in a namespace of
its own (``[network] host_namespace``), the client in another."""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
import dbpgbench as pg  # noqa: E402
import harness as h  # noqa: E402

TAG = f"sdbb{os.getpid() % 100000}"
CLIENT_NS = f"{TAG}-cli"
PG_BIN = pg.PG_BIN


def token(client: httpx.Client, server: h.Server) -> tuple[str, str]:
    tok, body = h.issue(client, server.base, h.password_body(server.password()))
    return tok, body["project"]["id"]


def connects(address: str, datastore: str) -> bool:
    if datastore == "postgresql":
        argv = ["psql", "-h", address, "-U", "app", "-d", "app", "-tAc", "SELECT 1"]
        env = {**os.environ, "PGPASSWORD": "s3cret", "PGCONNECT_TIMEOUT": "2"}
    else:
        argv = ["mysql", "-h", address, "-u", "app", "app", "-N", "-e", "SELECT 1",
                "--connect-timeout=2"]  # fmt: skip
        env = {**os.environ, "MYSQL_PWD": "s3cret"}
    done = subprocess.run(["ip", "netns", "exec", CLIENT_NS, *argv], env=env,
                          capture_output=True, text=True, check=False)  # fmt: skip
    return done.returncode == 0 and done.stdout.strip() == "1"


def bare_postgres(tmp: Path) -> float:
    """initdb + start + first connection, as an unprivileged user: seconds."""
    data = tmp / f"bare-{time.monotonic_ns()}"
    data.mkdir(mode=0o777)
    shutil.chown(data, "nobody", "nogroup")
    sock = data / "sock"
    as_nobody = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"]
    started = time.monotonic()
    subprocess.run([*as_nobody, str(PG_BIN / "initdb"), "-D", str(data / "pg"), "-U", "os_admin",
                    "--auth-local=trust", "-E", "UTF8", "--no-locale", "--no-instructions"],
                   check=True, capture_output=True)  # fmt: skip
    sock.mkdir()
    shutil.chown(sock, "nobody", "nogroup")
    proc = subprocess.Popen([*as_nobody, str(PG_BIN / "postgres"), "-D", str(data / "pg"),
                             "-c", "listen_addresses=", "-c", f"unix_socket_directories={sock}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        while subprocess.run(["psql", "-h", str(sock), "-U", "os_admin", "-d", "postgres", "-tAc",
                              "SELECT 1"], capture_output=True, check=False).returncode != 0:  # fmt: skip
            time.sleep(0.01)
        return time.monotonic() - started
    finally:
        proc.terminate()
        proc.wait(30)
        shutil.rmtree(data, ignore_errors=True)


def delete_all(client: httpx.Client, trove: str, hdr: dict[str, str]) -> None:
    """Every instance deleted through the API (their servers, mounts and
    volumes with them) before the cloud stops."""
    for inst in client.get(f"{trove}/instances", headers=hdr).json()["instances"]:
        client.delete(f"{trove}/instances/{inst['id']}", headers=hdr)
    deadline = time.monotonic() + 120
    while client.get(f"{trove}/instances", headers=hdr).json()["instances"]:
        if time.monotonic() > deadline:
            h.fail("instances not deleted in 120 s")
            return
        time.sleep(0.2)


def delete_network(client: httpx.Client, url: str, hdr: dict[str, str], net: str) -> None:
    """The tenant network and its ports, so that the network agent stops its
    DHCP server before the cloud stops (a stopped cloud keeps what it runs)."""
    ports = client.get(f"{url}/network/v2.0/ports", headers=hdr, params={"network_id": net})
    for port in ports.json().get("ports", []):
        if not port["device_owner"].startswith("network:"):
            client.delete(f"{url}/network/v2.0/ports/{port['id']}", headers=hdr)
    client.delete(f"{url}/network/v2.0/networks/{net}", headers=hdr)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and subprocess.run(
        ["pgrep", "-f", f"dnsmasq.*{net}"], capture_output=True, check=False
    ).returncode == 0:  # fmt: skip
        time.sleep(0.2)


def pgbench_rows(args: argparse.Namespace, client: httpx.Client, trove: str,
                 hdr: dict[str, str], instance: dict[str, Any], tmp: Path) -> list[tuple[Any, ...]]:
    """pgbench in the instance, beside the same PostgreSQL bare with the
    flavor's limits and bare without any (see dbpgbench.py)."""
    flavor = client.get(f"{trove}/flavors/{args.flavor}", headers=hdr).json()["flavor"]
    ram, vcpus = flavor["ram"], flavor.get("vcpus") or 1
    shared = f"{max(16, ram // 4)}MB"
    inside = pg.Target(f"instance (flavor {args.flavor})", ["ip", "netns", "exec", CLIENT_NS],
                       ["-h", instance["address"], "-U", "app", "app"], {"PGPASSWORD": "s3cret"},
                       pg.instance_group(instance["id"]),
                       lambda: pg.pids_cpu(f"qemu-storage-daemon.*{tmp}"))  # fmt: skip
    capped = pg.BareServer(tmp / "bare-capped", f"stratus-bench-{TAG}/capped", h.free_port(), shared)
    free = pg.BareServer(tmp / "bare-free", f"stratus-bench-{TAG}/unlimited", h.free_port(), shared)
    capped.limit(ram, vcpus)
    free.limit(None, None)
    try:
        targets = [inside, capped.start(), free.start()]
        pg.compare(targets, args.pgbench, args.rounds)
    finally:
        capped.stop()
        free.stop()
    for target in targets:
        print(f"pgbench {target.summary()}")
    tps = [statistics.median(t.tps) for t in targets]
    note = f"{tps[0]:.0f} vs {tps[1]:.0f} TPS, median of {args.rounds} x {args.pgbench} s"
    return [
        ("pgbench TPS in an instance / bare, same limits", f"{tps[0] / tps[1]:.0%}", ">= 90%",
         tps[0] >= 0.9 * tps[1], note),
        ("pgbench TPS in an instance / bare, no limits", f"{tps[0] / tps[2]:.0%}", "-", None,
         f"{tps[0]:.0f} vs {tps[2]:.0f} TPS (the flavor's CPU cap included)"),
    ]  # fmt: skip


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--creates", type=int, default=5)
    ap.add_argument("--datastore", default="postgresql", choices=("postgresql", "mariadb"))
    ap.add_argument(
        "--pgbench",
        type=int,
        default=0,
        metavar="SECONDS",
        help="also pgbench (scale 10, 4 clients) inside an instance and bare",
    )
    ap.add_argument("--rounds", type=int, default=3, help="pgbench runs of each server, alternated")
    ap.add_argument("--flavor", default="2", help="flavor id (2: m1.small, 1 vCPU, 2 GiB)")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("bench/database.py needs root (namespaces, cgroups, loop devices)")
        return 2
    print(h.machine())
    tmp = Path(tempfile.mkdtemp(prefix="stratus-bench-database-"))
    tmp.chmod(0o711)  # the bare baseline runs as nobody
    server = h.Server(tmp / "cloud", env={
        "STRATUS_NETWORK__HOST_NAMESPACE": f"{TAG}-h", "STRATUS_COMPUTE__DRIVER": "fake",
        "STRATUS_SERVER__WORKERS": "1", "STRATUS_COMPUTE__HOST": TAG, "STRATUS_DBAAS__HOST": TAG,
        "STRATUS_LOGGING__ACCESS_LOG": "false",
    })  # fmt: skip
    rows: list[tuple[Any, ...]] = []
    client = httpx.Client(timeout=60)
    trove, net, url, hdr = "", "", "", {"X-Auth-Token": ""}
    try:
        server.start()
        server.wait_ready(client, 60)
        tok, project = token(client, server)
        hdr = {"X-Auth-Token": tok}
        url = f"http://{h.HOST}:{server.port}"
        net = client.post(f"{url}/network/v2.0/networks", headers=hdr,
                          json={"network": {"name": f"{TAG}-net"}}).json()["network"]["id"]  # fmt: skip
        client.post(f"{url}/network/v2.0/subnets", headers=hdr, json={"subnet": {
            "network_id": net, "cidr": "10.94.0.0/24", "ip_version": 4}}).raise_for_status()  # fmt: skip
        subprocess.run(["ip", "netns", "add", CLIENT_NS], check=True)
        client.post(f"{url}/network/v2.0/ports", headers=hdr, json={"port": {
            "network_id": net, "binding:host_id": TAG, "binding:profile": {"netns": CLIENT_NS},
        }}).raise_for_status()  # fmt: skip
        trove = f"{url}/database/v1.0/{project}"
        # Wait for the agent's datastores.
        deadline = time.monotonic() + 60
        while not client.get(f"{trove}/datastores", headers=hdr).json()["datastores"]:
            assert time.monotonic() < deadline, "no database agent"
            time.sleep(0.2)
        active, ready, cpu, addresses, ids = [], [], [], [], []
        for i in range(args.creates):
            body = {"instance": {
                "name": f"b{i}", "flavorRef": args.flavor, "volume": {"size": 1},
                "datastore": {"type": args.datastore}, "databases": [{"name": "app"}],
                "users": [{"name": "app", "password": "s3cret", "databases": [{"name": "app"}]}],
                "nics": [{"net-id": net}],
            }}  # fmt: skip
            u0, s0 = server.cpu_times()
            t0 = time.monotonic()
            resp = client.post(f"{trove}/instances", headers=hdr, json=body)
            resp.raise_for_status()
            iid = resp.json()["instance"]["id"]
            while True:
                shown = client.get(f"{trove}/instances/{iid}", headers=hdr).json()["instance"]
                if shown["status"] in ("ACTIVE", "ERROR"):
                    break
                time.sleep(0.02)
            t_active = time.monotonic() - t0
            if shown["status"] != "ACTIVE":
                h.fail(f"instance {i} ended {shown['status']}: {shown.get('fault')}")
                continue
            address = shown["addresses"][0]["address"]
            addresses.append(address)
            ids.append(iid)
            while not connects(address, args.datastore):
                time.sleep(0.02)
            t_ready = time.monotonic() - t0
            u1, s1 = server.cpu_times()
            active.append(t_active)
            ready.append(t_ready)
            cpu.append(u1 - u0 + s1 - s0)
            print(f"create {i}: ACTIVE {t_active:.2f} s, accepting {t_ready:.2f} s, "
                  f"cloud CPU {cpu[-1]:.2f} s")  # fmt: skip
        bare = [bare_postgres(tmp) for _ in range(args.creates)]
        print(f"bare initdb+start+connect: {', '.join(f'{b:.2f}' for b in bare)} s")
        if ready:
            p50 = h.pct(ready, 0.5)
            rows.append(("create -> ACTIVE and accepting, p50", f"{p50:.2f} s", "< 5 s", p50 < 5,
                         f"ACTIVE p50 {h.pct(active, 0.5):.2f} s; cloud CPU/create "
                         f"{h.pct(cpu, 0.5):.2f} s"))  # fmt: skip
        rows.append(("bare initdb + start + connect, p50", f"{h.pct(bare, 0.5):.2f} s", "-", None,
                     "baseline, same run"))  # fmt: skip
        if args.pgbench and args.datastore == "postgresql" and addresses:
            first = {"id": ids[0], "address": addresses[0]}
            rows += pgbench_rows(args, client, trove, hdr, first, tmp)
    finally:
        if trove:
            delete_all(client, trove, hdr)
        if net:
            delete_network(client, url, hdr, net)
        server.stop()
        for name in subprocess.run(["ip", "netns", "list"], capture_output=True,
                                   text=True).stdout.split("\n"):  # fmt: skip
            if name.split(" ")[0].startswith(f"{TAG}-"):
                subprocess.run(["ip", "netns", "delete", name.split(" ")[0]], check=False)
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    return h.print_summary(rows, ("note",))


if __name__ == "__main__":
    sys.exit(main())
