"""A volume served to another host: ``qemu-storage-daemon`` exports the
volume's file over NBD on TCP, behind TLS with a pre-shared key (TLS-PSK),
so that a guest on a compute host without the volume's filesystem reaches
it with QEMU's own NBD client (these machines have no kernel NBD or iSCSI).

Each export is a daemon of its own with its folder ``<export id>/`` under
the exports' root (the volume agent names an export after the attachment it
serves, so each attachment has a fresh key): ``keys.psk`` (the identity and
key, mode 0600, in the folder QEMU's ``tls-creds-psk`` reads), ``pid`` and
``export.json`` (port, file, the NBD export's name: the volume's id).  Exports outlive the agent (a running guest keeps its disk
while the agent restarts); ``running`` finds them again and ``stop`` ends
one.  The key travels to the consumer in the attachment's
``connection_info`` (``psk_identity``, ``psk_key``), as Cinder's
connection properties carry an iSCSI target's CHAP secret."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
from dataclasses import dataclass
from pathlib import Path

from stratus.volume.drivers.base import Connection, DriverError

START_TIMEOUT = 15.0


@dataclass(frozen=True)
class ExportedVolume:
    volume_id: str  # the NBD export's name
    host: str
    port: int
    identity: str
    key: str  # hex
    export_id: str = ""  # its folder (the attachment's id); the volume's when empty

    def connection(self) -> Connection:
        return Connection(
            "nbd",
            {
                "host": self.host,
                "port": self.port,
                "export": self.volume_id,
                "psk_identity": self.identity,
                "psk_key": self.key,
                "volume_id": self.volume_id,
            },
        )


def _free_port(address: str) -> int:
    with socket.socket() as s:
        s.bind((address, 0))
        return int(s.getsockname()[1])


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _serves(pid: int, folder: Path) -> bool:
    """Whether process ``pid`` is the daemon that ``start`` ran for
    ``folder``: its command line names the folder's pid file (by the end of
    the path, which holds the export's unique id, whatever the working
    folder the data folder was given relative to)."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    tail = f"{folder.name}/pid".encode()
    return any(a == tail or a.endswith(b"/" + tail) for a in argv)


async def _gone(pid: int, timeout: float) -> bool:
    """Wait until the process has ended (False: still there at ``timeout``)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while _alive(pid):
        if asyncio.get_running_loop().time() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True


class NbdExports:
    """The NBD exports of one volume host."""

    def __init__(
        self,
        root: Path,
        *,
        listen: str = "127.0.0.1",
        advertise: str | None = None,
        binary: str = "qemu-storage-daemon",
    ):
        self.root = root
        self.listen = listen
        self.advertise = advertise or listen  # the address consumers connect to
        self.binary = binary

    def folder(self, export_id: str) -> Path:
        return self.root / export_id

    def _pid(self, export_id: str) -> int | None:
        """The export's daemon, if it runs: the pid its file names, when
        that process is the daemon of this folder (after a reboot the
        number may be another process's, which is never signalled)."""
        folder = self.folder(export_id)
        try:
            pid = int((folder / "pid").read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if _alive(pid) and _serves(pid, folder) else None

    def _read(self, export_id: str) -> ExportedVolume | None:
        try:
            meta = json.loads((self.folder(export_id) / "export.json").read_text())
            identity, key = (self.folder(export_id) / "keys.psk").read_text().strip().split(":")
        except (OSError, ValueError):
            return None
        name = str(meta.get("name") or export_id)
        return ExportedVolume(name, self.advertise, int(meta["port"]), identity, key, export_id)

    async def start(
        self, volume_id: str, path: Path, fmt: str, export_id: str | None = None,
        writable: bool = True, again: ExportedVolume | None = None,
    ) -> ExportedVolume:  # fmt: skip
        """Serve the volume as the export ``export_id`` (the volume's id when
        not given), with a fresh key, or return the export already serving.
        ``again``: an export whose daemon died, served again with the same
        port, identity and key (its consumer's connection names them)."""
        export_id = export_id or volume_id
        if self._pid(export_id) is not None:
            found = self._read(export_id)
            if found is not None:
                return found
        await self.stop(export_id)
        folder = self.folder(export_id)
        folder.mkdir(parents=True, mode=0o700)
        identity, key = f"stratus-{export_id[:8]}", secrets.token_hex(32)
        if again is not None:
            identity, key = again.identity, again.key
        keys = folder / "keys.psk"
        keys.touch(mode=0o600)
        keys.write_text(f"{identity}:{key}\n")
        port = again.port if again is not None else _free_port(self.listen)
        meta = {"port": port, "path": str(path), "name": volume_id, "format": fmt,
                "writable": writable}  # fmt: skip
        (folder / "export.json").write_text(json.dumps(meta))
        file_node = {"driver": "file", "filename": str(path), "node-name": "file0"}
        fmt_node = {"driver": fmt, "file": "file0", "node-name": "vol0"}
        cmd = [
            self.binary,
            "--object", f"tls-creds-psk,id=tls0,endpoint=server,dir={folder}",
            "--blockdev", json.dumps(file_node),
            "--blockdev", json.dumps(fmt_node),
            "--nbd-server",
            f"addr.type=inet,addr.host={self.listen},addr.port={port},tls-creds=tls0",
            "--export", f"type=nbd,id=exp0,node-name=vol0,name={volume_id},"
            f"writable={'on' if writable else 'off'}",
            "--pidfile", str(folder / "pid"),
            "--daemonize",
        ]  # fmt: skip
        # The daemon keeps the parent's stdout and stderr until it has set
        # up (then /dev/null): a file, not a pipe, so the parent's exit is
        # the signal, and what it said is there when it failed.
        with open(folder / "log", "wb") as log:
            process = await asyncio.create_subprocess_exec(
                *cmd,
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
            await self.stop(export_id)
            raise DriverError(f"the NBD export of volume {volume_id} did not start") from exc
        if process.returncode != 0 or self._pid(export_id) is None:
            message = (folder / "log").read_text(errors="replace").strip()
            await self.stop(export_id)
            raise DriverError(f"the NBD export of volume {volume_id} failed: {message}")
        return ExportedVolume(volume_id, self.advertise, port, identity, key, export_id)

    def serving(self, volume_id: str) -> list[str]:
        """The running exports of a volume."""
        return [x for x in self.running() if (found := self._read(x)) and found.volume_id == volume_id]

    def described(self, export_id: str) -> tuple[ExportedVolume, Path, str, bool] | None:
        """A running export as ``start`` made it: the export (port, key),
        the file, its format, whether writable; for serving it again."""
        found = self._read(export_id)
        try:
            meta = json.loads((self.folder(export_id) / "export.json").read_text())
        except (OSError, ValueError):
            return None
        if found is None:
            return None
        return found, Path(meta["path"]), str(meta.get("format", "raw")), bool(meta.get("writable", True))

    async def stop(self, export_id: str) -> None:
        """End the export and remove its folder and key (a missing one is
        not an error)."""
        pid = self._pid(export_id)
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
            # It closes the image (its lock goes with the process): ~1 s here.
            if not await _gone(pid, 10.0):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                await _gone(pid, 5.0)
        await asyncio.to_thread(shutil.rmtree, self.folder(export_id), True)

    def running(self) -> list[str]:
        """The exports serving now (folders of dead daemons are not)."""
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if self._pid(p.name) is not None)

    def folders(self) -> list[str]:
        """Every export's folder, serving or left by a dead daemon."""
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir())
