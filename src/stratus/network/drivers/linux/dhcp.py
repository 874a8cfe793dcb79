"""dnsmasq as Neutron runs it: one per network with DHCP, in the network's
qdhcp namespace, bound to the DHCP port's interface, serving fixed addresses
only (a static range per DHCP subnet and a hosts file of mac,name,ip).

Its files live in the agent's state folder (``dhcp/<network id>/``).  A
change of hosts or options rewrites the files and sends SIGHUP; a change of
its command line (a subnet added, say) restarts it.  It runs as a daemon of
its own, so it outlives the agent, which finds it again by its pid file.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import os
import signal
import stat
from dataclasses import dataclass
from pathlib import Path

from stratus.network.drivers.base import DhcpSpec, SubnetSpec
from stratus.network.drivers.linux.command import Place, run

log = logging.getLogger(__name__)

LEASE = "86400s"
METADATA_IP = "169.254.169.254"


@dataclass(frozen=True)
class Files:
    dir: Path

    @property
    def pid(self) -> Path:
        return self.dir / "pid"

    @property
    def hosts(self) -> Path:
        return self.dir / "host"

    @property
    def addn_hosts(self) -> Path:
        return self.dir / "addn_hosts"

    @property
    def opts(self) -> Path:
        return self.dir / "opts"

    @property
    def leases(self) -> Path:
        return self.dir / "leases"


def _tag(subnet: SubnetSpec) -> str:
    return f"subnet-{subnet.id}"


def _served(spec: DhcpSpec) -> list[SubnetSpec]:
    return [s for s in spec.network.subnets if s.enable_dhcp]


def _v6_mode(subnet: SubnetSpec) -> str | None:
    """dnsmasq's mode for an IPv6 subnet (None: not dnsmasq's to serve)."""
    address, ra = subnet.ipv6_address_mode, subnet.ipv6_ra_mode
    if address == "slaac":
        return "ra-only" if ra else None
    if address == "dhcpv6-stateless":
        return "ra-stateless" if ra else "static"
    return "static"  # dhcpv6-stateful, or no mode (Neutron's default)


def ranges(spec: DhcpSpec) -> list[str]:
    out = []
    for subnet in _served(spec):
        net = ipaddress.ip_network(subnet.cidr, strict=False)
        if net.version == 4:
            out.append(
                f"--dhcp-range=set:{_tag(subnet)},{net.network_address},static,{net.netmask},{LEASE}"
            )
            continue
        mode = _v6_mode(subnet)
        if mode is not None:
            out.append(
                f"--dhcp-range=set:{_tag(subnet)},{net.network_address},{mode},{net.prefixlen},{LEASE}"
            )
    return out


def argv(spec: DhcpSpec, interface: str, files: Files, domain: str, user: str) -> list[str]:
    cmd = [
        "dnsmasq",
        "--no-hosts",
        "--no-resolv",  # answers its own names, forwards nothing
        "--conf-file=/dev/null",
        f"--pid-file={files.pid}",
        f"--dhcp-hostsfile={files.hosts}",
        f"--addn-hosts={files.addn_hosts}",
        f"--dhcp-optsfile={files.opts}",
        f"--dhcp-leasefile={files.leases}",
        "--bind-interfaces",
        f"--interface={interface}",
        "--except-interface=lo",
        "--dhcp-authoritative",
        "--dhcp-lease-max=65536",
        f"--domain={domain}",
        f"--user={user}",
        f"--group={'root' if user == 'root' else 'nogroup'}",
        *ranges(spec),
    ]
    if any(s.ipv6_ra_mode for s in _served(spec) if ":" in s.cidr):
        # Addresses by router advertisement; the router is not dnsmasq, so
        # it does not offer itself as one (router lifetime 0).
        cmd += ["--enable-ra", f"--ra-param={interface},0,0"]
    return cmd


def _dhcp_ip(spec: DhcpSpec, subnet: SubnetSpec) -> str | None:
    net = ipaddress.ip_network(subnet.cidr, strict=False)
    for addr in spec.addresses:
        iface = ipaddress.ip_interface(addr)
        if iface.ip in net:
            return str(iface.ip)
    return None


def options(spec: DhcpSpec, metadata: bool) -> str:
    """Options per subnet: router, DNS servers, MTU (26), and classless
    static routes (121, and 249 for Windows) holding the host routes, the
    metadata address via the DHCP port, the other subnets on the link and
    the default route (a client that takes 121 ignores option 3)."""
    lines = []
    v4 = [s for s in spec.network.subnets if ":" not in s.cidr]
    for subnet in _served(spec):
        tag = f"tag:{_tag(subnet)}"
        if ":" in subnet.cidr:
            if subnet.dns_nameservers:
                servers = ",".join(f"[{d}]" for d in subnet.dns_nameservers)
                lines.append(f"{tag},option6:dns-server,{servers}")
            continue
        lines.append(
            f"{tag},option:router" + (f",{subnet.gateway_ip}" if subnet.gateway_ip else "")
        )
        if subnet.dns_nameservers:
            lines.append(f"{tag},option:dns-server,{','.join(subnet.dns_nameservers)}")
        lines.append(f"{tag},option:mtu,{spec.network.mtu}")
        routes = [(r.destination, r.nexthop) for r in subnet.host_routes]
        dhcp_ip = _dhcp_ip(spec, subnet)
        if metadata and dhcp_ip:
            routes.append((f"{METADATA_IP}/32", dhcp_ip))
        routes += [(o.cidr, "0.0.0.0") for o in v4 if o.id != subnet.id]
        if subnet.gateway_ip and not any(d == "0.0.0.0/0" for d, _ in routes):
            routes.append(("0.0.0.0/0", subnet.gateway_ip))
        if routes:
            text = ",".join(f"{d},{h}" for d, h in routes)
            lines.append(f"{tag},option:classless-static-route,{text}")
            lines.append(f"{tag},249,{text}")
    return "\n".join(lines) + "\n"


def hosts(spec: DhcpSpec, domain: str) -> tuple[str, str]:
    """The hosts file (mac,name,ip) and the DNS names (ip fqdn name)."""
    nets = [ipaddress.ip_network(s.cidr, strict=False) for s in _served(spec)]
    dhcp_lines, dns_lines = [], []
    for h in sorted(spec.hosts, key=lambda h: (h.ip_address, h.mac_address)):
        ip = ipaddress.ip_address(h.ip_address)
        if not any(ip in net for net in nets):
            continue
        fqdn = f"{h.hostname}.{domain}"
        shown = f"[{ip}]" if ip.version == 6 else str(ip)
        dhcp_lines.append(f"{h.mac_address.lower()},{fqdn},{shown}")
        dns_lines.append(f"{ip}\t{fqdn} {h.hostname}")
    return "\n".join(dhcp_lines) + "\n", "\n".join(dns_lines) + "\n"


def taken_leases(leases: str, hosts_text: str) -> list[str]:
    """The lease lines (``expiry mac ip name client-id``) whose address the
    hosts file now gives another MAC: a port deleted and its address given
    to a new one.  dnsmasq keeps such a lease and refuses the address to the
    new port ("not using configured address ... because it is leased to");
    Neutron sends dhcp_release for it."""
    owner: dict[str, str] = {}
    for line in hosts_text.splitlines():
        parts = line.split(",")
        if len(parts) == 3:
            owner[parts[2].strip("[]")] = parts[0]
    taken = []
    for line in leases.splitlines():
        parts = line.split()
        if len(parts) < 3 or ":" in parts[2]:  # DHCPv6 leases name a DUID, not a MAC
            continue
        if parts[2] in owner and parts[1].lower() != owner[parts[2]]:
            taken.append(line)
    return taken


def _write(path: Path, text: str) -> bool:
    """Write a file atomically, readable by dnsmasq's user; True if changed."""
    with contextlib.suppress(FileNotFoundError):
        if path.read_text() == text:
            return False
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    tmp.chmod(0o644)
    os.replace(tmp, path)
    return True


def _reachable_by_others(path: Path) -> bool:
    """Whether an unprivileged user can reach files in ``path``."""
    for p in [path, *path.parents]:
        with contextlib.suppress(FileNotFoundError):
            if not p.stat().st_mode & stat.S_IXOTH:
                return False
    return True


def _cmdline(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    args = [a.decode(errors="replace") for a in raw.split(b"\0") if a]
    return args or None  # a zombie has no command line


class Dnsmasq:
    def __init__(self, state_dir: Path, domain: str):
        self.state_dir = state_dir
        self.domain = domain

    def files(self, network_id: str) -> Files:
        return Files(self.state_dir / network_id)

    def networks(self) -> set[str]:
        """The networks with a folder of dnsmasq's files here."""
        if not self.state_dir.is_dir():
            return set()
        return {p.name for p in self.state_dir.iterdir() if p.is_dir()}

    def pid(self, network_id: str) -> int | None:
        """The pid of this network's dnsmasq, if it runs."""
        files = self.files(network_id)
        try:
            pid = int(files.pid.read_text().strip())
        except (OSError, ValueError):
            return None
        cmd = _cmdline(pid)
        if cmd and cmd[0].endswith("dnsmasq") and f"--pid-file={files.pid}" in cmd:
            return pid
        return None

    async def ensure(self, place: Place, spec: DhcpSpec, interface: str, metadata: bool) -> None:
        files = self.files(spec.network.id)
        files.dir.mkdir(parents=True, exist_ok=True)
        files.dir.chmod(0o755)
        hosts_text, dns_text = hosts(spec, self.domain)
        changed = _write(files.hosts, hosts_text)
        changed |= _write(files.addn_hosts, dns_text)
        changed |= _write(files.opts, options(spec, metadata))
        if not files.leases.exists():
            files.leases.touch(0o644)
        user = "nobody" if _reachable_by_others(files.dir) else "root"
        want = argv(spec, interface, files, self.domain, user)
        pid = self.pid(spec.network.id)
        if taken_leases(files.leases.read_text(), hosts_text):
            # dnsmasq holds its leases in memory and writes them out: stop
            # it, drop the leases of addresses given to other ports, start it.
            if pid is not None:
                log.info("restarting dnsmasq of network %s (addresses leased to ports "
                         "that are gone)", spec.network.id)  # fmt: skip
                await self._stop(pid)
                pid = None
            taken = set(taken_leases(files.leases.read_text(), hosts_text))
            kept = [ln for ln in files.leases.read_text().splitlines() if ln not in taken]
            _write(files.leases, "".join(f"{ln}\n" for ln in kept))
        if pid is not None and _cmdline(pid) == want:
            if changed:
                os.kill(pid, signal.SIGHUP)  # rereads the hosts and options files
            return
        if pid is not None:
            log.info("restarting dnsmasq of network %s (its settings changed)", spec.network.id)
            await self._stop(pid)
        await run(place.exec(*want))

    async def stop(self, network_id: str) -> None:
        pid = self.pid(network_id)
        if pid is not None:
            await self._stop(pid)

    async def _stop(self, pid: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        for _ in range(100):
            if _cmdline(pid) is None:
                return
            await asyncio.sleep(0.05)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
