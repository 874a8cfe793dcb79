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
one of the volume's targets: ``identity`` the user name, ``key`` the
secret.  A volume has up to two targets, one per access mode: the writable
members' (``...:volume-<id>``) and the read-only members'
(``...:volume-<id>-ro``, its LUN flagged ``readonly``: tgt refuses writes
and QEMU opens it read-only), so a read-only attachment stays read-only
beside a writable one.  A member added or removed is an account made and
bound, or unbound and deleted; the others' sessions go on.  A volume's
folder ``vols/<id>/`` holds ``export.json`` (the file) and ``keys`` (mode
0600, one ``user:secret`` a line: what to make again when ``tgtd`` died).

tgt reads a LUN's size when the LUN is made; a grown file (an extend while
attached) is shown by making the volume's targets again (``resized``):
their sessions are cut, and QEMU's iSCSI client logs in again (its I/O
waits meanwhile, never fails) and reads the new capacity at its
``block_resize``.

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
import secrets
import shutil
import signal
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stratus.common.pidfiles import daemon_pid
from stratus.volume.drivers import lock_holder
from stratus.volume.drivers.base import Connection, DriverError
from stratus.volume.drivers.nbd_export import (
    FORMAT,
    PROTOCOL,
    Member,
    make_room,
    read_keys,
    write_keys,
)
from stratus.volume.drivers.tgtadm import (
    CONTROL_PORT,
    LUN,
    RO_SUFFIX,
    Target,
    admin_args,
    parse_targets,
)

log = logging.getLogger(__name__)

IQN_PREFIX = "iqn.2010-10.org.openstack:"
ADMIN_TIMEOUT = 10.0
START_TIMEOUT = 10.0


def target_iqn(volume_id: str, writable: bool = True) -> str:
    return f"{IQN_PREFIX}volume-{volume_id}" + ("" if writable else RO_SUFFIX)


@dataclass(frozen=True)
class ExportedTarget:
    volume_id: str
    host: str
    port: int
    iqn: str
    user: str
    secret: str
    fmt: str = ""  # the file's bytes: the image format its consumer runs

    def connection(self) -> Connection:
        """Cinder's ``iscsi`` connection properties (with ``format`` when the
        LUN is a qcow2 file's bytes)."""
        data: dict[str, Any] = {
            "target_discovered": False,
            "target_portal": f"{self.host}:{self.port}",
            "target_iqn": self.iqn,
            "target_lun": LUN,
            "auth_method": "CHAP",
            "auth_username": self.user,
            "auth_password": self.secret,
            "volume_id": self.volume_id,
        }
        if self.fmt:
            data["format"] = self.fmt
        return Connection("iscsi", data)


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

    def _meta(self, volume_id: str) -> dict[str, Any]:
        try:
            meta = json.loads((self.folder(volume_id) / "export.json").read_text())
        except (OSError, ValueError):
            return {}
        return meta if isinstance(meta, dict) else {}

    def layer(self, volume_id: str) -> str:
        """``protocol`` when the LUN is a qcow2 file's bytes (its consumer
        runs the format), else ``format`` (a raw file: its bytes are the
        disk)."""
        return str(self._meta(volume_id).get("layer") or FORMAT)

    def _holder(self, volume_id: str) -> Path:
        return self.folder(volume_id) / "lock.pid"

    def locking(self, volume_id: str) -> bool:
        """Whether the image's lock is held for the export (tgt takes none:
        ``lock_holder`` does, for a LUN of a qcow2 file's bytes)."""
        return daemon_pid(self._holder(volume_id)) is not None

    def exported(self, volume_id: str, member: Member) -> ExportedTarget:
        """What a member's consumer logs in to: the target of its mode."""
        iqn = target_iqn(volume_id, member.writable)
        meta = self._meta(volume_id)
        fmt = str(meta.get("format") or "") if meta.get("layer") == PROTOCOL else ""
        return ExportedTarget(volume_id, self.advertise, self.portal_port, iqn, member.identity,
                              member.key, fmt)  # fmt: skip

    async def serve(
        self, volume_id: str, path: Path, fmt: str, members: Sequence[Member],
        port: int | None = None, *, layer: str = FORMAT, room: int = 0, locking: bool = True,
    ) -> int:  # fmt: skip
        """Make the volume's targets admit exactly ``members`` (none: remove
        them), the writable ones on its writable target and the read-only
        ones on its read-only target, starting tgtd and making a target when
        missing (and removing one its mode has no member of).  tgt serves
        the file's bytes: a raw file as the disk, a qcow2 one only as the
        ``protocol`` layer (its consumer runs the format; the file first
        made sparse up to ``room`` bytes, as the LUN's size is fixed when it
        is made), whose image lock a holder takes while ``locking`` (tgt
        takes none; off while a QEMU of this host has the file, as the NBD
        daemon's).  Returns the portal's port."""
        if not members:
            await self.stop(volume_id)
            return 0
        if fmt != "raw" and layer != PROTOCOL:
            raise DriverError(
                f"volume {volume_id} is a {fmt} file: the iSCSI target serves raw volumes "
                "only (set [volume] file_format = \"raw\")"
            )  # fmt: skip
        layer = PROTOCOL if fmt != "raw" else FORMAT  # a raw file's bytes are its disk
        async with self._lock:
            await self._ensure_daemon()
            folder = self.folder(volume_id)
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            write_keys(folder / "keys", members)
            meta = {"path": str(path.absolute()), "layer": layer, "format": fmt}
            (folder / "export.json").write_text(json.dumps(meta))
            targets = await self._targets()
            if layer == PROTOCOL and room and not any(
                target_iqn(volume_id, w) in targets for w in (True, False)
            ):  # (a LUN's size is read when it is made)
                await asyncio.to_thread(make_room, path, room)
            for writable in (True, False):
                wanted = {m.identity: m for m in members if m.writable == writable}
                await self._settle(targets, target_iqn(volume_id, writable), path, wanted)
            if layer == PROTOCOL and locking:
                await lock_holder.hold(path, self._holder(volume_id))
            else:
                await lock_holder.release(self._holder(volume_id))
            return self.portal_port

    async def _settle(
        self, targets: dict[str, Target], iqn: str, path: Path, wanted: dict[str, Member]
    ) -> None:
        """One of a volume's targets made to admit exactly ``wanted``
        (none: removed)."""
        found = targets.get(iqn)
        if found is not None and (not wanted or not found.complete):
            # not wanted, or half made by a pass that failed or died
            await self._remove(found)
            del targets[iqn]
            found = None
        if not wanted:
            return
        if found is None:
            used = {t.tid for t in targets.values()}
            tid = next(n for n in range(1, len(used) + 2) if n not in used)
            await self._make_target(tid, iqn, path, wanted)
            targets[iqn] = Target(tid, set(wanted), True)
            return
        # New accounts before the old go: a target with no account
        # bound would admit initiators without CHAP.
        for user in sorted(set(wanted) - found.accounts):
            await self._add_account(found.tid, wanted[user])
        for user in sorted(found.accounts - set(wanted)):
            await self._drop_account(found.tid, user)

    async def _remove(self, found: Target) -> None:
        for user in sorted(found.accounts):
            await self._drop_account(found.tid, user)
        await self.admin("delete", "target", tid=found.tid, force="")

    async def _make_target(self, tid: int, iqn: str, path: Path, wanted: dict[str, Member]) -> None:
        """The target with its LUN (read-only on a read-only target) and its
        members' CHAP accounts, and only then open to initiators (tgt asks
        for CHAP only of a target with an account bound); anything failing
        midway takes the target away."""
        await self.admin("new", "target", tid=tid, iqn=iqn)
        try:
            await self.admin("new", "logicalunit", tid=tid, lun=LUN,
                             backing=str(path.absolute()), bstype="rdwr")  # fmt: skip
            if iqn.endswith(RO_SUFFIX):  # (tgtadm takes it on an update only)
                await self.admin("update", "logicalunit", tid=tid, lun=LUN, params="readonly=1")
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

    async def resized(self, volume_id: str) -> None:
        """The volume's file grew: its targets made again with the same
        tids and accounts, so that their LUN has the new size (tgt reads a
        LUN's size when it makes it; ``--op update`` does not).  Their
        sessions are cut and QEMU's initiators log in again; a LUN removed
        and added under a live session would fail the I/O between."""
        async with self._lock:
            keys = self.keys(volume_id)
            try:
                path = Path(json.loads((self.folder(volume_id) / "export.json").read_text())["path"])
            except (OSError, ValueError, KeyError) as exc:
                raise DriverError(f"volume {volume_id} is not exported") from exc
            targets = await self._targets()
            for writable in (True, False):
                iqn = target_iqn(volume_id, writable)
                found = targets.get(iqn)
                if found is None:
                    continue
                wanted = {u: Member(u, u, keys[u], writable) for u in found.accounts if u in keys}
                if not wanted:  # never a target without its accounts (bound to ALL)
                    raise DriverError(f"volume {volume_id}: no key of target {iqn}'s accounts")
                await self.admin("delete", "target", tid=found.tid, force="")
                await self._make_target(found.tid, iqn, path, wanted)

    async def stop(self, volume_id: str) -> None:
        """Remove the volume's targets (their sessions cut), their accounts
        and its folder (a missing one is not an error)."""
        async with self._lock:
            # (a tgtd that cannot list its targets raises: the folder stays,
            # so the export is stopped again at the next pass)
            targets = await self._targets()
            for writable in (True, False):
                found = targets.get(target_iqn(volume_id, writable))
                if found is not None:
                    await self._remove(found)
            await lock_holder.release(self._holder(volume_id))
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
        self._served = [
            x for x in self.folders() if target_iqn(x) in targets or target_iqn(x, False) in targets
        ]
        return list(self._served)
