"""What the libvirt driver reads of libvirt: error messages, domain states as
Nova's power states, backup jobs (whether the host has them, their XML, their
end) and a domain going inactive."""

from __future__ import annotations

import asyncio
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

from stratus.compute.drivers.base import DriverError, Power

try:
    import libvirt
except ImportError:  # an optional extra: make_driver explains what is missing
    libvirt = None


def message(exc: Exception) -> str:
    get = getattr(exc, "get_error_message", None)
    text = get() if callable(get) else None
    return str(text or exc)


def is_alive(conn: Any) -> bool:
    try:
        return bool(conn.isAlive())
    except Exception:
        return False


def power_from_state(state: int, saved: bool = False) -> Power:
    """libvirt's domain state -> Nova's power state."""
    if libvirt is None:
        raise DriverError("libvirt-python is not installed")
    if state in (libvirt.VIR_DOMAIN_RUNNING, libvirt.VIR_DOMAIN_BLOCKED):
        return Power.RUNNING
    if state == libvirt.VIR_DOMAIN_SHUTDOWN:  # shutting down: still running
        return Power.RUNNING
    if state == libvirt.VIR_DOMAIN_PAUSED:
        return Power.PAUSED
    if state == libvirt.VIR_DOMAIN_SHUTOFF:
        return Power.SUSPENDED if saved else Power.SHUTDOWN
    if state == libvirt.VIR_DOMAIN_CRASHED:
        return Power.CRASHED
    if state == libvirt.VIR_DOMAIN_PMSUSPENDED:
        return Power.SUSPENDED
    return Power.NOSTATE


def backup_supported(domain_capabilities: str) -> bool:
    """Whether domain capabilities XML says backup jobs work."""
    try:
        root = ET.fromstring(domain_capabilities)
    except ET.ParseError:
        return False
    backup = root.find("features/backup")
    return backup is not None and backup.get("supported") == "yes"


def backup_xml(target: Path) -> str:
    """A push backup of the root disk (vda) to a new standalone qcow2;
    other disks (the read-only config drive) are left out."""
    return (
        "<domainbackup mode='push'><disks>"
        f"<disk name='vda' backup='yes' type='file'><target file={quoteattr(str(target))}/>"
        "<driver type='qcow2'/></disk>"
        "</disks></domainbackup>"
    )


async def wait_inactive(dom: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if not await asyncio.to_thread(dom.isActive):
                return True
        except Exception:
            return True  # gone
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(0.2)


async def wait_job(dom: Any, timeout: float) -> dict[str, Any]:
    """Wait for a domain's job to end; its completed statistics."""
    deadline = time.monotonic() + timeout
    while True:
        stats = await asyncio.to_thread(dom.jobStats, 0)
        if stats.get("type", libvirt.VIR_DOMAIN_JOB_NONE) == libvirt.VIR_DOMAIN_JOB_NONE:
            break
        if time.monotonic() >= deadline:
            raise DriverError(f"the backup job did not finish within {timeout:g} s")
        await asyncio.sleep(0.05)
    completed = await asyncio.to_thread(dom.jobStats, libvirt.VIR_DOMAIN_JOB_STATS_COMPLETED)
    return dict(completed)
