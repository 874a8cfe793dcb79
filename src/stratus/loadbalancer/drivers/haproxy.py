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
    ListenerStats,
    LoadBalancerSpec,
    ServerHealth,
)
from stratus.loadbalancer.drivers.haproxy_config import max_connections, render

log = logging.getLogger(__name__)

NETNS_PREFIX = "lb-"
VIP_WAIT = 30.0  # seconds to wait for the network agent to plug the VIP
SETSID_WAIT = 1.0  # seconds to wait for a started HAProxy's session of its own
PING_SCRIPT = '#!/bin/sh\n# HAProxy external check: ARGS are proxy addr/port, server addr/port\nexec ping -c 1 -W 1 "$3" >/dev/null 2>&1\n'


def netns_name(lb_id: str) -> str:
    return f"{NETNS_PREFIX}{lb_id}"


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
