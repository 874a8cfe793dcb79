"""A volume served to other hosts: ``qemu-storage-daemon`` exports the
volume's file over NBD on TCP, behind TLS with pre-shared keys (TLS-PSK),
so that a guest on a compute host without the volume's filesystem reaches
it with QEMU's own NBD client (these machines have no kernel NBD or iSCSI).

One daemon per volume (it holds the image's write lock, so a second one of
the same file cannot start) serves every consumer of it: each consumer (a
``Member``: the volume agent makes one per attachment) has an NBD export of
its own in the daemon (named after it, read-only or writable) and a PSK
identity and key of its own, a line of the daemon's ``keys.psk`` (mode
0600).  GnuTLS reads that file at every handshake (measured here), so a
member added or removed is one rewrite of the file, plus
``block-export-add`` / ``block-export-del`` (``mode: hard``: its open
connection is cut, and its reconnection is refused without its key) on the
daemon's QMP socket; the other members' connections go on.

The volume's folder ``<volume id>/`` under the exports' root holds
``keys.psk``, ``pid``, ``qmp.sock``, ``log`` and ``export.json`` (port,
file, format).  Daemons outlive the agent (a running guest keeps its disk
while the agent restarts); ``running`` finds them again and ``stop`` ends
one.  A key travels to its consumer in the attachment's
``connection_info`` (``psk_identity``, ``psk_key``), as Cinder's connection
properties carry an iSCSI target's CHAP secret.

Two layers can be exported.  ``format`` (the default): the daemon runs
the image's format (qcow2 or raw) and serves the virtual disk; it is the
one user of the image's metadata, so any number of consumers share it.
``protocol``: the daemon serves the file's bytes raw and each consumer runs
the format itself, as QEMU does on shared storage.  That is how a running
guest's volume is handed between a QEMU that opens the file on the volume's
host and one that reaches it over NBD (a live migration): the guest's QEMU
holds the file's lock, so the daemon opens it with ``locking: off`` while
that QEMU lives, and QEMU's migration guarantees that the two never write
at once (the incoming QEMU opens its images inactive and reads their
metadata again at the switch-over).  Once no QEMU on the volume's host has
the file, the daemon is started again with locking on (the same port and
keys: the consumer reconnects), the file's one opener holding its lock.  An
NBD export cannot grow, and a qcow2 image grows as it fills, so before a
protocol export the file is made sparse up to ``room`` bytes."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stratus.common.pidfiles import daemon_pid, wait_ended
from stratus.volume.drivers.base import Connection, DriverError

START_TIMEOUT = 15.0
QMP_TIMEOUT = 10.0


@dataclass(frozen=True)
class Member:
    """One consumer of a volume's daemon: its NBD export and its key."""

    name: str  # the NBD export's name (the attachment's id)
    identity: str
    key: str  # hex
    writable: bool = True


@dataclass(frozen=True)
class ExportedVolume:
    volume_id: str
    host: str
    port: int
    identity: str
    key: str
    export: str  # the NBD export's name
    fmt: str = ""  # a protocol export: the image format its consumer runs

    def connection(self) -> Connection:
        data: dict[str, Any] = {
            "host": self.host,
            "port": self.port,
            "export": self.export,
            "psk_identity": self.identity,
            "psk_key": self.key,
            "volume_id": self.volume_id,
        }
        if self.fmt:
            data["format"] = self.fmt
        return Connection("nbd", data)


def new_member(name: str, writable: bool = True, key: str | None = None) -> Member:
    """A consumer with a fresh key (or ``key``: the one it was given)."""
    return Member(name, f"stratus-{name}", key or secrets.token_hex(32), writable)


def _free_port(address: str) -> int:
    with socket.socket() as s:
        s.bind((address, 0))
        return int(s.getsockname()[1])


def _qid(name: str) -> str:
    """The daemon's id of a member's export (QEMU ids start with a letter)."""
    return f"m-{name}"


FORMAT, PROTOCOL = "format", "protocol"  # the layers a daemon can export


def _export_opts(member: Member, layer: str = FORMAT) -> dict[str, Any]:
    node = "file0" if layer == PROTOCOL else "vol0"
    return {"type": "nbd", "id": _qid(member.name), "node-name": node, "name": member.name,
            "writable": member.writable}  # fmt: skip


async def _qmp(folder: Path, commands: Sequence[tuple[str, dict[str, Any]]]) -> list[Any]:
    """Run commands on a daemon's QMP socket; their results in order.  The
    socket is reached through the folder's descriptor, so its path stays
    within a unix socket's 108 bytes however deep the data folder is."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    writer: asyncio.StreamWriter | None = None
    try:
        async with asyncio.timeout(QMP_TIMEOUT):
            reader, writer = await asyncio.open_unix_connection(f"/proc/self/fd/{fd}/qmp.sock")
            os.close(fd)
            fd = -1

            async def reply() -> Any:
                while True:
                    line = await reader.readline()
                    if not line:
                        raise DriverError("the export's daemon closed its monitor")
                    answer = json.loads(line)
                    if "error" in answer:
                        raise DriverError(f"the export's daemon refused: {answer['error']}")
                    if "return" in answer:
                        return answer["return"]

            if not await reader.readline():
                raise DriverError("the export's daemon closed its monitor")
            results = []
            for name, args in [("qmp_capabilities", {}), *commands]:
                writer.write(json.dumps({"execute": name, "arguments": args}).encode() + b"\n")
                await writer.drain()
                results.append(await reply())
            return results[1:]
    except (OSError, ValueError, TimeoutError) as exc:
        raise DriverError(f"the export's daemon did not answer: {exc}") from exc
    finally:
        if fd >= 0:
            os.close(fd)
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


def read_keys(path: Path) -> dict[str, str]:
    """A key file's identities with their keys (none when it is missing)."""
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return {}
    return dict(line.split(":", 1) for line in lines if ":" in line)


def write_keys(path: Path, members: Sequence[Member]) -> None:
    """Replace a key file (``identity:key`` lines, 0600) in one step: a
    handshake never reads half of one."""
    new = path.with_name(path.name + ".new")
    new.unlink(missing_ok=True)
    fd = os.open(new, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write("".join(f"{m.identity}:{m.key}\n" for m in members))
    new.replace(path)


def make_room(path: Path, room: int) -> None:
    """Make the file at least ``room`` bytes long (a sparse tail of zeros,
    which a qcow2 image counts as free clusters)."""
    if path.stat().st_size < room:
        os.truncate(path, room)


class NbdExports:
    """The NBD exports of one volume host: a daemon per volume."""

    protocol = "nbd"

    def __init__(
        self,
        root: Path,
        *,
        listen: str = "127.0.0.1",
        advertise: str | None = None,
        binary: str = "qemu-storage-daemon",
    ):
        # Absolute: the daemon runs in its volume's folder, so a relative
        # data folder would name its key folder and pid file from there.
        self.root = root.absolute()
        self.listen = listen
        self.advertise = advertise or listen  # the address consumers connect to
        self.binary = binary

    def folder(self, volume_id: str) -> Path:
        return self.root / volume_id

    def _pid(self, volume_id: str) -> int | None:
        """The volume's daemon, if it runs (common.pidfiles: never another
        process that took the number its pid file holds)."""
        return daemon_pid(self.folder(volume_id) / "pid")

    def _meta(self, volume_id: str) -> dict[str, Any]:
        try:
            meta = json.loads((self.folder(volume_id) / "export.json").read_text())
        except (OSError, ValueError):
            return {}
        return meta if isinstance(meta, dict) else {}

    def port(self, volume_id: str) -> int | None:
        port = self._meta(volume_id).get("port")
        return int(port) if port else None

    def layer(self, volume_id: str) -> str:
        """What the volume's daemon serves: the image's format, or the file."""
        return str(self._meta(volume_id).get("layer") or FORMAT)

    def locking(self, volume_id: str) -> bool:
        """Whether the volume's daemon holds the file's lock."""
        return bool(self._meta(volume_id).get("locking", True))

    def keys(self, volume_id: str) -> dict[str, str]:
        """The identities the volume's key file lets in, with their keys."""
        return read_keys(self.folder(volume_id) / "keys.psk")

    def members(self, volume_id: str) -> set[str]:
        return set(self.keys(volume_id))

    def new_member(self, name: str, writable: bool = True, key: str | None = None) -> Member:
        return new_member(name, writable, key)

    def member_of(self, name: str, data: dict[str, Any], writable: bool) -> Member | None:
        """The member an attachment's connection properties name."""
        if not data.get("psk_key"):
            return None
        return Member(str(data.get("export") or name), str(data.get("psk_identity") or ""),
                      str(data["psk_key"]), writable)  # fmt: skip

    def identity_of(self, data: dict[str, Any]) -> str:
        return str(data.get("psk_identity") or "")

    def exported(self, volume_id: str, member: Member) -> ExportedVolume:
        """What a member's consumer connects to (its daemon serving)."""
        port = self.port(volume_id)
        if port is None:
            raise DriverError(f"volume {volume_id} is not exported")
        meta = self._meta(volume_id)
        fmt = str(meta.get("format") or "raw") if meta.get("layer") == PROTOCOL else ""
        return ExportedVolume(volume_id, self.advertise, port, member.identity, member.key,
                              member.name, fmt)  # fmt: skip

    async def serve(
        self, volume_id: str, path: Path, fmt: str, members: Sequence[Member],
        port: int | None = None, *, layer: str = FORMAT, locking: bool = True, room: int = 0,
    ) -> int:  # fmt: skip
        """Make the volume's daemon serve exactly ``members`` (none: stop
        it) from ``layer``, holding the file's lock or not; start it when it
        is not running (or serves another layer, or locks otherwise), on its
        former port (or ``port``, or a free one).  Returns the port."""
        if not members:
            await self.stop(volume_id)
            return 0
        folder = self.folder(volume_id)
        if self._pid(volume_id) is not None and (
            self.layer(volume_id) != layer or self.locking(volume_id) != locking
        ):
            await self.halt(volume_id)  # started again below, on its port
        if self._pid(volume_id) is not None:
            try:
                await self._change(folder, members, layer)
                found = self.port(volume_id)
                if found is not None:
                    return found
            except DriverError:
                pass  # a daemon that does not answer is started again
        if layer == PROTOCOL and room and fmt == "qcow2":  # a raw file keeps its size
            await asyncio.to_thread(make_room, path, room)
        return await self._start(volume_id, path, fmt, members, port, layer, locking)

    async def _change(self, folder: Path, members: Sequence[Member], layer: str) -> None:
        # The key file first: a removed member's reconnection is refused
        # before its export is cut.
        write_keys(folder / "keys.psk", members)
        (have,) = await _qmp(folder, [("query-block-exports", {})])
        current = {str(e["id"]) for e in have if not e.get("shutting-down")}
        wanted = {_qid(m.name): m for m in members}
        commands: list[tuple[str, dict[str, Any]]] = [
            ("block-export-del", {"id": x, "mode": "hard"}) for x in sorted(current - set(wanted))
        ]
        commands += [
            ("block-export-add", _export_opts(wanted[x], layer)) for x in sorted(set(wanted) - current)
        ]
        if commands:
            await _qmp(folder, commands)

    async def _start(
        self, volume_id: str, path: Path, fmt: str, members: Sequence[Member], port: int | None,
        layer: str, locking: bool,
    ) -> int:  # fmt: skip
        port = self.port(volume_id) or port or _free_port(self.listen)
        await self.stop(volume_id)
        folder = self.folder(volume_id)
        folder.mkdir(parents=True, mode=0o700)
        write_keys(folder / "keys.psk", members)
        meta = {"port": port, "path": str(path), "format": fmt, "layer": layer, "locking": locking}
        (folder / "export.json").write_text(json.dumps(meta))
        file_node = {"driver": "file", "filename": str(path.absolute()), "node-name": "file0"}
        if not locking:
            file_node["locking"] = "off"
        nodes = ["--blockdev", json.dumps(file_node)]
        if layer != PROTOCOL:
            nodes += ["--blockdev", json.dumps({"driver": fmt, "file": "file0", "node-name": "vol0"})]
        cmd = [
            self.binary,
            "--object", f"tls-creds-psk,id=tls0,endpoint=server,dir={folder}",
            *nodes,
            "--nbd-server",
            f"addr.type=inet,addr.host={self.listen},addr.port={port},tls-creds=tls0",
            # Relative to the daemon's working folder (this one): the
            # socket's path stays short.
            "--chardev", "socket,id=qmp0,path=qmp.sock,server=on,wait=off",
            "--monitor", "chardev=qmp0",
            "--pidfile", str(folder / "pid"),
            "--daemonize",
        ]  # fmt: skip
        for member in members:
            cmd += ["--export", json.dumps(_export_opts(member, layer))]
        # The daemon keeps the parent's stdout and stderr until it has set
        # up (then /dev/null): a file, not a pipe, so the parent's exit is
        # the signal, and what it said is there when it failed.
        with open(folder / "log", "wb") as log:
            process = await asyncio.create_subprocess_exec(
                *cmd,
                cwd=folder,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            await asyncio.wait_for(process.wait(), START_TIMEOUT)
        except TimeoutError as exc:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await self.stop(volume_id)
            raise DriverError(f"the NBD export of volume {volume_id} did not start") from exc
        if process.returncode != 0 or self._pid(volume_id) is None:
            message = (folder / "log").read_text(errors="replace").strip()
            await self.stop(volume_id)
            raise DriverError(f"the NBD export of volume {volume_id} failed: {message}")
        return port

    async def resized(self, volume_id: str) -> None:
        """Nothing to do: a served volume cannot grow in place (the daemon
        holds the image's lock); ``halt`` and ``serve`` grow it."""

    async def halt(self, volume_id: str) -> None:
        """End the volume's daemon, keeping its folder (its port): it is
        started again by ``serve``."""
        pid = self._pid(volume_id)
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
            # It closes the image (its lock goes with the process): ~1 s here.
            if not await wait_ended(pid, 10.0):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                await wait_ended(pid, 5.0)

    async def stop(self, volume_id: str) -> None:
        """End the volume's daemon and remove its folder and keys (a
        missing one is not an error)."""
        await self.halt(volume_id)
        await asyncio.to_thread(shutil.rmtree, self.folder(volume_id), True)

    async def served(self) -> list[str]:
        return self.running()

    def running(self) -> list[str]:
        """The volumes served now (folders of dead daemons are not)."""
        return [x for x in self.folders() if self._pid(x) is not None]

    def folders(self) -> list[str]:
        """Every volume's folder, served or left by a dead daemon."""
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir())
