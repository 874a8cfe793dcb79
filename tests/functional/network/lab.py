"""A laboratory for the network data plane, as root: hosts in namespaces of
their own (each with a network agent), "guests" standing in for virtual
machines (a namespace whose eth0 is a veth named as the port's tap), a
topology builder that plays the network service's ``host_state``, and a
clean-up that removes everything made, also after a failure.

Every object made has the lab's random prefix, so that labs of several test
runs (and other developers' work on the same machine) never meet.  Packets
go only to addresses inside the lab's own namespaces.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import ipaddress
import json
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
import types
import typing
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from stratus.common.reconciler import Timing
from stratus.network.agent.agent import NetworkAgent
from stratus.network.agent.source import AgentInfo
from stratus.network.drivers import base as b
from stratus.network.drivers.linux import LinuxDataPlane, LinuxSettings

ROOT = os.geteuid() == 0
REPO = Path(__file__).resolve().parents[3]
needs_root = pytest.mark.skipif(not ROOT, reason="the data plane needs root (namespaces, nftables)")

UDHCPC_SCRIPT = r"""#!/bin/sh
# A guest's DHCP client script: address, default route, classless routes, MTU.
case "$1" in
bound|renew)
    ip -4 addr flush dev "$interface"
    ip addr add "$ip/${mask:-24}" dev "$interface"
    [ -n "$mtu" ] && ip link set "$interface" mtu "$mtu"
    if [ -n "$staticroutes" ]; then
        set -- $staticroutes
        while [ $# -ge 2 ]; do
            if [ "$2" = "0.0.0.0" ]; then ip route replace "$1" dev "$interface"
            else ip route replace "$1" via "$2" dev "$interface"; fi
            shift 2
        done
    else
        for r in $router; do ip route replace default via "$r" dev "$interface"; break; done
    fi
    echo "$ip" > "$LEASE_FILE"
    ;;
esac
exit 0
"""


def sh(*argv: str, check: bool = True, timeout: float = 30, input: str | None = None) -> str:
    proc = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout, input=input)
    if check and proc.returncode != 0:
        raise AssertionError(f"{shlex.join(argv)}: exit {proc.returncode}: {proc.stderr.strip()}")
    return proc.stdout


def wait_for(what: str, check: Callable[[], bool], timeout: float = 20, every: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}")


def uid() -> str:
    return str(uuid.uuid4())


# -- the topology: what the network service would say -----------------------------


class Topo:
    """Builds specs the way the network service does (MACs, DHCP ports,
    hosts entries, security groups) for one or more hosts."""

    def __init__(self) -> None:
        self.networks: dict[str, b.NetworkSpec] = {}
        self.ports: dict[str, tuple[str, b.PortSpec]] = {}  # id -> (host, spec)
        self.groups: dict[str, b.SecurityGroupSpec] = {}
        self.dhcp: dict[str, tuple[str, b.DhcpSpec]] = {}  # network id -> (host, spec)
        self.routers: dict[str, tuple[str, b.RouterSpec]] = {}
        self.tunnels: dict[str, str] = {}  # host -> tunnel IP
        self._vni = 100 + int.from_bytes(os.urandom(2), "big")
        self._mac = 0

    def mac(self) -> str:
        self._mac += 1
        tail = os.urandom(2).hex()
        return f"fa:16:3e:{self._mac:02x}:{tail[:2]}:{tail[2:]}"

    def network(
        self, cidr: str, *, dhcp: bool = True, external: bool = False, gateway: bool = True
    ) -> b.NetworkSpec:
        net_id, sub_id = uid(), uid()
        net = ipaddress.ip_network(cidr)
        self._vni += 1
        subnet = b.SubnetSpec(
            id=sub_id, network_id=net_id, cidr=cidr, ip_version=net.version,
            gateway_ip=str(net[1]) if gateway else None, enable_dhcp=dhcp,
        )  # fmt: skip
        spec = b.NetworkSpec(
            id=net_id, segmentation_id=self._vni, mtu=1450, external=external, subnets=(subnet,)
        )
        self.networks[net_id] = spec
        return spec

    def group(self, rules: tuple[b.RuleSpec, ...] = (), group_id: str | None = None) -> str:
        gid = group_id or uid()
        self.groups[gid] = b.SecurityGroupSpec(id=gid, rules=rules)
        self._members()
        return gid

    def set_rules(self, gid: str, rules: tuple[b.RuleSpec, ...]) -> None:
        self.groups[gid] = dataclasses.replace(self.groups[gid], rules=rules)

    def port(
        self, host: str, net: b.NetworkSpec, ip: str, groups: tuple[str, ...] = (), **kw: Any
    ) -> b.PortSpec:
        subnet = net.subnets[0]
        spec = b.PortSpec(
            id=uid(), network_id=net.id, mac_address=self.mac(),
            fixed_ips=(b.FixedIP(subnet.id, ip),), device_owner="compute:nova",
            device_id=uid(), project_id="p-" + uid()[:8], security_group_ids=groups, **kw,
        )  # fmt: skip
        self.ports[spec.id] = (host, spec)
        self._members()
        self._refresh_dhcp(net.id)
        return spec

    def update_port(self, spec: b.PortSpec) -> None:
        host = self.ports[spec.id][0]
        self.ports[spec.id] = (host, spec)
        self._members()

    def drop_port(self, port_id: str) -> None:
        host, spec = self.ports.pop(port_id)
        self._members()
        self._refresh_dhcp(spec.network_id)

    def serve_dhcp(self, host: str, net: b.NetworkSpec) -> b.DhcpSpec:
        subnet = net.subnets[0]
        addr = ipaddress.ip_network(subnet.cidr)
        spec = b.DhcpSpec(
            network=net, port_id=uid(), mac_address=self.mac(),
            addresses=(f"{addr[2]}/{addr.prefixlen}",),
        )  # fmt: skip
        self.dhcp[net.id] = (host, spec)
        self._refresh_dhcp(net.id)
        return self.dhcp[net.id][1]

    def _refresh_dhcp(self, network_id: str) -> None:
        if network_id not in self.dhcp:
            return
        host, spec = self.dhcp[network_id]
        hosts = tuple(
            b.DhcpHost(
                p.mac_address,
                f.ip_address,
                "host-" + f.ip_address.replace(".", "-"),
                port_id=p.id,
                device_id=p.device_id,
                project_id=p.project_id,
            )  # fmt: skip
            for _, p in self.ports.values()
            if p.network_id == network_id
            for f in p.fixed_ips
        )
        self.dhcp[network_id] = (host, dataclasses.replace(spec, hosts=hosts))

    def _members(self) -> None:
        for gid, g in self.groups.items():
            ips = sorted(
                f.ip_address
                for _, p in self.ports.values()
                if gid in p.security_group_ids
                for f in p.fixed_ips
            )
            self.groups[gid] = dataclasses.replace(g, member_ips=tuple(ips))

    def router_port(self, net: b.NetworkSpec, ip: str) -> b.RouterPort:
        prefix = ipaddress.ip_network(net.subnets[0].cidr).prefixlen
        return b.RouterPort(uid(), net.id, self.mac(), (f"{ip}/{prefix}",))

    def router(self, host: str, spec: b.RouterSpec) -> b.RouterSpec:
        self.routers[spec.id] = (host, spec)
        return spec

    def state(self, host: str) -> b.HostState:
        ports = tuple(p for h, p in self.ports.values() if h == host)
        dhcp = tuple(d for h, d in self.dhcp.values() if h == host)
        routers = tuple(r for h, r in self.routers.values() if h == host)
        used = {p.network_id for p in ports} | {d.network.id for d in dhcp}
        used |= {
            rp.network_id
            for r in routers
            for rp in (*r.interfaces, *([r.gateway] if r.gateway else []))
        }
        wanted = {g for p in ports for g in p.security_group_ids}
        wanted |= {
            r.remote_group_id for g in wanted for r in self.groups[g].rules if r.remote_group_id
        }
        peers = {}
        for net_id in used:
            holders = {h for h, p in self.ports.values() if p.network_id == net_id}
            holders |= {h for h, d in self.dhcp.values() if d.network.id == net_id}
            holders |= {
                h
                for h, r in self.routers.values()
                for rp in (*r.interfaces, *([r.gateway] if r.gateway else []))
                if rp.network_id == net_id
            }
            peers[net_id] = tuple(
                sorted(self.tunnels[h] for h in holders - {host} if h in self.tunnels)
            )
        return b.HostState(
            host=host,
            networks=tuple(self.networks[n] for n in sorted(used)),
            ports=ports,
            security_groups=tuple(self.groups[g] for g in sorted(wanted) if g in self.groups),
            dhcp=dhcp,
            routers=routers,
            peers=peers,
        )


def allow(
    direction: str = "ingress", protocol: str | None = None, port: int | None = None, **kw: Any
) -> b.RuleSpec:
    return b.RuleSpec(
        id=uid(), direction=direction, ethertype=kw.pop("ethertype", "IPv4"), protocol=protocol,
        port_range_min=port, port_range_max=port, **kw,
    )  # fmt: skip


def default_rules(gid: str) -> tuple[b.RuleSpec, ...]:
    """Neutron's default group: all egress, ingress from the group's members."""
    return (
        allow("egress"),
        allow("egress", ethertype="IPv6"),
        allow("ingress", remote_group_id=gid),
        allow("ingress", ethertype="IPv6", remote_group_id=gid),
    )


# -- the source the agents read ----------------------------------------------------


class StaticSource:
    """The network service as a test plays it: the topology, the port
    statuses agents report, and in-process wake-ups."""

    def __init__(self, topo: Topo):
        self.topo = topo
        self.statuses: dict[str, str] = {}
        self.reported_at: dict[str, float] = {}  # port id -> time.monotonic() of its last report
        self.agents: dict[str, str | None] = {}
        self.changed = threading.Condition()
        self._watchers: list[tuple[str | None, asyncio.AbstractEventLoop, Callable[[], None]]] = []

    async def host_state(self, host: str) -> b.HostState:
        return self.topo.state(host)

    async def set_port_status(self, port_id: str, status: str) -> bool:
        with self.changed:
            self.statuses[port_id] = status
            self.reported_at[port_id] = time.monotonic()
            self.changed.notify_all()
        return True

    async def register_agent(
        self, host: str, tunnel_ip: str | None, configurations: dict[str, Any] | None = None
    ) -> str:
        self.agents[host] = tunnel_ip
        return host

    async def agent_heartbeat(self, host: str) -> bool:
        return True

    def subscribe(self, host: str | None, wake: Callable[[], None]) -> Callable[[], None]:
        entry = (host, asyncio.get_running_loop(), wake)
        self._watchers.append(entry)
        return lambda: self._watchers.remove(entry)

    def wake(self) -> None:
        for _, loop, wake in list(self._watchers):
            loop.call_soon_threadsafe(wake)

    def wait_status(self, port_id: str, status: str = b.ACTIVE, timeout: float = 20) -> None:
        with self.changed:
            if not self.changed.wait_for(lambda: self.statuses.get(port_id) == status, timeout):
                raise AssertionError(f"port {port_id} not {status}: {self.statuses.get(port_id)}")


class AgentThread:
    """A network agent running on an event loop of its own, in a thread, so
    that tests stay plain functions that may block (ping, connect)."""

    def __init__(self, agent: NetworkAgent):
        self.agent = agent
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def call(self, coro: typing.Coroutine[Any, Any, Any], timeout: float = 60) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def start(self) -> None:
        self.call(self.agent.start())

    def idle(self, timeout: float = 30) -> None:
        self.call(self.agent.idle(timeout), timeout + 5)

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self.call(self.agent.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


# -- hosts and guests ---------------------------------------------------------------


@dataclasses.dataclass
class Guest:
    lab: Lab
    netns: str
    port: b.PortSpec

    def run(self, *argv: str, check: bool = True, timeout: float = 30) -> str:
        return sh("ip", "netns", "exec", self.netns, *argv, check=check, timeout=timeout)

    def dhcp(self, timeout: float = 30) -> str:
        """Ask for an address (DHCP, as a guest does at boot); return it."""
        lease = self.lab.dir / f"{self.netns}.lease"
        lease.unlink(missing_ok=True)
        script = self.lab.udhcpc_script
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.run(
                "env", f"LEASE_FILE={lease}", "busybox", "udhcpc", "-i", "eth0", "-n", "-q",
                "-t", "4", "-T", "1", "-s", str(script), "-O", "staticroutes", "-O", "mtu",
                check=False, timeout=30,
            )  # fmt: skip
            if lease.exists():
                return lease.read_text().strip()
        raise AssertionError(f"{self.netns}: no DHCP lease")

    def configure(self) -> None:
        """Take the port's address by hand (a guest without DHCP)."""
        f = self.port.fixed_ips[0]
        net = self.lab.topo.networks[self.port.network_id]
        prefix = ipaddress.ip_network(net.subnets[0].cidr).prefixlen
        nodad = ["nodad"] if ":" in f.ip_address else []
        self.run("ip", "addr", "replace", f"{f.ip_address}/{prefix}", "dev", "eth0", *nodad)
        gw = net.subnets[0].gateway_ip
        if gw:
            self.run("ip", "route", "replace", "default", "via", gw)

    def ping(self, ip: str, count: int = 1, wait: int = 1, source: str | None = None) -> bool:
        frm = ["-I", source] if source else []
        argv = ["ping", "-n", "-c", str(count), "-W", str(wait), *frm, ip]
        out = subprocess.run(["ip", "netns", "exec", self.netns, *argv], capture_output=True)
        return out.returncode == 0

    def serve(self, port: int, text: str = "hello") -> None:
        """A TCP server answering ``text`` to each connection."""
        self.lab.background(
            "ip", "netns", "exec", self.netns, "socat",
            f"TCP-LISTEN:{port},fork,reuseaddr", f"SYSTEM:echo {text}",
        )  # fmt: skip
        wait_for(
            f"{self.netns} listening on {port}",
            lambda: f":{port} " in self.run("ss", "-ltnH", check=False),
        )

    def connect(self, ip: str, port: int, timeout: float = 2) -> str | None:
        """The answer of a TCP server, or None when it cannot be reached."""
        proc = subprocess.run(
            ["ip", "netns", "exec", self.netns, "socat", "-T", str(timeout), "-",
             f"TCP:{ip}:{port},connect-timeout={timeout}"],
            capture_output=True, text=True, input="", timeout=timeout + 10,
        )  # fmt: skip
        return proc.stdout.strip() if proc.returncode == 0 and proc.stdout.strip() else None


class Lab:
    def __init__(self, directory: Path):
        self.prefix = "nd" + os.urandom(2).hex()
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.topo = Topo()
        self.source = StaticSource(self.topo)
        self.agents: dict[str, AgentThread] = {}
        self.settings: dict[str, LinuxSettings] = {}
        self.guests: list[Guest] = []
        self.processes: list[subprocess.Popen[bytes]] = []
        self.udhcpc_script = self.dir / "udhcpc.script"
        self.udhcpc_script.write_text(UDHCPC_SCRIPT)
        self.udhcpc_script.chmod(0o755)

    @property
    def underlay(self) -> str:
        return f"{self.prefix}ul"

    def host_settings(self, host: str, index: int, **kw: Any) -> LinuxSettings:
        settings = LinuxSettings(
            host=host,
            state_dir=self.dir / "state" / host,
            host_namespace=f"{self.prefix}h{index}",
            tunnel_address=f"100.127.{index}.1/16" if kw.pop("tunnel", True) else "",
            underlay_bridge=self.underlay,
            metadata_secret="s3cret",
            **kw,
        )
        self.settings[host] = settings
        if settings.tunnel_address:
            self.topo.tunnels[host] = settings.tunnel_ip
        return settings

    def start_agent(self, host: str, settings: LinuxSettings) -> AgentThread:
        info = AgentInfo(host=host, tunnel_ip=settings.tunnel_ip or None)
        agent = NetworkAgent(
            info, self.source, LinuxDataPlane(settings),
            Timing(poll_interval=1.0, sync_interval=5.0, heartbeat_interval=10.0),
        )  # fmt: skip
        thread = AgentThread(agent)
        thread.start()
        self.agents[host] = thread
        return thread

    # -- an agent in a process of its own (agent_main.py) --

    def write_state(self, host: str) -> None:
        path = self.dir / f"{host}.state.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(encode(self.topo.state(host)))
        os.replace(tmp, path)

    def statuses(self, host: str) -> dict[str, str]:
        path = self.dir / f"{host}.status.json"
        return json.loads(path.read_text()) if path.exists() else {}

    def spawn_agent(self, host: str) -> subprocess.Popen[bytes]:
        """Start ``host``'s agent as a process and wait until it has
        reported every port of the host again."""
        settings = dataclasses.asdict(self.settings[host])
        settings["state_dir"] = str(settings["state_dir"])
        (self.dir / f"{host}.settings.json").write_text(json.dumps(settings))
        self.write_state(host)
        (self.dir / f"{host}.status.json").unlink(missing_ok=True)
        log = open(self.dir / f"{host}.agent.log", "ab")  # noqa: SIM115 (the process keeps it)
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.functional.network.agent_main",
             *(str(self.dir / f"{host}.{k}.json") for k in ("settings", "state", "status"))],
            stdout=log, stderr=log, cwd=REPO, start_new_session=True,
        )  # fmt: skip
        self.processes.append(proc)
        ports = [p.id for h, p in self.topo.ports.values() if h == host]
        wait_for(
            f"agent of {host} to report its ports",
            lambda: (
                all(self.statuses(host).get(p) == b.ACTIVE for p in ports)
                or proc.poll() is not None
            ),
            timeout=60,
        )
        assert proc.poll() is None, (self.dir / f"{host}.agent.log").read_text()[-3000:]
        return proc

    def snapshot(self, host: str) -> dict[str, Any]:
        """What the host holds, to compare before and after a restart."""
        ns = self.hostns(host)
        namespaces = sorted(
            n["name"]
            for n in json.loads(sh("ip", "-json", "netns", "list") or "[]")
            if n["name"].startswith(ns + "-")
        )
        return {
            "links": sorted(sh("ip", "-n", ns, "-o", "link", "show").split("\n")),
            "rules": sorted(sh("ip", "netns", "exec", ns, "nft", "list", "ruleset").split("\n")),
            "namespaces": {
                n: sorted(
                    sh("ip", "netns", "exec", n, "nft", "list", "ruleset").split("\n")
                    + sh("ip", "-n", n, "-o", "addr", "show").replace(" tentative", "").split("\n")
                    + sh("ip", "-n", n, "route", "show").split("\n")
                )
                for n in namespaces
            },
            "dnsmasq": sorted(self.dnsmasq_pids()),
        }

    def stop_agent(self, host: str) -> None:
        thread = self.agents.pop(host, None)
        if thread is not None:
            thread.stop()

    def apply(self, *hosts: str) -> None:
        """Tell the agents something changed and wait until they are done
        and the guests' ports forward (a bridge port whose link just came
        up waits for the kernel's link watch, up to a second)."""
        self.source.wake()
        for host in hosts or tuple(self.agents):
            self.agents[host].idle()
        for guest in self.guests:
            self.wait_forwarding(guest)

    def wait_forwarding(self, guest: Guest) -> None:
        host = next(h for h, p in self.topo.ports.values() if p.id == guest.port.id)
        if not guest.port.admin_state_up:
            return

        def forwarding() -> bool:
            out = sh(
                "bridge",
                "-n",
                self.hostns(host),
                "-json",
                "link",
                "show",
                "dev",
                guest.port.tap,
                check=False,
            )
            return any(e.get("state") == "forwarding" for e in json.loads(out or "[]"))

        wait_for(f"{guest.port.tap} forwarding", forwarding)

    def hostns(self, host: str) -> str:
        return self.settings[host].host_namespace

    def host_pings(self, host: str, ip: str, count: int = 1) -> bool:
        """Whether the host itself (its namespace) gets an answer from ``ip``."""
        argv = [
            "ip",
            "netns",
            "exec",
            self.hostns(host),
            "ping",
            "-n",
            "-c",
            str(count),
            "-W",
            "1",
            ip,
        ]
        return subprocess.run(argv, capture_output=True).returncode == 0

    def on_host(self, host: str, *argv: str, check: bool = True) -> str:
        return sh("ip", "netns", "exec", self.hostns(host), *argv, check=check)

    def guest(self, host: str, port: b.PortSpec) -> Guest:
        """A namespace standing in for a guest on ``port``: its eth0 is a
        veth whose other end, in the host's namespace, is the port's tap."""
        netns = f"{self.prefix}g{len(self.guests) + 1}"
        if not Path("/run/netns", self.hostns(host)).exists():
            sh("ip", "netns", "add", self.hostns(host))  # before its agent starts
        sh("ip", "netns", "add", netns)
        guest = Guest(self, netns, port)
        self.guests.append(guest)
        sh("ip", "-n", self.hostns(host), "link", "add", port.tap, "type", "veth",
           "peer", "name", "eth0", "netns", netns)  # fmt: skip
        sh(
            "ip",
            "-n",
            netns,
            "link",
            "set",
            "eth0",
            "address",
            port.mac_address,
            "mtu",
            str(port.mtu),
            "up",
        )
        sh("ip", "-n", netns, "link", "set", "lo", "up")
        return guest

    def background(self, *argv: str) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(
            list(argv), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        self.processes.append(proc)
        return proc

    def dnsmasq_pids(self) -> list[int]:
        """dnsmasq processes serving this lab (by their state folder)."""
        pids = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            with contextlib.suppress(OSError):
                cmd = (entry / "cmdline").read_bytes().split(b"\0")
                if cmd[0].endswith(b"dnsmasq") and any(str(self.dir).encode() in a for a in cmd):
                    pids.append(int(entry.name))
        return pids

    def cleanup(self) -> None:
        for host in list(self.agents):
            self.stop_agent(host)
        for proc in self.processes:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            with contextlib.suppress(Exception):
                proc.wait(5)
        for pid in self.dnsmasq_pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        namespaces = json.loads(sh("ip", "-json", "netns", "list") or "[]")
        for ns in namespaces:
            if ns.get("name", "").startswith(self.prefix):
                sh("ip", "netns", "delete", ns["name"], check=False)
        sh("ip", "link", "del", self.underlay, check=False)


@contextlib.contextmanager
def lab_at(directory: Path) -> Iterator[Lab]:
    lab = Lab(directory)
    try:
        yield lab
    finally:
        lab.cleanup()


# -- HostState as JSON (for an agent in a process of its own) --------------------------


def encode(state: b.HostState) -> str:
    return json.dumps(dataclasses.asdict(state))


def decode(cls: Any, data: Any) -> Any:
    """A value of type ``cls`` from ``json.loads`` output (dataclasses,
    tuples, optionals, dicts of tuples)."""
    origin = typing.get_origin(cls)
    if dataclasses.is_dataclass(cls):
        hints = typing.get_type_hints(cls)
        return cls(
            **{
                f.name: decode(hints[f.name], data[f.name])
                for f in dataclasses.fields(cls)
                if f.name in data
            }
        )
    if origin is tuple:
        (item, *_) = typing.get_args(cls)
        return tuple(decode(item, d) for d in data)
    if origin is dict:
        _, value = typing.get_args(cls)
        return {k: decode(value, v) for k, v in data.items()}
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(cls) if a is not type(None)]
        return None if data is None else decode(options[0], data)
    return data
