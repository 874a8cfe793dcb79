"""A volume served to other hosts over iSCSI: the userspace target tgt
(``tgtd``, driven with ``tgtadm``) serves the volume's raw file as LUN 1
of a target of its own (``iqn.2010-10.org.openstack:volume-<id>``, as
Cinder's tgt helper names it), and the consumer's QEMU opens it with its
own iSCSI client (these machines have no kernel initiator).

One ``tgtd`` per volume agent serves all its targets on one portal
(``listen:port``).  It never meets a system tgt: it runs in a mount
namespace of its own where the agent's ``run/`` folder is bind-mounted over
``/var/run/tgtd``, so its control socket and lock are files under the
agent's data folder, and ``tgtadm`` reaches it there (``TGT_IPC_SOCKET``).

Each consumer (a ``Member``: one per attachment) is a CHAP account bound to
the volume's target: ``identity`` the user name, ``key`` the secret.  A
member added or removed is an account made and bound, or unbound and
deleted; the others' sessions go on.  A volume's folder ``vols/<id>/``
holds ``export.json`` (tid, IQN, file) and ``keys`` (mode 0600, one
``user:secret`` a line: what to make again when ``tgtd`` died).

``tgtd`` keeps its targets in memory: it outlives the agent (a running
guest keeps its disk while the agent restarts), and when it died the
targets are made again from the folders by the agent's next pass
(``running`` names only the volumes ``tgtd`` serves now)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import secrets
import shutil
import signal
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from stratus.common.pidfiles import daemon_pid
from stratus.volume.drivers.base import Connection, DriverError
from stratus.volume.drivers.nbd_export import Member, read_keys, write_keys

log = logging.getLogger(__name__)

IQN_PREFIX = "iqn.2010-10.org.openstack:"
LUN = 1
CONTROL_PORT = 0  # the socket is private to this tgtd: its number does not matter
ADMIN_TIMEOUT = 10.0
START_TIMEOUT = 10.0


def target_iqn(volume_id: str) -> str:
    return f"{IQN_PREFIX}volume-{volume_id}"


@dataclass(frozen=True)
class ExportedTarget:
    volume_id: str
    host: str
    port: int
    iqn: str
    user: str
    secret: str

    def connection(self) -> Connection:
        """Cinder's ``iscsi`` connection properties."""
        return Connection(
            "iscsi",
            {
                "target_discovered": False,
                "target_portal": f"{self.host}:{self.port}",
                "target_iqn": self.iqn,
                "target_lun": LUN,
                "auth_method": "CHAP",
                "auth_username": self.user,
                "auth_password": self.secret,
                "volume_id": self.volume_id,
            },
        )


def admin_args(op: str, mode: str, **params: str | int) -> list[str]:
    """A ``tgtadm`` command line (after the binary) for this agent's tgtd."""
    args = ["-C", str(CONTROL_PORT), "--lld", "iscsi", "--op", op, "--mode", mode]
    names = {"tid": "--tid", "lun": "--lun", "iqn": "--targetname", "user": "--user",
             "password": "--password", "backing": "--backing-store", "bstype": "--bstype",
             "address": "--initiator-address", "force": "--force"}  # fmt: skip
    for key, value in params.items():
        args += [names[key], str(value)] if key != "force" else ["--force"]
    return args


class Target(NamedTuple):
    tid: int
    accounts: set[str]  # the CHAP accounts bound to it
    complete: bool  # it has the volume's LUN and admits initiators


def parse_targets(text: str) -> dict[str, Target]:
    """``--op show --mode target``: each target's IQN with its tid, the
    CHAP accounts bound to it, and whether it is complete (the volume's LUN
    and an ACL), which a pass that failed or died midway leaves it not."""
    found: dict[str, tuple[int, set[str], set[str]]] = {}
    section = last = ""
    for line in text.splitlines():
        head = re.match(r"Target (\d+): (\S+)", line)
        depth = len(line) - len(line.lstrip(" "))
        if head:
            last = head.group(2)
            found[last] = (int(head.group(1)), set(), set())
        elif depth == 4:
            section = line.strip()
        elif depth == 8 and found and section == "Account information:":
            found[last][1].add(line.strip())
        elif depth == 8 and found and section in ("LUN information:", "ACL information:"):
            found[last][2].add(line.strip())
    return {
        iqn: Target(tid, accounts, f"LUN: {LUN}" in other and "ALL" in other)
        for iqn, (tid, accounts, other) in found.items()
    }


class TgtExports:
    """The iSCSI targets of one volume host: one tgtd, a target per volume."""

    protocol = "iscsi"

    def __init__(
        self,
        root: Path,
        *,
        listen: str = "127.0.0.1",
        advertise: str | None = None,
        port: int = 3260,
        tgtd: str = "tgtd",
        tgtadm: str = "tgtadm",
    ):
        self.root = root.absolute()
        self.listen = listen
        self.advertise = advertise or listen
        self.portal_port = port
        self.tgtd = tgtd
        self.tgtadm = tgtadm
        self._lock = asyncio.Lock()
        self._served: list[str] = []  # the volumes tgtd served at the last look

    # -- the daemon -------------------------------------------------------
    @property
    def run(self) -> Path:
        return self.root / "run"

    def _pid(self) -> int | None:
        return daemon_pid(self.root / "tgtd.pid")

    async def admin(self, op: str, mode: str, **params: str | int) -> str:
        """Run ``tgtadm``: its output (DriverError when it fails)."""
        env = {**os.environ, "TGT_IPC_SOCKET": "socket"}  # relative: the path stays short
        process = await asyncio.create_subprocess_exec(
            self.tgtadm, *admin_args(op, mode, **params), cwd=self.run, env=env,
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        try:
            out, err = await asyncio.wait_for(process.communicate(), ADMIN_TIMEOUT)
        except TimeoutError as exc:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
            raise DriverError(f"tgtadm --op {op} --mode {mode} did not answer") from exc
        if process.returncode != 0:
            raise DriverError(
                f"tgtadm --op {op} --mode {mode}: {err.decode(errors='replace').strip()}"
            )
        return out.decode(errors="replace")

    async def _ensure_daemon(self) -> None:
        if self._pid() is not None:
            return
        self.run.mkdir(parents=True, exist_ok=True, mode=0o700)
        for stale in self.run.iterdir():
            stale.unlink(missing_ok=True)
        Path("/var/run/tgtd").mkdir(parents=True, exist_ok=True)  # the mount point
        cmd = [
            "unshare", "--mount", "--propagation", "private", "sh", "-c",
            'mount --bind "$1" /var/run/tgtd && shift && exec "$@"', "sh", str(self.run),
            self.tgtd, "-C", str(CONTROL_PORT), "-p", str(self.root / "tgtd.pid"),
            "--iscsi", f"portal={self.listen}:{self.portal_port}",
        ]  # fmt: skip
        with open(self.root / "tgtd.log", "ab") as log:
            process = await asyncio.create_subprocess_exec(
                *cmd, stdin=asyncio.subprocess.DEVNULL, stdout=log,
                stderr=asyncio.subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        try:
            await asyncio.wait_for(process.wait(), START_TIMEOUT)
        except TimeoutError as exc:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            raise DriverError("tgtd did not start") from exc
        deadline = asyncio.get_running_loop().time() + START_TIMEOUT
        while True:
            try:
                await self.admin("show", "sys")
                return
            except DriverError as exc:
                # (its pid file comes a moment after the parent's exit)
                if asyncio.get_running_loop().time() > deadline:
                    text = (self.root / "tgtd.log").read_text(errors="replace")[-400:]
                    raise DriverError(f"tgtd did not start: {exc}; {text.strip()}") from exc
            await asyncio.sleep(0.05)

    async def _targets(self) -> dict[str, Target]:
        """tgtd's targets (none when it is not running; a DriverError when
        it runs and cannot say)."""
        if self._pid() is None:
            return {}
        return parse_targets(await self.admin("show", "target"))

    async def shutdown(self) -> None:
        """End tgtd (every target goes with it)."""
        pid = self._pid()
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            for _ in range(200):
                if self._pid() is None:
                    break
                await asyncio.sleep(0.02)

    # -- the volumes ------------------------------------------------------
    def folder(self, volume_id: str) -> Path:
        return self.root / "vols" / volume_id

    def keys(self, volume_id: str) -> dict[str, str]:
        return read_keys(self.folder(volume_id) / "keys")

    def members(self, volume_id: str) -> set[str]:
        return set(self.keys(volume_id))

    def new_member(self, name: str, writable: bool = True, key: str | None = None) -> Member:
        return Member(name, f"stratus-{name}", key or secrets.token_hex(16), writable)

    def member_of(self, name: str, data: dict[str, Any], writable: bool) -> Member | None:
        if not data.get("auth_password"):
            return None
        return Member(
            name, str(data.get("auth_username") or ""), str(data["auth_password"]), writable
        )

    def identity_of(self, data: dict[str, Any]) -> str:
        return str(data.get("auth_username") or "")

    def exported(self, volume_id: str, member: Member) -> ExportedTarget:
        return ExportedTarget(volume_id, self.advertise, self.portal_port, target_iqn(volume_id),
                              member.identity, member.key)  # fmt: skip

    async def serve(
        self, volume_id: str, path: Path, fmt: str, members: Sequence[Member],
        port: int | None = None,
    ) -> int:  # fmt: skip
        """Make the volume's target admit exactly ``members`` (none: remove
        it), starting tgtd and making the target when missing.  Returns the
        portal's port."""
        if not members:
            await self.stop(volume_id)
            return 0
        if fmt != "raw":
            raise DriverError(
                f"volume {volume_id} is a {fmt} file: the iSCSI target serves raw volumes "
                "only (set [volume] file_format = \"raw\")"
            )  # fmt: skip
        async with self._lock:
            await self._ensure_daemon()
            folder = self.folder(volume_id)
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            write_keys(folder / "keys", members)
            targets = await self._targets()
            iqn = target_iqn(volume_id)
            wanted = {m.identity: m for m in members}
            found = targets.get(iqn)
            if found is not None and not found.complete:
                # half made by a pass that failed or died: made again
                await self.admin("delete", "target", tid=found.tid, force="")
                found = None
            if found is None:
                used = {t.tid for t in targets.values()}
                tid = next(n for n in range(1, len(used) + 2) if n not in used)
                meta = {"tid": tid, "iqn": iqn, "path": str(path.absolute())}
                (folder / "export.json").write_text(json.dumps(meta))
                await self._make_target(tid, iqn, path, wanted)
                return self.portal_port
            # New accounts before the old go: a target with no account
            # bound would admit initiators without CHAP.
            for user in sorted(set(wanted) - found.accounts):
                await self._add_account(found.tid, wanted[user])
            for user in sorted(found.accounts - set(wanted)):
                await self._drop_account(found.tid, user)
            return self.portal_port

    async def _make_target(self, tid: int, iqn: str, path: Path, wanted: dict[str, Member]) -> None:
        """The target with its LUN and its members' CHAP accounts, and only
        then open to initiators (tgt asks for CHAP only of a target with an
        account bound); anything failing midway takes the target away."""
        await self.admin("new", "target", tid=tid, iqn=iqn)
        try:
            await self.admin("new", "logicalunit", tid=tid, lun=LUN,
                             backing=str(path.absolute()), bstype="rdwr")  # fmt: skip
            for user in sorted(wanted):
                await self._add_account(tid, wanted[user])
            await self.admin("bind", "target", tid=tid, address="ALL")
        except DriverError:
            with contextlib.suppress(DriverError):
                await self.admin("delete", "target", tid=tid, force="")
            raise

    async def _add_account(self, tid: int, member: Member) -> None:
        with contextlib.suppress(DriverError):  # a stale one of a dead pass
            await self.admin("delete", "account", user=member.identity)
        await self.admin("new", "account", user=member.identity, password=member.key)
        await self.admin("bind", "account", tid=tid, user=member.identity)

    async def _drop_account(self, tid: int, user: str) -> None:
        with contextlib.suppress(DriverError):
            await self.admin("unbind", "account", tid=tid, user=user)
        with contextlib.suppress(DriverError):
            await self.admin("delete", "account", user=user)

    async def halt(self, volume_id: str) -> None:
        """Nothing to stop: tgt holds no lock on the file."""

    async def stop(self, volume_id: str) -> None:
        """Remove the volume's target (its sessions cut), its accounts and
        its folder (a missing one is not an error)."""
        async with self._lock:
            # (a tgtd that cannot list its targets raises: the folder stays,
            # so the export is stopped again at the next pass)
            targets = await self._targets()
            found = targets.get(target_iqn(volume_id))
            if found is not None:
                for user in sorted(found.accounts):
                    await self._drop_account(found.tid, user)
                await self.admin("delete", "target", tid=found.tid, force="")
            await asyncio.to_thread(shutil.rmtree, self.folder(volume_id), True)

    def folders(self) -> list[str]:
        vols = self.root / "vols"
        if not vols.is_dir():
            return []
        return sorted(p.name for p in vols.iterdir() if p.is_dir())

    def running(self) -> list[str]:
        """The volumes tgtd served at the last ``served``."""
        return list(self._served)

    async def served(self) -> list[str]:
        """The volumes whose target tgtd has now (none when it died)."""
        try:
            targets = await self._targets()
        except DriverError as exc:  # asked again at the next pass
            log.warning("volume: tgtd could not list its targets: %s", exc)
            return list(self._served)
        self._served = [x for x in self.folders() if target_iqn(x) in targets]
        return list(self._served)
