"""The QEMU driver: each guest is a daemonized ``qemu-system-x86_64`` process
controlled over QMP, with its files in one folder:

    disk.qcow2    copy-on-write overlay of the shared, read-only base image
    qemu.pid      written by qemu (``-pidfile``)
    qmp.sock      the QMP monitor
    console.log   the serial console, appended across boots
    qemu.log      qemu's own stderr (startup errors)
    qemu.cmdline  the exact command line, for debugging
    state.sav     the saved memory and device state of a suspended guest
    uuid          the guest's uuid, so that a restarted agent can find it

Guests outlive the agent: a new driver finds them by their pidfiles.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import shlex
import shutil
import signal
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from stratus.compute.drivers.base import (
    Capability,
    DriverError,
    GuestSpec,
    GuestStatus,
    HostInfo,
    Power,
)
from stratus.compute.drivers.live import IncomingGuest, LiveResult, ProgressCallback
from stratus.compute.drivers.qmp import QMPClient, QMPError
from stratus.compute.drivers.tools import create_overlay, run, tail_lines

log = logging.getLogger(__name__)

_START_TIMEOUT = 30.0  # for qemu to initialize and daemonize
_QUIT_GRACE = 5.0  # after `quit`, before SIGKILL
_MIGRATE_TIMEOUT = 300.0
_SNAPSHOT_TIMEOUT = 600.0


class QemuDriver:
    name = "qemu"
    capabilities = frozenset(
        {
            Capability.PAUSE,
            Capability.SUSPEND,
            Capability.CONSOLE_LOG,
            Capability.SNAPSHOT,
            Capability.RESCUE,
            Capability.MIGRATE,
            Capability.LIVE_MIGRATION,
        }
    )

    def __init__(
        self,
        instances_root: Path,
        *,
        hostname: str,
        qemu_binary: str = "qemu-system-x86_64",
        accel: str = "auto",
        qemu_img: str = "qemu-img",
    ) -> None:
        if accel not in ("auto", "kvm", "tcg"):
            raise ValueError(f"accel must be auto, kvm or tcg, not {accel!r}")
        self.instances_root = Path(instances_root)
        self.hostname = hostname
        self.qemu_binary = qemu_binary
        self.qemu_img = qemu_img
        self._accel_setting = accel
        self._accel: str | None = None if accel == "auto" else accel
        self._accel_lock = asyncio.Lock()
        self._locks: dict[str, asyncio.Lock] = {}
        self._dirs: dict[str, Path] = {}

    # -- host ---------------------------------------------------------------

    async def accelerator(self) -> str:
        """``kvm`` when a probe guest runs under KVM within a few seconds,
        else ``tcg``.  Probed once per driver."""
        async with self._accel_lock:
            if self._accel is None:
                self._accel = await probe_accelerator(self.qemu_binary)
                log.info("qemu driver: using the %s accelerator", self._accel)
            return self._accel

    async def host_info(self) -> HostInfo:
        accel = await self.accelerator()
        rc, out, err = await run([self.qemu_binary, "--version"], timeout=10)
        if rc != 0:
            raise DriverError(f"cannot run {self.qemu_binary}: {err.strip() or out.strip()}")
        disk = await asyncio.to_thread(shutil.disk_usage, self.instances_root)
        return HostInfo(
            hostname=self.hostname,
            vcpus=os.cpu_count() or 1,
            memory_mb=host_memory_mb(),
            disk_gb=disk.total // 2**30,
            hypervisor_type="QEMU",
            hypervisor_version=parse_qemu_version(out),
            accelerator=accel,
        )

    # -- inventory ----------------------------------------------------------

    async def guests(self) -> list[GuestStatus]:
        found = await asyncio.to_thread(scan_guests, self.instances_root)
        for uuid, directory in found.items():
            self._dirs.setdefault(uuid, directory)
        return list(await asyncio.gather(*(self.status(uuid) for uuid in found)))

    async def status(self, uuid: str) -> GuestStatus:
        directory = self._directory(uuid)
        if directory is None:
            return GuestStatus(uuid, Power.NOSTATE)
        async with self._lock(uuid):
            return await self._status(uuid, directory)

    async def _status(self, uuid: str, directory: Path) -> GuestStatus:
        pid = live_pid(directory, uuid)
        if pid is None:
            power = Power.SUSPENDED if state_file(directory).exists() else Power.SHUTDOWN
            return GuestStatus(uuid, power)
        try:
            async with self._qmp(directory) as qmp:
                result = await qmp.execute("query-status")
        except QMPError:
            if live_pid(directory, uuid) is None:  # it exited meanwhile
                return await self._status(uuid, directory)
            return GuestStatus(uuid, Power.NOSTATE, pid)
        return GuestStatus(uuid, power_from_runstate(str(result.get("status"))), pid)

    # -- lifecycle ----------------------------------------------------------

    async def spawn(self, spec: GuestSpec) -> GuestStatus:
        await self._prepare(spec)
        disk = disk_path(spec.directory)
        if not disk.exists():
            await self._create_overlay(spec)
        return await self.start(spec)

    async def start(self, spec: GuestSpec) -> GuestStatus:
        await self._prepare(spec)
        if state_file(spec.directory).exists() and live_pid(spec.directory, spec.uuid) is None:
            return await self.resume(spec)
        async with self._lock(spec.uuid):
            if live_pid(spec.directory, spec.uuid) is None:
                await self._launch(spec)
            return await self._status(spec.uuid, spec.directory)

    async def stop(self, uuid: str, timeout: float) -> None:
        directory = self._directory(uuid)
        if directory is None:
            return
        async with self._lock(uuid):
            pid = live_pid(directory, uuid)
            if pid is None:
                return
            running = False
            with contextlib.suppress(QMPError):
                async with self._qmp(directory) as qmp:
                    # A paused guest cannot handle the ACPI event: power it off.
                    status = await qmp.execute("query-status")
                    running = status.get("status") == "running"
                    if running:
                        await qmp.execute("system_powerdown")
            if not running or not await wait_exit(pid, uuid, timeout):
                log.info("guest %s ignored ACPI shutdown for %g s: powering off", uuid, timeout)
                await self._force_off(directory, uuid, pid)
            clean_runtime_files(directory)

    async def reboot(self, spec: GuestSpec, hard: bool, timeout: float) -> GuestStatus:
        if live_pid(spec.directory, spec.uuid) is None:
            return await self.start(spec)
        if hard:
            async with self._lock(spec.uuid):
                await self._execute(spec.uuid, spec.directory, "system_reset")
                await self._execute(spec.uuid, spec.directory, "cont")
                return await self._status(spec.uuid, spec.directory)
        await self.stop(spec.uuid, timeout)
        return await self.start(spec)

    async def pause(self, uuid: str) -> None:
        await self._simple(uuid, "stop")

    async def unpause(self, uuid: str) -> None:
        await self._simple(uuid, "cont")

    async def suspend(self, uuid: str) -> None:
        directory = self._require_directory(uuid)
        async with self._lock(uuid):
            pid = live_pid(directory, uuid)
            if pid is None:
                raise DriverError(f"guest {uuid} is not running")
            state = state_file(directory)
            partial = state.with_suffix(".partial")
            partial.unlink(missing_ok=True)
            started = time.monotonic()
            try:
                async with self._qmp(directory) as qmp:
                    await qmp.execute("stop")
                    await qmp.execute("migrate-set-parameters", {"max-bandwidth": 8 * 2**30})
                    uri = "exec:cat > " + shlex.quote(str(partial))
                    await qmp.execute("migrate", {"uri": uri})
                    await wait_migration(qmp, _MIGRATE_TIMEOUT)
                    partial.rename(state)
                    with contextlib.suppress(QMPError):
                        await qmp.execute("quit")
            except QMPError as exc:
                partial.unlink(missing_ok=True)
                with contextlib.suppress(QMPError):
                    async with self._qmp(directory) as qmp:
                        await qmp.execute("cont")
                raise DriverError(f"could not save guest {uuid}: {exc}") from exc
            if not await wait_exit(pid, uuid, _QUIT_GRACE):
                kill(pid)
                await wait_exit(pid, uuid, _QUIT_GRACE)
            clean_runtime_files(directory)
            log.info("guest %s saved in %.2f s", uuid, time.monotonic() - started)

    async def resume(self, spec: GuestSpec) -> GuestStatus:
        await self._prepare(spec)
        state = state_file(spec.directory)
        async with self._lock(spec.uuid):
            if live_pid(spec.directory, spec.uuid) is not None:
                return await self._status(spec.uuid, spec.directory)
            if not state.exists():
                raise DriverError(f"guest {spec.uuid} has no saved state to resume")
            started = time.monotonic()
            await self._launch(spec, incoming=state)
            async with self._qmp(spec.directory) as qmp:
                await wait_incoming(qmp, _MIGRATE_TIMEOUT)
                result = await qmp.execute("query-status")
                if result.get("status") != "running":
                    await qmp.execute("cont")
            state.unlink(missing_ok=True)
            log.info("guest %s restored in %.2f s", spec.uuid, time.monotonic() - started)
            return await self._status(spec.uuid, spec.directory)

    async def destroy(self, uuid: str, directory: Path) -> None:
        async with self._lock(uuid):
            pid = live_pid(directory, uuid)
            if pid is not None:
                kill(pid)
                if not await wait_exit(pid, uuid, 10):
                    raise DriverError(f"guest {uuid} (pid {pid}) did not die")
            clean_runtime_files(directory)
            await asyncio.to_thread(shutil.rmtree, directory, True)
            self._dirs.pop(uuid, None)

    async def console_output(self, uuid: str, directory: Path, length: int | None) -> str:
        return await asyncio.to_thread(tail_lines, directory / "console.log", length)

    # -- helpers ------------------------------------------------------------

    async def snapshot(self, spec: GuestSpec, target: Path) -> None:
        """A running guest: QMP ``drive-backup sync=full`` writes the whole
        chain (overlay and base) as of the moment it starts, while the guest
        keeps running.  A stopped one: ``qemu-img convert`` of its disk."""
        directory = spec.directory
        disk = disk_path(directory)
        if not disk.exists():
            raise DriverError(f"guest {spec.uuid} has no disk to snapshot")
        partial = target.with_name(target.name + ".partial")
        partial.unlink(missing_ok=True)
        async with self._lock(spec.uuid):
            if live_pid(directory, spec.uuid) is not None:
                await self._live_backup(spec.uuid, directory, partial)
            else:
                cmd = [self.qemu_img, "convert", "-U", "-f", "qcow2", "-O", "qcow2"]
                rc, out, err = await run([*cmd, str(disk), str(partial)], timeout=600)
                if rc != 0:
                    partial.unlink(missing_ok=True)
                    raise DriverError(f"could not copy the disk: {(err or out).strip()}")
        partial.rename(target)

    async def export_disk(self, uuid: str, directory: Path) -> Path:
        disk = disk_path(directory)
        if not disk.is_file():
            raise DriverError(f"guest {uuid} has no disk in {directory}")
        if live_pid(directory, uuid) is not None:
            raise DriverError(f"guest {uuid} is running: stop it before moving its disk")
        return disk

    async def import_disk(self, spec: GuestSpec, disk: Path) -> None:
        """Rebase the overlay onto this host's cached base (``-u``: the base
        holds the same image, only its path differs) and grow it."""
        await self._prepare(spec)
        target = disk_path(spec.directory)
        if disk.resolve() != target.resolve():
            disk.replace(target)
        base = spec.base_image.resolve()
        cmd = [self.qemu_img, "rebase", "-u", "-b", str(base), "-F", spec.base_format, "-f"]
        rc, out, err = await run([*cmd, "qcow2", str(target)], timeout=60)
        if rc != 0:
            raise DriverError(f"could not rebase the disk of {spec.uuid}: {(err or out).strip()}")
        rc, out, err = await run([self.qemu_img, "info", "--output=json", str(target)], timeout=60)
        if rc != 0:
            raise DriverError(f"could not read the disk of {spec.uuid}: {(err or out).strip()}")
        size = int(json.loads(out).get("virtual-size", 0))
        wanted = spec.root_gb * 2**30
        if wanted > size:
            cmd = [self.qemu_img, "resize", "-f", "qcow2", str(target), str(wanted)]
            rc, out, err = await run(cmd, timeout=60)
            if rc != 0:
                raise DriverError(f"could not grow the disk of {spec.uuid}: {(err or out).strip()}")
            log.info("guest %s: disk grown to %d GiB", spec.uuid, spec.root_gb)

    async def _live_backup(self, uuid: str, directory: Path, target: Path) -> None:
        job = f"snapshot-{uuid[:8]}"
        arguments = {
            "job-id": job,
            "device": "disk0",
            "target": str(target),
            "format": "qcow2",
            "sync": "full",
            "mode": "absolute-paths",
            "auto-dismiss": True,
        }
        try:
            async with self._qmp(directory) as qmp:
                await qmp.execute("drive-backup", arguments)
                event = await qmp.wait_event("BLOCK_JOB_COMPLETED", _SNAPSHOT_TIMEOUT)
        except (QMPError, TimeoutError) as exc:
            target.unlink(missing_ok=True)
            raise DriverError(f"live snapshot of {uuid} failed: {exc}") from exc
        error = event.get("data", {}).get("error")
        if error:
            target.unlink(missing_ok=True)
            raise DriverError(f"live snapshot of {uuid} failed: {error}")

    async def rescue(self, spec: GuestSpec, image: Path, image_format: str) -> GuestStatus:
        """Power off, then boot a fresh overlay of the rescue image
        (``rescue.qcow2``) with the guest's own disk as the second disk.
        While ``rescue.qcow2`` exists every launch boots the rescue disk."""
        await self._prepare(spec)
        if not disk_path(spec.directory).exists():
            raise DriverError(f"guest {spec.uuid} has no disk to rescue")
        async with self._lock(spec.uuid):
            pid = live_pid(spec.directory, spec.uuid)
            if pid is not None:
                await self._force_off(spec.directory, spec.uuid, pid)
            state_file(spec.directory).unlink(missing_ok=True)
            rescue = rescue_disk_path(spec.directory)
            rescue.unlink(missing_ok=True)  # a rescue always starts from a clean image
            await create_overlay(
                self.qemu_img, image.resolve(), image_format, rescue, spec.root_gb, what="image"
            )
            await self._launch(spec)
            return await self._status(spec.uuid, spec.directory)

    async def unrescue(self, spec: GuestSpec) -> GuestStatus:
        await self._prepare(spec)
        async with self._lock(spec.uuid):
            pid = live_pid(spec.directory, spec.uuid)
            if pid is not None:
                await self._force_off(spec.directory, spec.uuid, pid)
            rescue_disk_path(spec.directory).unlink(missing_ok=True)
        return await self.start(spec)

    # -- live migration (the sequence is in qemu_live.py) --------------------

    async def prepare_incoming(self, spec: GuestSpec) -> IncomingGuest:
        from stratus.compute.drivers import qemu_live

        return await qemu_live.prepare_incoming(self, spec)

    async def live_migrate(
        self, spec: GuestSpec, target: IncomingGuest, progress: ProgressCallback
    ) -> LiveResult:
        from stratus.compute.drivers import qemu_live

        return await qemu_live.live_migrate(self, spec, target, progress)

    async def finish_incoming(self, spec: GuestSpec, running: bool) -> GuestStatus:
        from stratus.compute.drivers import qemu_live

        return await qemu_live.finish_incoming(self, spec, running)

    async def abort_incoming(self, uuid: str, directory: Path) -> None:
        await self.destroy(uuid, directory)

    async def finish_outgoing(self, uuid: str, directory: Path) -> None:
        from stratus.compute.drivers import qemu_live

        await qemu_live.finish_outgoing(self, uuid, directory)

    async def recover_outgoing(self, spec: GuestSpec) -> bool:
        from stratus.compute.drivers import qemu_live

        return await qemu_live.recover_outgoing(self, spec)

    def command_line(
        self, spec: GuestSpec, accel: str, incoming: Path | str | None = None
    ) -> list[str]:
        return build_command(spec, qemu_binary=self.qemu_binary, accel=accel, incoming=incoming)

    def _lock(self, uuid: str) -> asyncio.Lock:
        return self._locks.setdefault(uuid, asyncio.Lock())

    def _directory(self, uuid: str) -> Path | None:
        known = self._dirs.get(uuid)
        if known is not None and known.is_dir():
            return known
        found = find_directory(self.instances_root, uuid)
        if found is not None:
            self._dirs[uuid] = found
        return found

    def _require_directory(self, uuid: str) -> Path:
        directory = self._directory(uuid)
        if directory is None:
            raise DriverError(f"guest {uuid} is not on this host")
        return directory

    async def _prepare(self, spec: GuestSpec) -> None:
        spec.directory.mkdir(parents=True, exist_ok=True)
        marker = spec.directory / "uuid"
        if not marker.exists():
            marker.write_text(spec.uuid + "\n")
        self._dirs[spec.uuid] = spec.directory

    @contextlib.asynccontextmanager
    async def _qmp(self, directory: Path) -> AsyncIterator[QMPClient]:
        client = QMPClient(qmp_socket(directory))
        await client.connect(timeout=5.0)
        try:
            yield client
        finally:
            await client.close()

    async def _execute(
        self, uuid: str, directory: Path, command: str, arguments: dict[str, Any] | None = None
    ) -> Any:
        if live_pid(directory, uuid) is None:
            raise DriverError(f"guest {uuid} is not running")
        try:
            async with self._qmp(directory) as qmp:
                return await qmp.execute(command, arguments)
        except QMPError as exc:
            raise DriverError(f"guest {uuid}: {command} failed: {exc}") from exc

    async def _simple(self, uuid: str, command: str) -> None:
        directory = self._require_directory(uuid)
        async with self._lock(uuid):
            await self._execute(uuid, directory, command)

    async def _create_overlay(self, spec: GuestSpec) -> None:
        await create_overlay(
            self.qemu_img,
            spec.base_image.resolve(),
            spec.base_format,
            disk_path(spec.directory),
            spec.root_gb,
        )

    async def _launch(self, spec: GuestSpec, incoming: Path | str | None = None) -> None:
        directory = spec.directory
        sock = qmp_socket(directory)
        clean_runtime_files(directory)
        cmd = self.command_line(spec, await self.accelerator(), incoming)
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
            )
        try:
            rc = await asyncio.wait_for(process.wait(), _START_TIMEOUT)
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

    async def _force_off(self, directory: Path, uuid: str, pid: int) -> None:
        with contextlib.suppress(QMPError):
            async with self._qmp(directory) as qmp:
                await qmp.execute("quit")
        if not await wait_exit(pid, uuid, _QUIT_GRACE):
            kill(pid)
            if not await wait_exit(pid, uuid, _QUIT_GRACE):
                raise DriverError(f"guest {uuid} (pid {pid}) did not die")


# -- files of a guest's folder -------------------------------------------------


def disk_path(directory: Path) -> Path:
    return directory / "disk.qcow2"


def state_file(directory: Path) -> Path:
    return directory / "state.sav"


def rescue_disk_path(directory: Path) -> Path:
    """The rescue boot's disk: present only while the guest is rescued."""
    return directory / "rescue.qcow2"


SOCKET_PATH_MAX = 100  # a unix socket path is at most 107 bytes


def qmp_socket(directory: Path) -> Path:
    """The guest's QMP socket: in its folder, or, when that path is too long
    for a unix socket, in a short folder under the temporary directory, named
    after the guest folder (so a restarted agent finds it again)."""
    path = directory / "qmp.sock"
    if len(os.fsencode(path)) < SOCKET_PATH_MAX:
        return path
    short = Path(tempfile.gettempdir()) / "stratus-qmp"
    short.mkdir(mode=0o700, exist_ok=True)
    digest = hashlib.sha256(os.fsencode(directory.resolve())).hexdigest()[:24]
    return short / f"{digest}.sock"


def pid_file(directory: Path) -> Path:
    return directory / "qemu.pid"


def clean_runtime_files(directory: Path) -> None:
    for path in (pid_file(directory), qmp_socket(directory)):
        path.unlink(missing_ok=True)


def guest_uuid(directory: Path) -> str:
    """The uuid a guest folder belongs to (its ``uuid`` file, else its name)."""
    try:
        return (directory / "uuid").read_text().strip() or directory.name
    except OSError:
        return directory.name


def scan_guests(root: Path) -> dict[str, Path]:
    """Every guest folder under ``root`` that holds a disk or a pidfile."""
    found: dict[str, Path] = {}
    if not root.is_dir():
        return found
    for directory in sorted(root.iterdir()):
        if not directory.is_dir():
            continue
        if any(p.exists() for p in (disk_path(directory), pid_file(directory))):
            found[guest_uuid(directory)] = directory
    return found


def find_directory(root: Path, uuid: str) -> Path | None:
    direct = root / uuid
    if direct.is_dir():
        return direct
    return scan_guests(root).get(uuid)


# -- processes -----------------------------------------------------------------


def process_runs(pid: int, uuid: str) -> bool:
    """Whether ``pid`` is a live (not zombie) process whose command line
    names ``uuid``: a pid reused by another process does not count."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    state = stat.rpartition(")")[2].split()[:1]
    if state in (["Z"], ["X"]):
        return False
    return uuid.encode() in cmdline


def live_pid(directory: Path, uuid: str) -> int | None:
    """The pid of this guest's qemu, if it runs."""
    try:
        pid = int(pid_file(directory).read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if pid > 0 and process_runs(pid, uuid) else None


def kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signal.SIGKILL)


async def wait_exit(pid: int, uuid: str, timeout: float) -> bool:
    """Wait for a process that is not our child to end; True if it did."""
    deadline = time.monotonic() + timeout
    while process_runs(pid, uuid):
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(0.1)
    return True


# -- QMP sequences -----------------------------------------------------------------


def power_from_runstate(runstate: str) -> Power:
    if runstate == "running":
        return Power.RUNNING
    if runstate in ("internal-error", "io-error", "guest-panicked"):
        return Power.CRASHED
    if runstate == "shutdown":
        return Power.SHUTDOWN
    # paused, suspended, prelaunch, inmigrate, postmigrate, finish-migrate, ...
    return Power.PAUSED


async def wait_migration(qmp: QMPClient, timeout: float) -> None:
    """Poll an outgoing migration until it completes; raise QMPError if it fails."""
    deadline = time.monotonic() + timeout
    while True:
        info = await qmp.execute("query-migrate")
        status = info.get("status")
        if status == "completed":
            return
        if status in ("failed", "cancelled"):
            raise QMPError(f"migration {status}: {info.get('error-desc', 'no reason given')}")
        if time.monotonic() > deadline:
            await qmp.execute("migrate_cancel")
            raise QMPError(f"migration did not finish within {timeout:g} s")
        await asyncio.sleep(0.05)


async def wait_incoming(qmp: QMPClient, timeout: float) -> None:
    """Wait until an incoming migration (``-incoming``) has been loaded."""
    deadline = time.monotonic() + timeout
    while True:
        status = (await qmp.execute("query-status")).get("status")
        if status not in ("inmigrate", "prelaunch"):
            if status in ("internal-error", "io-error", "shutdown"):
                raise QMPError(f"restoring the saved state failed (guest is {status})")
            return
        if time.monotonic() > deadline:
            raise QMPError(f"restoring the saved state took over {timeout:g} s")
        await asyncio.sleep(0.05)


# -- the command line --------------------------------------------------------------


def _opt(value: object) -> str:
    """Escape a value inside a qemu ``-option key=value,...`` list."""
    return str(value).replace(",", ",,")


def build_command(
    spec: GuestSpec, *, qemu_binary: str, accel: str, incoming: Path | str | None = None
) -> list[str]:
    directory = spec.directory
    cmd = [
        qemu_binary,
        "-name", f"guest={_opt(spec.uuid)}",
        "-uuid", spec.uuid,
        "-machine", "pc",
        "-accel", accel,
        "-m", str(spec.memory_mb),
        "-smp", str(spec.vcpus),
        "-nodefaults",
        "-no-user-config",
        "-display", "none",
        "-daemonize",
        "-pidfile", str(pid_file(directory)),
        "-qmp", f"unix:{_opt(qmp_socket(directory))},server=on,wait=off",
        "-chardev", f"file,id=ser0,path={_opt(spec.console_log)},append=on",
        "-serial", "chardev:ser0",
    ]  # fmt: skip
    rescue = rescue_disk_path(directory)
    if rescue.exists():
        # Rescued: boot the rescue disk (vda); the guest's own disk is vdb.
        cmd += [
            "-drive", f"file={_opt(rescue)},if=none,id=rescue0,format=qcow2",
            "-device", "virtio-blk-pci,drive=rescue0,bootindex=0",
        ]  # fmt: skip
    cmd += [
        "-drive", f"file={_opt(disk_path(directory))},if=none,id=disk0,format=qcow2",
        "-device", f"virtio-blk-pci,drive=disk0,bootindex={1 if rescue.exists() else 0}",
    ]  # fmt: skip
    if spec.config_drive is not None:
        cmd += [
            "-drive",
            f"file={_opt(spec.config_drive)},if=ide,index=1,media=cdrom,format=raw,readonly=on",
        ]
    netdev = "user,id=net0"
    for fwd in spec.forwards:
        netdev += f",hostfwd=tcp:{fwd.host_address}:{fwd.host_port}-:{fwd.guest_port}"
    cmd += ["-netdev", netdev, "-device", "virtio-net-pci,netdev=net0"]
    if isinstance(incoming, str):  # a migration URI, e.g. "defer" (live migration)
        cmd += ["-incoming", incoming]
    elif incoming is not None:
        cmd += ["-incoming", "exec:cat " + shlex.quote(str(incoming))]
    return cmd


# -- host facts ----------------------------------------------------------------------


def parse_qemu_version(text: str) -> int:
    """``QEMU emulator version 7.2.22 (...)`` -> 7002022."""
    for word in text.split():
        parts = word.split(".")
        if len(parts) >= 2 and all(p.isdigit() for p in parts[:3]):
            numbers = [int(p) for p in parts[:3]] + [0] * (3 - len(parts[:3]))
            return numbers[0] * 1_000_000 + numbers[1] * 1_000 + numbers[2]
    return 0


def host_memory_mb() -> int:
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) // 1024
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20


def probe_rom() -> bytes:
    """A 64 KiB firmware that switches the vCPU from real mode to 64-bit long
    mode (GDT, PAE paging, EFER.LME) and then writes 0x2a to the
    isa-debug-exit port, so qemu exits with status 0x2a * 2 + 1 = 85.
    Real-mode code alone runs under a broken nested KVM; long mode hangs."""
    code = bytes.fromhex(
        "fab800f08ed8660f011660000f20e06683c8200f22e066b800100f000f22d8"
        "66b9800000c00f32660d000100000f300f20c0660d010000800f22c066ea43"
        "000f000800b02ae6f4f4ebfd"
    )
    rom = bytearray(0x10000)
    rom[: len(code)] = code
    rom[0x58:0x60] = (0x00209A0000000000).to_bytes(8, "little")  # 64-bit code segment
    rom[0x60:0x66] = (15).to_bytes(2, "little") + (0xF0050).to_bytes(4, "little")  # GDTR
    rom[0x1000:0x1008] = (0xF2000 | 0x23).to_bytes(8, "little")  # PML4 -> PDPT
    rom[0x2000:0x2008] = (0xF3000 | 0x23).to_bytes(8, "little")  # PDPT -> PD
    rom[0x3000:0x3008] = (0xE3).to_bytes(8, "little")  # PD: 2 MiB page at 0
    rom[0xFFF0:0xFFF5] = bytes.fromhex("ea0000" + "00f0")  # reset vector: jmp f000:0000
    return bytes(rom)


PROBE_EXIT_STATUS = 85


_probed: dict[str, str] = {}  # qemu binary -> accelerator, probed once per process


async def probe_accelerator(qemu_binary: str, timeout: float = 3.0) -> str:
    """``kvm`` if a guest reaches long mode under KVM within ``timeout``."""
    if qemu_binary not in _probed:
        if not os.access("/dev/kvm", os.R_OK | os.W_OK):
            log.info("qemu driver: /dev/kvm is not usable: TCG")
            _probed[qemu_binary] = "tcg"
        else:
            ok = await run_probe(qemu_binary, "kvm", timeout)
            _probed[qemu_binary] = "kvm" if ok else "tcg"
    return _probed[qemu_binary]


async def run_probe(qemu_binary: str, accel: str, timeout: float) -> bool:
    with tempfile.TemporaryDirectory(prefix="stratus-probe-") as tmp:
        rom = Path(tmp) / "probe.rom"
        rom.write_bytes(probe_rom())
        cmd = [qemu_binary, "-accel", accel, "-machine", "pc", "-m", "16"]
        cmd += ["-display", "none", "-nodefaults", "-no-user-config", "-bios", str(rom)]
        cmd += ["-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"]
        if shutil.which("timeout"):
            # A probe that hangs (KVM here does) is killed even when this
            # process dies first: a hung KVM guest spins a core forever.
            cmd = ["timeout", "-s", "KILL", f"{timeout + 2:g}", *cmd]
        started = time.monotonic()
        rc, _out, err = await run(cmd, timeout)
    ok = rc == PROBE_EXIT_STATUS
    log.info(
        "qemu driver: %s probe %s in %.2f s%s",
        accel,
        "passed" if ok else "failed",
        time.monotonic() - started,
        "" if ok else f" ({err.strip()[:200] or f'status {rc}'})",
    )
    return ok


# -- console ---------------------------------------------------------------------------


def read_from(path: Path, offset: int) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            return f.read(64 * 1024).decode(errors="replace")
    except OSError:
        return ""
