"""The qemu processes of a host's guests: each guest's folder and lock, and
launching, querying and stopping its qemu over QMP.  Shared by the QEMU
driver (``qemu.py``) and its live migration (``qemu_live.py``), so neither
imports the other's module.  The folder's files are in ``qemu_files.py``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shlex
import shutil
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from stratus.compute.drivers.base import DriverError, GuestSpec, GuestStatus, Power
from stratus.compute.drivers.qemu_command import build_command, probe_accelerator
from stratus.compute.drivers.qemu_files import (
    clean_runtime_files,
    disk_path,
    find_directory,
    kill,
    live_pid,
    power_from_runstate,
    qmp_socket,
    read_from,
    state_file,
    wait_exit,
)
from stratus.compute.drivers.qmp import QMPClient, QMPError
from stratus.compute.drivers.tools import create_overlay

log = logging.getLogger(__name__)

START_TIMEOUT = 30.0  # for qemu to initialize and daemonize
QUIT_GRACE = 5.0  # after `quit`, before SIGKILL
MIGRATE_TIMEOUT = 300.0  # a suspend's save, a resume's restore, a live migration


class GuestProcesses:
    """The qemu processes of one host's guests."""

    def __init__(
        self,
        instances_root: Path,
        qemu_binary: str,
        qemu_img: str,
        accel: str,
        open_tap: Callable[[str], int] | None = None,
    ):
        # Opens a port's tap (network/vif.py) for QEMU to inherit; None:
        # QEMU opens the tap by its name (it must be in QEMU's namespace).
        self.open_tap = open_tap
        self.instances_root = instances_root
        self.qemu_binary = qemu_binary
        self.qemu_img = qemu_img
        self._accel: str | None = None if accel == "auto" else accel
        self._accel_lock = asyncio.Lock()
        self._locks: dict[str, asyncio.Lock] = {}
        self._dirs: dict[str, Path] = {}

    async def accelerator(self) -> str:
        """``kvm`` when a probe guest runs under KVM within a few seconds,
        else ``tcg``.  Probed once per driver."""
        async with self._accel_lock:
            if self._accel is None:
                self._accel = await probe_accelerator(self.qemu_binary)
                log.info("qemu driver: using the %s accelerator", self._accel)
            return self._accel

    def lock(self, uuid: str) -> asyncio.Lock:
        return self._locks.setdefault(uuid, asyncio.Lock())

    def know(self, uuid: str, directory: Path) -> None:
        self._dirs.setdefault(uuid, directory)

    def directory(self, uuid: str) -> Path | None:
        known = self._dirs.get(uuid)
        if known is not None and known.is_dir():
            return known
        found = find_directory(self.instances_root, uuid)
        if found is not None:
            self._dirs[uuid] = found
        return found

    def require_directory(self, uuid: str) -> Path:
        directory = self.directory(uuid)
        if directory is None:
            raise DriverError(f"guest {uuid} is not on this host")
        return directory

    async def prepare(self, spec: GuestSpec) -> None:
        spec.directory.mkdir(parents=True, exist_ok=True)
        marker = spec.directory / "uuid"
        if not marker.exists():
            marker.write_text(spec.uuid + "\n")
        self._dirs[spec.uuid] = spec.directory

    async def status(self, uuid: str, directory: Path) -> GuestStatus:
        """The guest's power state (the caller holds its lock)."""
        pid = live_pid(directory, uuid)
        if pid is None:
            power = Power.SUSPENDED if state_file(directory).exists() else Power.SHUTDOWN
            return GuestStatus(uuid, power)
        try:
            async with self.qmp(directory) as qmp:
                result = await qmp.execute("query-status")
        except QMPError:
            if live_pid(directory, uuid) is None:  # it exited meanwhile
                return await self.status(uuid, directory)
            return GuestStatus(uuid, Power.NOSTATE, pid)
        return GuestStatus(uuid, power_from_runstate(str(result.get("status"))), pid)

    @contextlib.asynccontextmanager
    async def qmp(self, directory: Path) -> AsyncIterator[QMPClient]:
        client = QMPClient(qmp_socket(directory))
        await client.connect(timeout=5.0)
        try:
            yield client
        finally:
            await client.close()

    async def execute(
        self, uuid: str, directory: Path, command: str, arguments: dict[str, Any] | None = None
    ) -> Any:
        if live_pid(directory, uuid) is None:
            raise DriverError(f"guest {uuid} is not running")
        try:
            async with self.qmp(directory) as qmp:
                return await qmp.execute(command, arguments)
        except QMPError as exc:
            raise DriverError(f"guest {uuid}: {command} failed: {exc}") from exc

    async def simple(self, uuid: str, command: str) -> None:
        directory = self.require_directory(uuid)
        async with self.lock(uuid):
            await self.execute(uuid, directory, command)

    async def create_overlay(self, spec: GuestSpec) -> None:
        await create_overlay(
            self.qemu_img,
            spec.base_image.resolve(),
            spec.base_format,
            disk_path(spec.directory),
            spec.root_gb,
        )

    async def launch(self, spec: GuestSpec, incoming: Path | str | None = None) -> None:
        directory = spec.directory
        sock = qmp_socket(directory)
        clean_runtime_files(directory)
        fds = await self.tap_fds(spec)
        try:
            cmd = build_command(
                spec,
                qemu_binary=self.qemu_binary,
                accel=await self.accelerator(),
                incoming=incoming,
                tap_fds=fds,
            )
            (directory / "qemu.cmdline").write_text(shlex.join(cmd) + "\n")
            log_path = directory / "qemu.log"
            offset = log_path.stat().st_size if log_path.exists() else 0
            with open(log_path, "ab") as log_file:
                process = await asyncio.create_subprocess_exec(
                    *cmd,
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=log_file,
                    stderr=log_file,
                    start_new_session=True,
                    pass_fds=tuple(fds.values()),
                )
        finally:
            for fd in fds.values():
                os.close(fd)
        try:
            rc = await asyncio.wait_for(process.wait(), START_TIMEOUT)
        except TimeoutError:
            kill(process.pid)
            await process.wait()
            rc = -1
        pid = live_pid(directory, spec.uuid)
        if rc != 0 or pid is None:
            message = read_from(log_path, offset).strip() or f"qemu exited with status {rc}"
            raise DriverError(f"could not start guest {spec.uuid}: {message}")
        # The monitor socket exists once qemu has daemonized.
        for _ in range(50):
            if sock.exists():
                break
            await asyncio.sleep(0.1)

    async def tap_fds(self, spec: GuestSpec) -> dict[str, int]:
        """The guest's taps, opened for QEMU to inherit (port id -> fd)."""
        fds: dict[str, int] = {}
        if self.open_tap is None or not spec.nics:
            return fds
        try:
            for nic in spec.nics:
                fds[nic.port_id] = await asyncio.to_thread(self.open_tap, nic.port_id)
        except Exception as exc:
            for fd in fds.values():
                os.close(fd)
            raise DriverError(f"could not open the taps of guest {spec.uuid}: {exc}") from exc
        return fds

    async def force_off(self, directory: Path, uuid: str, pid: int) -> None:
        with contextlib.suppress(QMPError):
            async with self.qmp(directory) as qmp:
                await qmp.execute("quit")
        if not await wait_exit(pid, uuid, QUIT_GRACE):
            kill(pid)
            if not await wait_exit(pid, uuid, QUIT_GRACE):
                raise DriverError(f"guest {uuid} (pid {pid}) did not die")

    async def destroy(self, uuid: str, directory: Path) -> None:
        async with self.lock(uuid):
            pid = live_pid(directory, uuid)
            if pid is not None:
                kill(pid)
                if not await wait_exit(pid, uuid, 10):
                    raise DriverError(f"guest {uuid} (pid {pid}) did not die")
            clean_runtime_files(directory)
            await asyncio.to_thread(shutil.rmtree, directory, True)
            self._dirs.pop(uuid, None)

    def command_line(
        self, spec: GuestSpec, accel: str, incoming: Path | str | None = None
    ) -> list[str]:
        return build_command(spec, qemu_binary=self.qemu_binary, accel=accel, incoming=incoming)
