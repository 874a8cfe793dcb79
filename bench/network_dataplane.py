"""Performance figures of the network data plane (one host's agent and its
Linux driver), as root, in a lab of namespaces made for the run and removed
afterwards (see tests/functional/network/lab.py); no traffic leaves them.

1. security group rule added -> enforced: a client guest tries to connect
   every few milliseconds while a rule admitting it is added and the agent
   woken; the time from the wake-up to the first connection that passes.
   Then the rule removed -> the first connection refused.
2. port -> ACTIVE after a wake-up: a new port bound to the host (the agent
   makes its tap, plugs it, writes its rules) until the agent reports it.
3. CPU time per operation (the agent's thread and the commands it runs:
   ip, nft), measured on passes of the same operations without probing.
4. TCP throughput guest to guest through the data plane (bridge, anti-
   spoofing, security groups with conntrack) beside the same two guests
   joined by a bare veth pair (the baseline, same MTU), one stream each.

Exit status: 0 when every figure was measured, even if a target was missed
(MISSED); 1 when a measurement itself went wrong.

Usage: .venv/bin/python bench/network_dataplane.py [--repeat 10] [--seconds 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from stratus.network.drivers.base import ACTIVE  # noqa: E402
from tests.functional.network.lab import Guest, Lab, allow, lab_at, sh, wait_for  # noqa: E402

RECEIVER = """
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], 5001)); s.listen(1); print("ready", flush=True)
c, _ = s.accept(); buf = bytearray(1 << 20); n = 0
while True:
    k = c.recv_into(buf)
    if not k: break
    n += k
print(n, flush=True)
"""
SENDER = """
import socket, sys, time
c = socket.create_connection((sys.argv[1], 5001)); buf = bytes(1 << 20); n = 0
end = time.monotonic() + float(sys.argv[2]); start = time.monotonic()
while time.monotonic() < end:
    c.sendall(buf); n += len(buf)
c.close(); print(n, time.monotonic() - start, flush=True)
"""


def cpu() -> float:
    """CPU seconds of this process and the commands it ran (reaped)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def p50(values: list[float]) -> float:
    return statistics.median(values)


def measure_rules(
    lab: Lab, client: Guest, server_sg: str, repeat: int
) -> tuple[list[float], list[float]]:
    added, removed = [], []
    for i in range(repeat):
        port = 7000 + i
        lab.guests[1].serve(port)
        t = lab.topo
        t.set_rules(server_sg, (allow("egress"), allow("ingress", "tcp", port)))
        start = time.monotonic()
        lab.source.wake()
        wait_for("the rule enforced", lambda p=port: client.connect("10.99.0.12", p, timeout=0.05) == "hello",
                 timeout=10, every=0.005)  # fmt: skip
        added.append(time.monotonic() - start)
        lab.agents["h1"].idle()
        t.set_rules(server_sg, (allow("egress"),))
        start = time.monotonic()
        lab.source.wake()
        wait_for("the rule gone", lambda p=port: client.connect("10.99.0.12", p, timeout=0.05) is None,
                 timeout=10, every=0.005)  # fmt: skip
        removed.append(time.monotonic() - start)
        lab.agents["h1"].idle()
    return added, removed


def measure_ports(lab: Lab, repeat: int) -> list[float]:
    t = lab.topo
    net = next(iter(t.networks.values()))
    sg = next(iter(t.groups))
    times = []
    for i in range(repeat):
        port = t.port("h1", net, f"10.99.0.{100 + i}", (sg,))
        start = time.monotonic()
        lab.source.wake()
        lab.source.wait_status(port.id, ACTIVE, timeout=10)
        times.append(lab.source.reported_at[port.id] - start)
        lab.agents["h1"].idle()
        t.drop_port(port.id)
        lab.apply("h1")
    return times


def cpu_per(action: Callable[[int], None], repeat: int) -> float:
    before = cpu()
    for i in range(repeat):
        action(i)
    return (cpu() - before) / repeat


def throughput(sender: str, receiver: str, address: str, seconds: float) -> float:
    """Gbit/s of one TCP stream from namespace ``sender`` to ``receiver``."""
    rx = subprocess.Popen(["ip", "netns", "exec", receiver, sys.executable, "-c", RECEIVER, address],
                          stdout=subprocess.PIPE, text=True)  # fmt: skip
    assert rx.stdout is not None and rx.stdout.readline().strip() == "ready"
    out = sh("ip", "netns", "exec", sender, sys.executable, "-c", SENDER, address, str(seconds),
             timeout=seconds + 60)  # fmt: skip
    sent, elapsed = out.split()
    rx.wait(30)
    return int(sent) * 8 / float(elapsed) / 1e9


def bare_pair(lab: Lab) -> tuple[str, str]:
    a, b = f"{lab.prefix}ba", f"{lab.prefix}bb"
    for ns in (a, b):
        sh("ip", "netns", "add", ns)
        sh("ip", "-n", ns, "link", "set", "lo", "up")
    sh("ip", "-n", a, "link", "add", "eth0", "mtu", "1450", "type", "veth", "peer", "name", "eth0",
       "mtu", "1450", "netns", b)  # fmt: skip
    for ns, ip in ((a, "10.98.0.1"), (b, "10.98.0.2")):
        sh("ip", "-n", ns, "addr", "add", f"{ip}/24", "dev", "eth0")
        sh("ip", "-n", ns, "link", "set", "eth0", "up")
    return a, b


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=10, help="measurements of each latency")
    parser.add_argument("--seconds", type=float, default=5.0, help="seconds of each throughput run")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("bench: the data plane needs root", file=sys.stderr)
        return 1
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="stratus-bench-net-") as tmp, lab_at(Path(tmp)) as lab:
        settings = lab.host_settings("h1", 1, tunnel=False)
        t = lab.topo
        net = t.network("10.99.0.0/24", dhcp=False)
        client_sg = t.group((allow("egress"),))
        server_sg = t.group((allow("egress"),))
        client = lab.guest("h1", t.port("h1", net, "10.99.0.11", (client_sg,)))
        server = lab.guest("h1", t.port("h1", net, "10.99.0.12", (server_sg,)))
        lab.start_agent("h1", settings)
        lab.apply()
        client.configure()
        server.configure()

        added, removed = measure_rules(lab, client, server_sg, args.repeat)
        active = measure_ports(lab, args.repeat)

        def rule_change(i: int) -> None:
            t.set_rules(server_sg, (allow("egress"), allow("ingress", "tcp", 9000 + i % 2)))
            lab.apply("h1")

        def port_cycle(i: int) -> None:
            port = t.port("h1", net, f"10.99.0.{200 + i}", (server_sg,))
            lab.apply("h1")
            t.drop_port(port.id)
            lab.apply("h1")

        rule_cpu = cpu_per(rule_change, args.repeat)
        port_cpu = cpu_per(port_cycle, args.repeat)

        t.set_rules(server_sg, (allow("egress"), allow("ingress", "tcp", 5001)))
        lab.apply("h1")
        via = throughput(client.netns, server.netns, "10.99.0.12", args.seconds)
        a, b = bare_pair(lab)
        bare = throughput(a, b, "10.98.0.2", args.seconds)

    print(f"\nnetwork data plane, {args.repeat} measurements each (load average {load:.2f} before)")
    rows = [
        ("rule added -> enforced, p50", f"{p50(added) * 1000:.0f} ms (max {max(added) * 1000:.0f})", "< 1 s",
         p50(added) < 1.0),
        ("rule removed -> new connections cut, p50", f"{p50(removed) * 1000:.0f} ms", "< 1 s", p50(removed) < 1.0),
        ("port -> ACTIVE after the wake-up, p50", f"{p50(active) * 1000:.0f} ms (max {max(active) * 1000:.0f})",
         "< 300 ms", p50(active) < 0.3),
        ("CPU per rule change (agent + ip/nft)", f"{rule_cpu * 1000:.1f} ms", "printed", True),
        ("CPU per port made and removed", f"{port_cpu * 1000:.1f} ms", "printed", True),
        ("TCP guest -> guest through the data plane", f"{via:.2f} Gbit/s", "printed", True),
        ("TCP over a bare veth (baseline)", f"{bare:.2f} Gbit/s ({via / bare:.0%} of it)", "printed", True),
    ]  # fmt: skip
    width = max(len(r[0]) for r in rows)
    print(f"{'figure':<{width}} | measured | target | met?")
    for name, value, target, met in rows:
        print(f"{name:<{width}} | {value} | {target} | {'yes' if met else 'MISSED'}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (AssertionError, subprocess.SubprocessError) as exc:
        print(f"bench: a measurement failed: {exc}", file=sys.stderr)
        sys.exit(1)
