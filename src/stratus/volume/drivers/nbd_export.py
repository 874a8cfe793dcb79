"""A volume served to another host: ``qemu-storage-daemon`` exports the
volume's file over NBD on TCP, behind TLS with a pre-shared key (TLS-PSK),
so that a guest on a compute host without the volume's filesystem reaches
it with QEMU's own NBD client (these machines have no kernel NBD or iSCSI).

Each export is a daemon of its own with its folder
``exports/<volume id>/`` under the backend's root: ``keys.psk`` (the
identity and key, mode 0600, in the folder QEMU's ``tls-creds-psk`` reads)
and ``pid``.  Exports outlive the agent (a running guest keeps its disk
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
    volume_id: str
    host: str
    port: int
    identity: str
    key: str  # hex

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

    def folder(self, volume_id: str) -> Path:
        return self.root / volume_id

    def _pid(self, volume_id: str) -> int | None:
        try:
            pid = int((self.folder(volume_id) / "pid").read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if _alive(pid) else None

    def _read(self, volume_id: str) -> ExportedVolume | None:
        try:
            meta = json.loads((self.folder(volume_id) / "export.json").read_text())
            identity, key = (self.folder(volume_id) / "keys.psk").read_text().strip().split(":")
        except (OSError, ValueError):
            return None
        return ExportedVolume(volume_id, self.advertise, int(meta["port"]), identity, key)

    async def start(self, volume_id: str, path: Path, fmt: str) -> ExportedVolume:
        """Serve the volume (or return the export already serving it)."""
        if self._pid(volume_id) is not None:
            found = self._read(volume_id)
            if found is not None:
                return found
        await self.stop(volume_id)
        folder = self.folder(volume_id)
        folder.mkdir(parents=True, mode=0o700)
        identity, key = f"stratus-{volume_id[:8]}", secrets.token_hex(32)
        keys = folder / "keys.psk"
        keys.touch(mode=0o600)
        keys.write_text(f"{identity}:{key}\n")
        port = _free_port(self.listen)
        (folder / "export.json").write_text(json.dumps({"port": port, "path": str(path)}))
        file_node = {"driver": "file", "filename": str(path), "node-name": "file0"}
        fmt_node = {"driver": fmt, "file": "file0", "node-name": "vol0"}
        cmd = [
            self.binary,
            "--object", f"tls-creds-psk,id=tls0,endpoint=server,dir={folder}",
            "--blockdev", json.dumps(file_node),
            "--blockdev", json.dumps(fmt_node),
            "--nbd-server",
            f"addr.type=inet,addr.host={self.listen},addr.port={port},tls-creds=tls0",
            "--export", f"type=nbd,id=exp0,node-name=vol0,name={volume_id},writable=on",
            "--pidfile", str(folder / "pid"),
            "--daemonize",
        ]  # fmt: skip
        process = await asyncio.create_subprocess_exec(
            *cmd,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )
        try:
            out, err = await asyncio.wait_for(process.communicate(), START_TIMEOUT)
        except TimeoutError as exc:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await self.stop(volume_id)
            raise DriverError(f"the NBD export of volume {volume_id} did not start") from exc
        if process.returncode != 0 or self._pid(volume_id) is None:
            await self.stop(volume_id)
            message = (err or out).decode(errors="replace").strip()
            raise DriverError(f"the NBD export of volume {volume_id} failed: {message}")
        return ExportedVolume(volume_id, self.advertise, port, identity, key)

    async def stop(self, volume_id: str) -> None:
        """End the export (a missing one is not an error)."""
        pid = self._pid(volume_id)
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
            for _ in range(100):
                if not _alive(pid):
                    break
                await asyncio.sleep(0.05)
            else:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        await asyncio.to_thread(shutil.rmtree, self.folder(volume_id), True)

    def running(self) -> list[str]:
        """The volumes exported now (folders of dead daemons are not)."""
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if self._pid(p.name) is not None)
