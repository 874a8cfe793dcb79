"""The libvirt driver's connection and what it reads of the host: one
connection (reopened when lost), the domains Stratus defined (found by their
metadata element) and their states, and the host's resources and domain
capabilities.  ``LibvirtDriver`` (``libvirt.py``) adds the guests' lifecycle."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from stratus.compute.drivers.base import (
    Capability,
    DriverError,
    GuestStatus,
    HostInfo,
    Power,
)
from stratus.compute.drivers.libvirt_facts import (
    backup_supported,
    is_alive,
    message,
    power_from_state,
)
from stratus.compute.drivers.libvirt_xml import (
    METADATA_NS,
    NAME_PREFIX,
    VirtType,
    XMLError,
    metadata_directory,
    virt_type_for,
)

try:
    import libvirt
except ImportError:  # an optional extra: make_driver explains what is missing
    libvirt = None

log = logging.getLogger(__name__)

T = TypeVar("T")


def _quiet(_ctx: object, _err: object) -> None:
    """libvirt prints every error on stderr by default; they are raised too."""


class LibvirtHost:
    """A libvirt connection and the guests Stratus defined through it."""

    def __init__(
        self,
        instances_root: Path,
        *,
        hostname: str,
        uri: str = "qemu:///system",
        virt_type: str = "",
        qemu_img: str = "qemu-img",
    ) -> None:
        if libvirt is None:
            raise DriverError(
                "the libvirt driver needs libvirt-python: pip install 'stratus[libvirt]' "
                "(it builds against libvirt-dev, pkg-config and gcc)"
            )
        try:
            self.virt: VirtType = virt_type_for(uri, virt_type)
        except XMLError as exc:
            raise DriverError(str(exc)) from exc
        self.instances_root = Path(instances_root)
        self.hostname = hostname
        self.uri = uri
        self.qemu_img = qemu_img
        self.capabilities: frozenset[Capability] = self.virt.capabilities
        self._conn: Any = None
        self._conn_lock = asyncio.Lock()
        self._locks: dict[str, asyncio.Lock] = {}
        libvirt.registerErrorHandler(_quiet, None)

    # -- connection -----------------------------------------------------------

    async def _call(self, what: str, fn: Callable[..., T], *args: Any) -> T:
        """Run a blocking libvirt call in a thread; its errors become
        DriverErrors that say what was being done."""
        try:
            return await asyncio.to_thread(fn, *args)
        except libvirt.libvirtError as exc:
            raise DriverError(f"libvirt ({self.uri}): {what} failed: {message(exc)}") from exc

    async def connection(self) -> Any:
        async with self._conn_lock:
            if self._conn is not None:
                alive = await asyncio.to_thread(is_alive, self._conn)
                if alive:
                    return self._conn
                log.warning("libvirt: the connection to %s was lost: reconnecting", self.uri)
                self._conn = None
            try:
                self._conn = await asyncio.to_thread(libvirt.open, self.uri)
            except libvirt.libvirtError as exc:
                hint = ""
                if self.uri.startswith("qemu:///"):
                    hint = " (is libvirtd running? scripts/libvirtd.sh starts it without systemd)"
                raise DriverError(
                    f"libvirt: cannot connect to {self.uri}: {message(exc)}{hint}"
                ) from exc
            log.info("libvirt: connected to %s (%s guests)", self.uri, self.virt.label)
            return self._conn

    async def close(self) -> None:
        async with self._conn_lock:
            if self._conn is not None:
                with contextlib.suppress(Exception):
                    await asyncio.to_thread(self._conn.close)
                self._conn = None

    async def _domain(self, uuid: str) -> Any | None:
        conn = await self.connection()
        try:
            return await asyncio.to_thread(conn.lookupByUUIDString, uuid)
        except libvirt.libvirtError as exc:
            if exc.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
                return None
            raise DriverError(f"libvirt: cannot look up guest {uuid}: {message(exc)}") from exc

    async def _require(self, uuid: str) -> Any:
        dom = await self._domain(uuid)
        if dom is None:
            raise DriverError(f"guest {uuid} is not defined in libvirt on this host")
        return dom

    def _lock(self, uuid: str) -> asyncio.Lock:
        return self._locks.setdefault(uuid, asyncio.Lock())

    # -- host -------------------------------------------------------------------

    async def host_info(self) -> HostInfo:
        conn = await self.connection()
        await self._check_domain_capabilities(conn)
        info = await self._call("reading the host's resources", conn.getInfo)
        version = await self._call("reading the hypervisor version", conn.getVersion)
        self.instances_root.mkdir(parents=True, exist_ok=True)
        disk = await asyncio.to_thread(shutil.disk_usage, self.instances_root)
        accelerator = {"kvm": "kvm", "qemu": "tcg"}.get(self.virt.name, self.virt.name)
        return HostInfo(
            hostname=self.hostname,
            vcpus=int(info[2]),
            memory_mb=int(info[1]),
            disk_gb=disk.total // 2**30,
            hypervisor_type=self.virt.hypervisor_type,
            hypervisor_version=int(version),
            accelerator=accelerator,
        )

    async def _check_domain_capabilities(self, conn: Any) -> None:
        """Ask a QEMU host what it can run: a virt type it cannot run is a
        clear error at start, and without backup jobs the driver does not
        declare snapshots."""
        if self.virt.name not in ("qemu", "kvm"):
            return
        xml = await self._call(
            f"reading the host's capabilities for {self.virt.name} domains",
            conn.getDomainCapabilities,
            None,
            None,
            None,
            self.virt.name,
            0,
        )
        if not backup_supported(xml) and Capability.SNAPSHOT in self.capabilities:
            log.warning(
                "libvirt: %s has no backup jobs for %s domains: snapshots are not offered",
                self.uri,
                self.virt.name,
            )
            self.capabilities = self.capabilities - {Capability.SNAPSHOT}

    # -- inventory --------------------------------------------------------------

    async def guests(self) -> list[GuestStatus]:
        conn = await self.connection()
        domains = await self._call("listing domains", conn.listAllDomains, 0)
        found = []
        for dom in domains:
            if not dom.name().startswith(NAME_PREFIX) or await self._owned(dom) is None:
                continue
            found.append(await self._status(dom))
        return found

    async def _owned(self, dom: Any) -> Path | None:
        """The folder of a domain Stratus defined (its metadata element)."""
        try:
            xml = await asyncio.to_thread(
                dom.metadata, libvirt.VIR_DOMAIN_METADATA_ELEMENT, METADATA_NS, 0
            )
        except libvirt.libvirtError:
            return None
        return metadata_directory(xml)

    async def status(self, uuid: str) -> GuestStatus:
        dom = await self._domain(uuid)
        if dom is None:
            return GuestStatus(uuid, Power.NOSTATE)
        return await self._status(dom)

    async def _status(self, dom: Any) -> GuestStatus:
        uuid = dom.UUIDString()
        try:
            state, _reason = await asyncio.to_thread(dom.state, 0)
            saved = False
            if state == libvirt.VIR_DOMAIN_SHUTOFF:
                saved = bool(await asyncio.to_thread(dom.hasManagedSaveImage, 0))
        except libvirt.libvirtError as exc:
            if exc.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
                return GuestStatus(uuid, Power.NOSTATE)
            raise DriverError(f"libvirt: cannot read guest {uuid}'s state: {message(exc)}") from exc
        power = power_from_state(int(state), saved)
        pid = self._pid(dom.name()) if power in (Power.RUNNING, Power.PAUSED) else None
        return GuestStatus(uuid, power, pid)

    def _pid(self, name: str) -> int | None:
        """The QEMU process of a local qemu:///system domain (libvirt's pidfile)."""
        if self.virt.name not in ("qemu", "kvm"):
            return None
        with contextlib.suppress(OSError, ValueError):
            return int(Path(f"/run/libvirt/qemu/{name}.pid").read_text().strip())
        return None

    async def _running(self, uuid: str) -> Any:
        dom = await self._require(uuid)
        if not await self._call("reading state", dom.isActive):
            raise DriverError(f"guest {uuid} is not running")
        return dom
