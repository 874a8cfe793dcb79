"""TCP throughput of real guests on a project network, beside the same
guests on QEMU's user-mode networking (the baseline, measured in the same
run).  Root: the Linux data plane and QEMU.

Starts its own ``stratus up`` (``compute_network.Cloud``: QEMU and the
Linux data plane in a host namespace of its own, removed afterwards) and
boots two tiny guests on a project network behind a router with a gateway
on ``public``, the first with a floating IP.  Beside them it runs two tiny
guests of the same image with the QEMU driver alone, on user-mode
networking with forwarded ports (127.0.0.1 only).  Every guest listens on
TCP 5001 with busybox ``nc`` and throws away what it gets.  Then, each
``--runs`` times, ``--mib`` MiB of zeros in one TCP stream:

1. guest to guest: the first guest runs ``dd | nc`` (over SSH) to the
   second one's fixed IP (bridge, anti-spoofing, security groups with
   conntrack); user-mode: to the other guest's forwarded port on the host
   (``10.0.2.2``, QEMU's slirp both ways);
2. host to guest: from the host (the cloud's host namespace) to the
   floating IP (the router's namespace: DNAT, routing, then the bridge);
   user-mode: to the guest's forwarded port on 127.0.0.1.

A guest times its own sends by ``/proc/uptime``; the host times from
connect until the guest, having read everything, closes.  The figures are
MB/s (10^6 bytes a second), the best and each run's.  The guests run under
TCG (no usable KVM on these machines), so the guests' CPU bounds every
figure; the ratio of the two networkings is the point.  A bench, not a
test: nothing is asserted; exit status 1 only when a measurement failed.

Usage: .venv/bin/python bench/network_guests.py [--mib 32] [--runs 3] [--keep]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import compute_network as cn  # noqa: E402
import harness as h  # noqa: E402

PORT = 5001
BOOT = 900.0  # seconds a guest may take to be up (TCG on a loaded machine)
READY = "stratus-tiny: ready"
# A listener that never sees EOF on its standard input (busybox nc shuts its
# sending side on it, which would end the sender's connection early).
USER_DATA = f"""#!/bin/sh
mkfifo /tmp/hold && exec 3<>/tmp/hold
(while :; do nc -l -p {PORT} <&3 >/dev/null; done) &
"""
SEND = (
    "a=$(cut -d' ' -f1 /proc/uptime); "
    "dd if=/dev/zero bs=64k count={count} 2>/dev/null | nc {address} {port}; "
    "b=$(cut -d' ' -f1 /proc/uptime); echo sent $a $b"
)
HOST_SENDER = """
import socket, sys, time
address, port, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
buf = bytes(1 << 16)
start = time.monotonic()
c = socket.create_connection((address, port), timeout=120)
left = size
while left > 0:
    n = c.send(buf[: min(left, len(buf))])
    left -= n
c.shutdown(socket.SHUT_WR)
while c.recv(65536):
    pass
print(time.monotonic() - start, flush=True)
"""
SSH_OPTIONS = [
    "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
    "-o", "ConnectTimeout=20", "-o", "BatchMode=yes", "-o", "LogLevel=ERROR",
]  # fmt: skip


def mbps(size: int, seconds: float) -> float:
    return size / seconds / 1e6 if seconds > 0 else 0.0


def guest_send(ssh: list[str], address: str, port: int, size: int) -> float:
    """Seconds the guest took to send ``size`` bytes (``ssh``: the command
    line that runs a shell command on it)."""
    command = SEND.format(count=size // 65536, address=address, port=port)
    done = subprocess.run([*ssh, command], capture_output=True, text=True, timeout=600)
    found = re.search(r"sent ([\d.]+) ([\d.]+)", done.stdout)
    if done.returncode != 0 or not found:
        raise RuntimeError(f"the guest's send failed: {done.stdout} {done.stderr}")
    return float(found.group(2)) - float(found.group(1))


def host_send(prefix: list[str], address: str, port: int, size: int) -> float:
    argv = [*prefix, sys.executable, "-c", HOST_SENDER, address, str(port), str(size)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise RuntimeError(f"the host's send failed: {done.stderr[-500:]}")
    return float(done.stdout.strip())


def until_ok(what: str, attempt: Callable[[], bool], timeout: float = BOOT) -> None:
    deadline = time.monotonic() + timeout
    while not attempt():
        if time.monotonic() > deadline:
            raise SystemExit(f"bench: {what} after {timeout:g} s")
        time.sleep(2)


def ssh_works(ssh: list[str]) -> bool:
    return subprocess.run([*ssh, "true"], capture_output=True, timeout=120).returncode == 0


# -- the project network, in the cloud --------------------------------------------------


class ProjectGuests:
    """Two servers on a project network, the first with a floating IP."""

    def __init__(self, cloud: cn.Cloud, key: Path) -> None:
        self.cloud = cloud
        http = cloud.http
        post = lambda path, body, status=201: cn.ok(http.post(path, json=body), status)  # noqa: E731
        net = post("/network/v2.0/networks", {"network": {"name": "tput"}}).json()["network"]
        sub = {"network_id": net["id"], "cidr": "10.96.0.0/24", "ip_version": 4, "name": "tput"}
        subnet = post("/network/v2.0/subnets", {"subnet": sub}).json()["subnet"]
        public = http.get("/network/v2.0/networks", params={"name": "public"}).json()["networks"]
        if not public:
            raise SystemExit("bench: the cloud has no public network")
        router = {"name": "tput", "external_gateway_info": {"network_id": public[0]["id"]}}
        router_id = post("/network/v2.0/routers", {"router": router}).json()["router"]["id"]
        cn.ok(
            http.put(
                f"/network/v2.0/routers/{router_id}/add_router_interface",
                json={"subnet_id": subnet["id"]},
            ),
            200,
        )
        params = {"name": "default", "project_id": net["project_id"]}
        (group,) = http.get("/network/v2.0/security-groups", params=params).json()[
            "security_groups"
        ]
        for port in (22, PORT):
            rule = {
                "security_group_id": group["id"], "direction": "ingress", "ethertype": "IPv4",
                "protocol": "tcp", "port_range_min": port, "port_range_max": port,
            }  # fmt: skip
            post("/network/v2.0/security-group-rules", {"security_group_rule": rule})
        public_key = key.with_suffix(".pub").read_text().strip()
        keypair = {"name": "tput", "public_key": public_key}
        post("/compute/v2.1/os-keypairs", {"keypair": keypair}, 200)
        image = self._tiny()
        self.ips = ["10.96.0.10", "10.96.0.11"]
        self.ids = []
        for n, ip in enumerate(self.ips):
            server = {
                "name": f"tput{n}", "imageRef": image, "flavorRef": "1", "key_name": "tput",
                "networks": [{"uuid": net["id"], "fixed_ip": ip}],
                "user_data": base64.b64encode(USER_DATA.encode()).decode(),
            }  # fmt: skip
            made = cn.ok(
                http.post("/compute/v2.1/servers", json={"server": server}, headers=cn.NOVA), 202
            )
            self.ids.append(made.json()["server"]["id"])
        self.public_id = public[0]["id"]

    def _tiny(self) -> str:
        found: list[dict[str, str]] = []

        def active() -> bool:
            found[:] = self.cloud.http.get("/image/v2/images", params={"name": "tiny"}).json()[
                "images"
            ]
            return any(i["status"] == "active" for i in found)

        until_ok("no active tiny image", active, 120)
        return found[0]["id"]

    def ready(self) -> bool:
        http = self.cloud.http
        for server_id in self.ids:
            shown = http.get(f"/compute/v2.1/servers/{server_id}", headers=cn.NOVA).json()
            if shown["server"]["status"] == "ERROR":
                raise SystemExit(f"bench: a server failed: {shown['server'].get('fault')}")
            if shown["server"]["status"] != "ACTIVE":
                return False
            body: dict[str, Any] = {"os-getConsoleOutput": {}}
            out = http.post(f"/compute/v2.1/servers/{server_id}/action", json=body).json()
            if READY not in out.get("output", ""):
                return False
        return True

    def floating_ip(self) -> str:
        http = self.cloud.http
        ports = http.get("/network/v2.0/ports", params={"device_id": self.ids[0]}).json()["ports"]
        body = {"floatingip": {"floating_network_id": self.public_id, "port_id": ports[0]["id"]}}
        made = cn.ok(http.post("/network/v2.0/floatingips", json=body), 201)
        return str(made.json()["floatingip"]["floating_ip_address"])


# -- the baseline: QEMU's user-mode networking ------------------------------------------


class UserModeGuests:
    """Two guests of the tiny image run by the QEMU driver alone, each on
    user-mode networking: SSH and the listener forwarded from 127.0.0.1."""

    def __init__(self, work: Path, key: Path) -> None:
        from stratus.compute.drivers.qemu import QemuDriver

        self.work = work
        self.key = key
        self.driver = QemuDriver(work / "instances", hostname="bench-user-mode")
        self.specs: list[Any] = []

    async def boot(self) -> None:
        from stratus.compute.agent.configdrive import build_config_drive
        from stratus.compute.drivers.base import GuestSpec, PortForward
        from stratus.compute.guest import tiny

        base = await asyncio.to_thread(tiny.build_tiny_image, self.work / "images")
        public_key = self.key.with_suffix(".pub").read_text().strip()
        for n in range(2):
            uid = str(uuid.uuid4())
            directory = self.work / "instances" / uid
            directory.mkdir(parents=True)
            meta = {"uuid": uid, "name": f"user{n}", "hostname": f"user{n}",
                    "public_keys": {"tput": public_key}}  # fmt: skip
            await asyncio.to_thread(
                build_config_drive, directory / "config.iso", meta_data=meta,
                user_data=USER_DATA.encode(), network_data={"links": [], "networks": [], "services": []},
            )  # fmt: skip
            spec = GuestSpec(
                uuid=uid, name=f"user{n}", vcpus=1, memory_mb=256, root_gb=1, base_image=base,
                base_format="qcow2", directory=directory, config_drive=directory / "config.iso",
                forwards=(PortForward(h.free_port(), 22), PortForward(h.free_port(), PORT)),
            )  # fmt: skip
            await self.driver.spawn(spec)
            self.specs.append(spec)

    def ready(self) -> bool:
        return all(READY in (s.console_log.read_text(errors="replace") if s.console_log.exists() else "")
                   for s in self.specs)  # fmt: skip

    def ssh(self, n: int) -> list[str]:
        port = self.specs[n].forwards[0].host_port
        return ["ssh", "-i", str(self.key), "-p", str(port), *SSH_OPTIONS, "root@127.0.0.1"]

    def listener(self, n: int) -> int:
        return int(self.specs[n].forwards[1].host_port)

    async def close(self) -> None:
        for spec in self.specs:
            try:
                await self.driver.destroy(spec.uuid, spec.directory)
            except Exception as exc:  # noqa: BLE001 - best effort, said
                print(f"bench: could not destroy guest {spec.uuid}: {exc}", file=sys.stderr)


# -- the run -------------------------------------------------------------------------------


def measure(name: str, runs: int, size: int, once: Callable[[], float]) -> tuple[str, list[float]]:
    rates = []
    for _ in range(runs):
        try:
            rates.append(mbps(size, once()))
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            h.fail(f"{name}: {exc}")
    return name, rates


def run(args: argparse.Namespace) -> int:
    work = Path(tempfile.mkdtemp(prefix="sbg-", dir="/tmp"))
    key = work / "key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    size = args.mib * 1024 * 1024
    cloud = cn.Cloud(real=True)
    user = UserModeGuests(work, key)
    try:
        project = ProjectGuests(cloud, key)
        asyncio.run(user.boot())
        started = time.monotonic()
        until_ok("the project network's guests are not up", project.ready)
        until_ok("the user-mode guests are not up", user.ready)
        print(f"guests up in {time.monotonic() - started:.0f} s")
        fip = project.floating_ip()
        in_ns = ["ip", "netns", "exec", cloud.ns]
        ssh_fip = [*in_ns, "ssh", "-i", str(key), *SSH_OPTIONS, f"root@{fip}"]
        until_ok("no SSH to the floating IP", lambda: ssh_works(ssh_fip), 300)
        until_ok("no SSH to the user-mode guest", lambda: ssh_works(user.ssh(0)), 300)
        print(
            f"TCP throughput, {args.mib} MiB in one stream, {args.runs} runs each; "
            f"load average {os.getloadavg()[0]:.1f}"
        )
        rows = [
            measure("guest -> guest, project network (fixed IP)", args.runs, size,
                    lambda: guest_send(ssh_fip, project.ips[1], PORT, size)),
            measure("guest -> guest, user-mode (via host ports)", args.runs, size,
                    lambda: guest_send(user.ssh(0), "10.0.2.2", user.listener(1), size)),
            measure("host -> guest, floating IP", args.runs, size,
                    lambda: host_send(in_ns, fip, PORT, size)),
            measure("host -> guest, user-mode (forwarded port)", args.runs, size,
                    lambda: host_send([], "127.0.0.1", user.listener(0), size)),
        ]  # fmt: skip
        for name, rates in rows:
            each = ", ".join(f"{r:.1f}" for r in rates)
            best = f"{max(rates):7.1f} MB/s" if rates else "   (failed)"
            print(f"{name:46} best {best}  (runs: {each})")
        table = {name: max(rates) for name, rates in rows if rates}
        for a, b, what in (
            (rows[0][0], rows[1][0], "guest -> guest"),
            (rows[2][0], rows[3][0], "host -> guest"),
        ):
            if a in table and b in table and table[b] > 0:
                print(f"{what}: the project network does {table[a] / table[b]:.2f}x user-mode")
        print(json.dumps({"mib": args.mib, "best_mbps": table}))
    finally:
        if args.keep:
            print(f"kept: the cloud at {cloud.url} (data {cloud.dir}), guests in {work}")
        else:
            asyncio.run(user.close())
            cloud.close()
            shutil.rmtree(work, ignore_errors=True)
    return 1 if h.failures else 0


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mib", type=int, default=32, help="MiB sent in each run")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="leave the cloud and guests running")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("bench: needs root (namespaces, nftables, QEMU)", file=sys.stderr)
        return 1
    for tool in ("ssh", "ssh-keygen", "qemu-system-x86_64"):
        if shutil.which(tool) is None:
            print(f"bench: {tool} is not installed", file=sys.stderr)
            return 1
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
