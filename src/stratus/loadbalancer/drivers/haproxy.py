"""HAProxy from Debian as the data plane: one process per load balancer, in
a network namespace (``lb-<id>``) that holds its VIP port, which the
network agent plugs there (a namespace port).

Files live in ``STATE_DIR/<lb id>/`` (``haproxy.cfg``, ``haproxy.pid``);
the stats socket, whose path must be short, in a run folder of this state
folder's own.  A change is a seamless reload: a new process takes the
listening sockets from the old one over the stats socket (``-x``, the
socket has ``expose-fd listeners``) and the old one finishes its
connections (``-sf``).  The agent owns only the load balancers that have a
folder in its state folder: another cloud's namespaces on the same machine
are never touched."""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import logging
import os
import shutil
import signal
from pathlib import Path

from stratus.loadbalancer.drivers.base import (
    DataPlaneError,
    Health,
    ListenerSpec,
    ListenerStats,
    LoadBalancerSpec,
    PolicySpec,
    PoolSpec,
    RuleSpec,
    ServerHealth,
)

log = logging.getLogger(__name__)

NETNS_PREFIX = "lb-"
VIP_WAIT = 30.0  # seconds to wait for the network agent to plug the VIP
SETSID_WAIT = 1.0  # seconds to wait for a started HAProxy's session of its own
PING_SCRIPT = '#!/bin/sh\n# HAProxy external check: ARGS are proxy addr/port, server addr/port\nexec ping -c 1 -W 1 "$3" >/dev/null 2>&1\n'
_ALGORITHMS = {"ROUND_ROBIN": "roundrobin", "LEAST_CONNECTIONS": "leastconn", "SOURCE_IP": "source"}


def netns_name(lb_id: str) -> str:
    return f"{NETNS_PREFIX}{lb_id}"


# -- configuration ----------------------------------------------------------------


def _ms(value: int) -> str:
    return f"{max(int(value), 0)}ms"


def _codes(expected: str) -> str:
    """Octavia's expected codes ("200", "200,202", "200-204") as HAProxy's
    ``http-check expect`` argument."""
    expected = expected.strip()
    if expected.isdigit():
        return f"status {expected}"
    codes: list[str] = []
    for part in expected.split(","):
        if "-" in part:
            low, high = (int(x) for x in part.split("-", 1))
            codes.extend(str(c) for c in range(low, high + 1))
        else:
            codes.append(part.strip())
    return f"rstatus ^({'|'.join(codes)})$"


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace(" ", "\\ ").replace('"', '\\"')


def _acl(rule: RuleSpec) -> str:
    """One L7 rule as an HAProxy ACL expression (without its name)."""
    fetch = {
        "PATH": "path",
        "HOST_NAME": "req.hdr(host),field(1,:)",
        "HEADER": f"req.hdr({rule.key})",
        "COOKIE": f"req.cook({rule.key})",
        "FILE_TYPE": "path,field(-1,.)",
    }[rule.type]
    match = {
        "REGEX": "-m reg",
        "STARTS_WITH": "-m beg",
        "ENDS_WITH": "-m end",
        "CONTAINS": "-m sub",
        "EQUAL_TO": "-m str",
    }[rule.compare_type]
    return f"{fetch} {match} {_quote(rule.value)}"


def _policy_lines(policy: PolicySpec, pools: set[str]) -> list[str]:
    names = []
    lines = []
    for rule in policy.rules:
        name = f"r_{rule.id}"
        lines.append(f"    acl {name} {_acl(rule)}")
        names.append(("!" if rule.invert else "") + name)
    if not names:
        return []  # Octavia: a policy without rules matches nothing
    cond = " ".join(names)
    if policy.action == "REJECT":
        lines.append(f"    http-request deny if {cond}")
    elif policy.action == "REDIRECT_TO_URL" and policy.redirect_url:
        code = policy.redirect_http_code or 302
        lines.append(f"    redirect location {_quote(policy.redirect_url)} code {code} if {cond}")
    elif policy.action == "REDIRECT_PREFIX" and policy.redirect_prefix:
        code = policy.redirect_http_code or 302
        lines.append(f"    redirect prefix {_quote(policy.redirect_prefix)} code {code} if {cond}")
    elif policy.action == "REDIRECT_TO_POOL" and policy.redirect_pool_id in pools:
        lines.append(f"    use_backend {policy.redirect_pool_id} if {cond}")
    return lines


def _frontend(spec: LoadBalancerSpec, listener: ListenerSpec, pools: set[str]) -> list[str]:
    http = listener.protocol == "HTTP"
    lines = [
        f"frontend {listener.id}",
        f"    bind {spec.vip_address}:{listener.protocol_port}",
        f"    mode {'http' if http else 'tcp'}",
        f"    timeout client {_ms(listener.timeout_client_data)}",
    ]
    if listener.connection_limit >= 0:
        lines.append(f"    maxconn {listener.connection_limit}")
    if listener.allowed_cidrs:
        lines.append(f"    acl allowed src {' '.join(listener.allowed_cidrs)}")
        lines.append("    tcp-request connection reject unless allowed")
    if http:
        # Soft-stopped by a reload, an old process closes a client's idle
        # keep-alive connection only after answering on it: no request lost.
        lines.append("    option idle-close-on-response")
        headers = {k.lower(): str(v).lower() for k, v in listener.insert_headers.items()}
        if headers.get("x-forwarded-for") == "true":
            lines.append("    option forwardfor")
        if headers.get("x-forwarded-port") == "true":
            lines.append("    http-request set-header X-Forwarded-Port %[dst_port]")
        if headers.get("x-forwarded-proto") == "true":
            lines.append("    http-request set-header X-Forwarded-Proto http")
        for policy in sorted(listener.policies, key=lambda p: p.position):
            lines.extend(_policy_lines(policy, pools))
    elif listener.timeout_tcp_inspect:
        lines.append(f"    tcp-request inspect-delay {_ms(listener.timeout_tcp_inspect)}")
    if listener.default_pool_id in pools:
        lines.append(f"    default_backend {listener.default_pool_id}")
    if not listener.admin_state_up:
        lines.append("    disabled")
    return lines


def _backend(pool: PoolSpec, ping_script: str) -> list[str]:
    http = pool.protocol == "HTTP"
    lines = [
        f"backend {pool.id}",
        f"    mode {'http' if http else 'tcp'}",
        f"    balance {_ALGORITHMS.get(pool.lb_algorithm, 'roundrobin')}",
        f"    timeout connect {_ms(pool.member_connect_timeout)}",
        f"    timeout server {_ms(pool.member_data_timeout)}",
    ]
    if http:
        lines.append("    http-reuse always")
    persistence = pool.session_persistence or {}
    kind = persistence.get("type")
    cookie = False
    if kind == "SOURCE_IP":
        lines += ["    stick-table type ip size 10k expire 30m", "    stick on src"]
    elif kind == "HTTP_COOKIE" and http:
        lines.append("    cookie SRV insert indirect nocache")
        cookie = True
    elif kind == "APP_COOKIE" and http and persistence.get("cookie_name"):
        name = persistence["cookie_name"]
        lines += [
            "    stick-table type string len 64 size 10k expire 30m",
            f"    stick store-response res.cook({name})",
            f"    stick match req.cook({name})",
        ]
    monitor = pool.monitor if pool.monitor and pool.monitor.admin_state_up else None
    check = ""
    if monitor is not None:
        lines.append(f"    timeout check {monitor.timeout}s")
        if monitor.type in ("HTTP", "HTTPS"):
            lines.append(f"    option httpchk {monitor.http_method} {monitor.url_path}")
            lines.append(f"    http-check expect {_codes(monitor.expected_codes)}")
        elif monitor.type == "PING":
            lines += ["    option external-check", f"    external-check command {ping_script}"]
        rise, fall = monitor.max_retries, monitor.max_retries_down
        check = f" check inter {monitor.delay}s fall {fall} rise {rise}"
        if monitor.type == "HTTPS":
            check += " check-ssl verify none"
    for member in pool.members:
        line = (
            f"    server {member.id} {member.address}:{member.protocol_port} weight {member.weight}"
        )
        if member.backup:
            line += " backup"
        if check:
            line += check
            if member.monitor_address:
                line += f" addr {member.monitor_address}"
            if member.monitor_port:
                line += f" port {member.monitor_port}"
        if cookie:
            line += f" cookie {member.id}"
        if not member.admin_state_up:
            line += " disabled"
        lines.append(line)
    return lines


def max_connections() -> int:
    """HAProxy's global maxconn: what the open files limit allows (each
    connection holds two descriptors), at most Octavia's 50000."""
    import resource

    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard == resource.RLIM_INFINITY:
        return 50000
    return max(256, min(50000, (hard - 200) // 2))


def render(
    spec: LoadBalancerSpec,
    socket_path: str,
    ping_script: str = "/bin/true",
    maxconn: int = 50000,
) -> str:
    """The HAProxy configuration of one load balancer."""
    pools = {p.id for p in spec.pools if p.admin_state_up}
    external = any(
        p.monitor is not None and p.monitor.type == "PING" for p in spec.pools if p.admin_state_up
    )
    out = [
        "# Rendered by the Stratus lb agent from the database: do not edit.",
        "global",
        f"    maxconn {maxconn}",
        f"    stats socket {socket_path} mode 600 level admin expose-fd listeners",
        "    hard-stop-after 60s",
        # One thread: on a small host the kernel's share of each proxied
        # request (two hops through the bridge) wants the other core.
        "    nbthread 1",
    ]
    if external:
        out += ["    external-check", "    insecure-fork-wanted"]
    out += [
        "",
        "defaults",
        "    retries 3",
        "    option redispatch",
        "    timeout connect 5s",
        "    timeout client 50s",
        "    timeout server 50s",
        "",
    ]
    if spec.admin_state_up:
        for listener in spec.listeners:
            out += _frontend(spec, listener, pools) + [""]
        for pool in spec.pools:
            if pool.admin_state_up:
                out += _backend(pool, ping_script) + [""]
    return "\n".join(out) + "\n"


# -- processes ----------------------------------------------------------------------


async def _run(*argv: str, check: bool = True) -> str:
    proc = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await proc.communicate()
    if check and proc.returncode != 0:
        raise DataPlaneError(f"{' '.join(argv)}: {err.decode(errors='replace').strip()}")
    return out.decode(errors="replace")


async def _daemon(log_path: Path, *argv: str) -> None:
    """Start a process that daemonizes (``haproxy -D``): its output goes to
    a file, never to a pipe the daemon would hold open."""
    with log_path.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=out
        )
        code = await proc.wait()
    if code != 0:
        text = log_path.read_text(errors="replace").strip()
        alerts = [line for line in text.splitlines() if "ALERT" in line] or [text]
        raise DataPlaneError(f"haproxy does not start: {' '.join(alerts)[-1500:]}")


async def _socket_command(path: str, command: str) -> str:
    reader, writer = await asyncio.wait_for(asyncio.open_unix_connection(path), 2.0)
    try:
        writer.write(command.encode() + b"\n")
        await writer.drain()
        return (await asyncio.wait_for(reader.read(), 5.0)).decode(errors="replace")
    finally:
        writer.close()


def _pid_alive(pid: int, cfg: Path) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return str(cfg).encode() in cmdline


class HAProxyDriver:
    def __init__(self, state_dir: Path, binary: str = "haproxy", nice: int = 0):
        self.state_dir = state_dir
        self.binary = shutil.which(binary) or binary
        # HAProxy's priority: its new processes (a reload's too) inherit it.
        self.nice = nice
        digest = hashlib.sha1(str(state_dir.resolve()).encode()).hexdigest()[:10]
        # Unix socket paths hold 107 bytes: a short folder of this state's own.
        self.run_dir = Path("/run/stratus") / f"lb-{digest}"
        self._locks: dict[str, asyncio.Lock] = {}

    def _dir(self, lb_id: str) -> Path:
        return self.state_dir / lb_id

    def socket_path(self, lb_id: str) -> str:
        return str(self.run_dir / f"{lb_id}.sock")

    def _lock(self, lb_id: str) -> asyncio.Lock:
        return self._locks.setdefault(lb_id, asyncio.Lock())

    def _pid(self, lb_id: str) -> int | None:
        folder = self._dir(lb_id)
        try:
            pid = int((folder / "haproxy.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None
        return pid if _pid_alive(pid, folder / "haproxy.cfg") else None

    async def _namespaces(self) -> set[str]:
        out = await _run("ip", "netns", "list", check=False)
        return {line.split()[0] for line in out.splitlines() if line.strip()}

    async def _wait_vip(self, ns: str, spec: LoadBalancerSpec) -> None:
        deadline = asyncio.get_running_loop().time() + VIP_WAIT
        while True:
            out = await _run("ip", "-n", ns, "-o", "addr", "show", check=False)
            if f" {spec.vip_address}/" in out:
                return
            if asyncio.get_running_loop().time() > deadline:
                raise DataPlaneError(
                    f"load balancer {spec.id}: its VIP {spec.vip_address} (port "
                    f"{spec.vip_port_id}) was not plugged into {ns} in {VIP_WAIT:.0f} s"
                )
            await asyncio.sleep(0.05)

    async def prepare(self, lb_id: str) -> str:
        # Its folder first: a namespace of this cloud's always has one.
        self._dir(lb_id).mkdir(parents=True, exist_ok=True)
        ns = netns_name(lb_id)
        if ns not in await self._namespaces():
            await _run("ip", "netns", "add", ns)
            await _run("ip", "-n", ns, "link", "set", "lo", "up")
        return ns

    async def stop(self, lb_id: str) -> None:
        async with self._lock(lb_id):
            await self._kill(lb_id)

    async def _kill(self, lb_id: str) -> None:
        pid = self._pid(lb_id)
        if pid is not None:
            os.kill(pid, signal.SIGKILL)
        ns = netns_name(lb_id)
        if ns in await self._namespaces():
            # Every process in it: old ones finishing their connections too.
            out = await _run("ip", "netns", "pids", ns, check=False)
            for word in out.split():
                try:
                    os.kill(int(word), signal.SIGKILL)
                except (ValueError, ProcessLookupError):
                    pass
        Path(self.socket_path(lb_id)).unlink(missing_ok=True)

    async def apply(self, spec: LoadBalancerSpec) -> None:
        async with self._lock(spec.id):
            folder = self._dir(spec.id)
            self.run_dir.mkdir(parents=True, exist_ok=True)
            ns = await self.prepare(spec.id)
            await self._wait_vip(ns, spec)
            ping = folder / "ping-check"
            if not ping.exists():
                ping.write_text(PING_SCRIPT)
                ping.chmod(0o755)
            cfg = folder / "haproxy.cfg"
            sock = self.socket_path(spec.id)
            text = render(spec, sock, str(ping), max_connections())
            new = folder / "haproxy.cfg.new"
            new.write_text(text)
            os.replace(new, cfg)
            pid = self._pid(spec.id)
            argv = ["ip", "netns", "exec", ns, "nice", "-n", str(self.nice), self.binary]
            argv += ["-D", "-f", str(cfg)]
            argv += ["-p", str(folder / "haproxy.pid")]
            if pid is not None:
                # Seamless: the listening sockets pass to the new process.
                argv += ["-x", sock, "-sf", str(pid)]
            else:
                Path(sock).unlink(missing_ok=True)
            await _daemon(folder / "haproxy.out", *argv)
            await self._renice_session(spec.id)

    async def _renice_session(self, lb_id: str) -> None:
        """HAProxy's scheduling group at ``nice`` too.  ``-D`` makes HAProxy a
        session of its own, and where the kernel groups tasks by session
        (autogroup, on in the kernels of these machines) a task's nice only
        weighs against its own session's: the group's nice is what counts
        against everything else on the host.  HAProxy's child calls setsid()
        after the fork, racing its parent's exit: until it has, its group
        is still the agent's, which must keep its own nice."""
        pid = self._pid(lb_id)
        if self.nice == 0 or pid is None:
            return
        deadline = asyncio.get_running_loop().time() + SETSID_WAIT
        while True:
            try:
                if os.getsid(pid) == pid:
                    break
            except ProcessLookupError:
                return
            if asyncio.get_running_loop().time() > deadline:
                log.warning("HAProxy %s (load balancer %s) is no session of its own: "
                            "its group's nice is left alone", pid, lb_id)  # fmt: skip
                return
            await asyncio.sleep(0.01)
        try:
            Path(f"/proc/{pid}/autogroup").write_text(str(self.nice))
        except OSError:  # no autogroup in this kernel: the process's nice alone counts
            pass

    async def remove(self, lb_id: str) -> None:
        async with self._lock(lb_id):
            await self._kill(lb_id)
            ns = netns_name(lb_id)
            if ns in await self._namespaces():
                await _run("ip", "netns", "delete", ns, check=False)
            shutil.rmtree(self._dir(lb_id), ignore_errors=True)
        self._locks.pop(lb_id, None)

    async def running(self) -> set[str]:
        if not self.state_dir.is_dir():
            return set()
        return {p.name for p in self.state_dir.iterdir() if p.is_dir()}

    async def health(self, lb_id: str) -> Health:
        if self._pid(lb_id) is None:
            return Health(running=False)
        try:
            text = await _socket_command(self.socket_path(lb_id), "show stat")
        except (OSError, TimeoutError):
            return Health(running=True)
        return parse_stats(text)


def parse_stats(text: str) -> Health:
    """HAProxy's ``show stat`` CSV as members' health and listeners' counters."""
    lines = text.strip().splitlines()
    if not lines or not lines[0].startswith("# "):
        return Health(running=True)
    rows = csv.DictReader(io.StringIO("\n".join([lines[0][2:], *lines[1:]])))
    servers: list[ServerHealth] = []
    listeners: list[ListenerStats] = []
    for row in rows:
        kind = row.get("svname", "")
        if kind == "FRONTEND":
            listeners.append(
                ListenerStats(
                    listener_id=row["pxname"],
                    active_connections=int(row.get("scur") or 0),
                    total_connections=int(row.get("stot") or 0),
                    bytes_in=int(row.get("bin") or 0),
                    bytes_out=int(row.get("bout") or 0),
                    request_errors=int(row.get("ereq") or 0),
                )
            )
        elif kind not in ("BACKEND", ""):
            status = (row.get("status") or "").split(" ")[0]
            checked = bool(row.get("check_status"))
            servers.append(ServerHealth(row["pxname"], kind, status, checked))
    return Health(running=True, servers=tuple(servers), listeners=tuple(listeners))
