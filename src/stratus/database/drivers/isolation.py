"""What each database server runs inside, on Linux: a network namespace of
its own (the network agent plugs the instance's port into it), a cgroup
holding the flavor's memory and CPU (v1 controllers, as on these machines,
or v2 where it has them), an unprivileged system user, and its data on the
instance's block device (ext4, mounted here)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import pwd
import shutil
import signal
from pathlib import Path

from stratus.database.drivers.base import DriverError, Place, ServerSpec
from stratus.database.drivers.process import run

log = logging.getLogger(__name__)

CGROUP_ROOT = Path("/sys/fs/cgroup")
GROUP = "stratus-database"
NETNS_PREFIX = "sdb-"
PERIOD_US = 100_000
RUN_ROOT = Path("/run/stratus-database")


def netns_name(instance_id: str) -> str:
    return f"{NETNS_PREFIX}{instance_id[:12]}"


def user_name(instance_id: str) -> str:
    return f"sdb-{instance_id[:12]}"


class Cgroups:
    """The instance's cgroup under each controller it needs, in the group of
    its cloud (``scope``: several clouds may share a machine)."""

    def __init__(self, scope: str = "", root: Path = CGROUP_ROOT):
        self.root = root
        self.scope = scope
        self.v2 = "memory" in (root / "cgroup.controllers").read_text().split() if (
            root / "cgroup.controllers"
        ).exists() else False  # fmt: skip

    def dirs(self, instance_id: str) -> list[Path]:
        if self.v2:
            return [self.root / GROUP / self.scope / instance_id]
        return [self.root / c / GROUP / self.scope / instance_id for c in ("memory", "cpu")]

    def procs(self, instance_id: str) -> list[Path]:
        return [d / "cgroup.procs" for d in self.dirs(instance_id)]

    def ensure(self, instance_id: str, memory_mb: int, vcpus: int) -> None:
        for d in self.dirs(instance_id):
            d.mkdir(parents=True, exist_ok=True)
        self.apply(instance_id, memory_mb, vcpus)

    def apply(self, instance_id: str, memory_mb: int, vcpus: int) -> None:
        memory = str(memory_mb * 2**20)
        quota = str(max(1, vcpus) * PERIOD_US)
        if self.v2:
            d = self.dirs(instance_id)[0]
            (d / "memory.max").write_text(memory)
            (d / "cpu.max").write_text(f"{quota} {PERIOD_US}")
            return
        mem, cpu = self.dirs(instance_id)
        (mem / "memory.limit_in_bytes").write_text(memory)
        (cpu / "cpu.cfs_period_us").write_text(str(PERIOD_US))
        (cpu / "cpu.cfs_quota_us").write_text(quota)

    def limits(self, instance_id: str) -> tuple[int, int]:
        """(memory bytes, CPU quota in microseconds per period) as set."""
        if self.v2:
            d = self.dirs(instance_id)[0]
            return int((d / "memory.max").read_text()), int((d / "cpu.max").read_text().split()[0])
        mem, cpu = self.dirs(instance_id)
        return (int((mem / "memory.limit_in_bytes").read_text()),
                int((cpu / "cpu.cfs_quota_us").read_text()))  # fmt: skip

    def kill_all(self, instance_id: str) -> None:
        for path in self.procs(instance_id):
            with contextlib.suppress(FileNotFoundError):
                for pid in path.read_text().split():
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(int(pid), signal.SIGKILL)

    def empty(self, instance_id: str) -> bool:
        for path in self.procs(instance_id):
            with contextlib.suppress(FileNotFoundError):
                if path.read_text().split():
                    return False
        return True

    def remove(self, instance_id: str) -> bool:
        gone = True
        for d in self.dirs(instance_id):
            try:
                d.rmdir()
            except FileNotFoundError:
                pass
            except OSError:
                gone = False
        return gone

    def present(self) -> set[str]:
        out: set[str] = set()
        for d in self.dirs("x"):
            parent = d.parent
            if parent.is_dir():
                out |= {p.name for p in parent.iterdir() if p.is_dir()}
        return out


def _mounted(path: Path) -> str | None:
    """The device mounted on ``path``, if any."""
    target = str(path)
    for line in Path("/proc/self/mounts").read_text().splitlines():
        fields = line.split()
        if len(fields) > 1 and fields[1] == target:
            return fields[0]
    return None


def scope_of(state: Path) -> str:
    """A short name for one cloud's database agent on this machine."""
    return hashlib.sha256(str(state.resolve()).encode()).hexdigest()[:12]


class LinuxIsolation:
    """Mount points, sockets and logs live in ``RUN_ROOT/<scope>``, outside
    the data folder: the servers' users must reach them, and a data folder
    may be private to root (0700)."""

    def __init__(self, state: Path):
        self.scope = scope_of(state)
        self.root = RUN_ROOT / self.scope
        self.cgroups = Cgroups(self.scope)

    def _dir(self, instance_id: str) -> Path:
        return self.root / instance_id

    async def _user(self, name: str) -> tuple[int, int]:
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            await run(["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent",
                       "--shell", "/usr/sbin/nologin", "--user-group", name])  # fmt: skip
            entry = pwd.getpwnam(name)
        return entry.pw_uid, entry.pw_gid

    async def _shared_root(self) -> None:
        """This cloud's folder (``RUN_ROOT/<scope>``) a shared mount of its
        own.  A process started by ``ip netns exec`` (any, on this machine)
        gets a copy of the mount table; where the root is private, that copy
        keeps every volume mounted after our umount, so its loop device can
        never be let go (a volume resize then found the old one, busy).
        Mounted under a shared mount, umounts reach those copies (``ip netns
        exec`` makes them its slaves).  A folder that already holds mounts
        (instances of an older version) is left as it is: a bind over it
        would hide them."""
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
        root = str(self.root)
        if any(line.split()[4] == root and "shared:" in line for line in lines):
            return
        if any(line.split()[4].startswith(root + "/") for line in lines):
            log.warning("%s holds mounts already: not made a shared mount (volumes mounted "
                        "there may stay held by other namespaces)", root)  # fmt: skip
            return
        if _mounted(self.root) is None:
            await run(["mount", "--bind", root, root])
        await run(["mount", "--make-shared", root])

    async def ensure(self, spec: ServerSpec, device: Path | None) -> Place:
        iid = spec.instance_id
        base = self._dir(iid)
        mnt, rundir = base / "volume", base / "run"
        for d in (mnt, rundir):
            d.mkdir(parents=True, exist_ok=True)
        for d in (RUN_ROOT, self.root, base):
            d.chmod(0o711)
        if device is not None:
            await self._shared_root()
        uid, gid = await self._user(user_name(iid))
        ns = netns_name(iid)
        if not Path(f"/run/netns/{ns}").exists():
            await run(["ip", "netns", "add", ns])
        await run(["ip", "-n", ns, "link", "set", "lo", "up"])
        self.cgroups.ensure(iid, spec.memory_mb, spec.vcpus)
        await self._filter(ns, spec)
        if device is not None and _mounted(mnt) is None:
            probe = await run(["blkid", "-p", "-o", "value", "-s", "TYPE", str(device)],
                              check=False)  # fmt: skip
            if not probe.strip():
                await run(["mkfs.ext4", "-q", "-F", "-m", "0", "-L", iid[:16], str(device)])
            await run(["mount", "-o", "noatime", str(device), str(mnt)])
        data = mnt / "data"
        data.mkdir(exist_ok=True)
        os.chown(data, uid, gid)
        data.chmod(0o700)
        os.chown(rundir, uid, gid)
        rundir.chmod(0o700)
        log_file = base / "server.log"
        log_file.touch(exist_ok=True)
        os.chown(log_file, uid, gid)
        return Place(iid, ns, user_name(iid), uid, gid, iid, data, rundir, log_file)

    async def _filter(self, ns: str, spec: ServerSpec) -> None:
        """With ``allowed_cidrs``, only those ranges reach the server's port
        (an nftables table in the instance's namespace, made anew each time)."""
        v4 = [c for c in spec.allowed_cidrs if ":" not in c]
        v6 = [c for c in spec.allowed_cidrs if ":" in c]
        lines = ["table inet stratus_database", "delete table inet stratus_database",
                 "table inet stratus_database {", " chain input {",
                 "  type filter hook input priority 0; policy accept;"]  # fmt: skip
        if spec.allowed_cidrs:
            if v4:
                lines.append(f"  tcp dport {spec.port} ip saddr {{ {', '.join(v4)} }} accept")
            if v6:
                lines.append(f"  tcp dport {spec.port} ip6 saddr {{ {', '.join(v6)} }} accept")
            lines.append(f"  tcp dport {spec.port} drop")
        lines += [" }", "}"]
        await run(["ip", "netns", "exec", ns, "nft", "-f", "-"], stdin="\n".join(lines).encode())

    async def set_limits(self, place: Place, spec: ServerSpec) -> None:
        self.cgroups.apply(place.instance_id, spec.memory_mb, spec.vcpus)

    async def grow(self, place: Place, device: Path) -> None:
        """Offline (online growth is refused on these loop-over-FUSE devices):
        the volume is not mounted when this runs."""
        if _mounted(self._dir(place.instance_id) / "volume") is not None:
            raise DriverError("the volume must be unmounted to grow its filesystem")
        await run(["e2fsck", "-f", "-y", str(device)], check=False)
        await run(["resize2fs", str(device)])

    async def unmount(self, instance_id: str) -> None:
        """Every process of the instance gone first (its server was stopped):
        a straggler keeps a copy of the mount in the mount namespace ``ip
        netns exec`` gave it, which holds the device after the umount here."""
        for _ in range(100):
            if self.cgroups.empty(instance_id):
                break
            self.cgroups.kill_all(instance_id)
            await asyncio.sleep(0.05)
        mnt = self._dir(instance_id) / "volume"
        for _ in range(50):
            if _mounted(mnt) is None:
                return
            await run(["umount", str(mnt)], check=False)
            if _mounted(mnt) is not None:
                self.cgroups.kill_all(instance_id)
                await asyncio.sleep(0.1)
        raise DriverError(f"the volume of instance {instance_id} is busy and stays mounted")

    async def remove(self, instance_id: str) -> None:
        for _ in range(100):  # every process of the instance gone, then the rest
            self.cgroups.kill_all(instance_id)
            if self.cgroups.empty(instance_id):
                break
            await asyncio.sleep(0.05)
        base = self._dir(instance_id)
        await self.unmount(instance_id)
        self.cgroups.remove(instance_id)
        for ns in {netns_name(instance_id)}:
            if Path(f"/run/netns/{ns}").exists():
                await run(["ip", "netns", "delete", ns], check=False)
        with contextlib.suppress(KeyError):
            pwd.getpwnam(user_name(instance_id))
            await run(["userdel", user_name(instance_id)], check=False)
        shutil.rmtree(base, ignore_errors=True)
        if _mounted(self.root) is not None and not any(self.root.iterdir()):
            await run(["umount", str(self.root)], check=False)  # the shared bind, last

    async def present(self) -> set[str]:
        ids = {p.name for p in self.root.iterdir()} if self.root.is_dir() else set()
        return ids | self.cgroups.present()

    def used_gb(self, place: Place) -> float | None:
        try:
            st = os.statvfs(place.data_dir)
        except OSError:
            return None
        return (st.f_blocks - st.f_bfree) * st.f_frsize / 2**30
