"""A running QEMU guest's diagnostics, read over QMP (``query-status``,
``query-cpus-fast``, ``query-memory-size-summary``, ``query-blockstats``,
``query-rx-filter``) and from its process in ``/proc``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from stratus.compute.drivers.base import Diagnostics, DiskStats, NicStats
from stratus.compute.drivers.qmp import QMPClient, QMPError

# QEMU's run states, as Nova's diagnostics name them.
STATES = {
    "running": "running",
    "paused": "paused",
    "suspended": "suspended",
    "shutdown": "shutdown",
    "guest-panicked": "crashed",
    "internal-error": "crashed",
    "io-error": "crashed",
}
# The root disk's drive id (qemu_command.py) and the name the guest gives it.
DISK_NAMES = {"disk0": "vda", "rescue0": "vda"}


async def read_diagnostics(
    qmp: QMPClient, pid: int, accelerator: str, config_drive: bool
) -> Diagnostics:
    status = await qmp.execute("query-status")
    cpus = await qmp.execute("query-cpus-fast")
    memory = await qmp.execute("query-memory-size-summary")
    blocks = await qmp.execute("query-blockstats")
    try:
        filters = await qmp.execute("query-rx-filter")
    except QMPError:  # no NIC that reports its filter
        filters = []
    return Diagnostics(
        state=STATES.get(str(status.get("status")), "pending"),
        driver="qemu",
        hypervisor="kvm" if accelerator == "kvm" else "qemu",
        hypervisor_os="linux",
        uptime=process_uptime(pid),
        num_cpus=len(cpus),
        memory_mb=int(memory.get("base-memory", 0)) // 2**20,
        disks=tuple(_disk(b) for b in blocks if _disk_name(b)),
        nics=tuple(NicStats(mac_address=str(f.get("main-mac", ""))) for f in filters),
        config_drive=config_drive,
    )


def _disk_name(block: dict[str, Any]) -> str:
    device = str(block.get("device") or "")
    return DISK_NAMES.get(device, device)


def _disk(block: dict[str, Any]) -> DiskStats:
    stats = block.get("stats", {})
    return DiskStats(
        name=_disk_name(block),
        read_bytes=int(stats.get("rd_bytes", 0)),
        read_requests=int(stats.get("rd_operations", 0)),
        write_bytes=int(stats.get("wr_bytes", 0)),
        write_requests=int(stats.get("wr_operations", 0)),
        errors_count=int(stats.get("failed_rd_operations", 0))
        + int(stats.get("failed_wr_operations", 0)),
    )


def process_uptime(pid: int) -> int | None:
    """Seconds since process ``pid`` started (None: it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        since_boot = float(Path("/proc/uptime").read_text().split()[0])
    except OSError:
        return None
    # The fields after the command (which may hold spaces) in parentheses;
    # the start time is field 22, in clock ticks since boot.
    fields = stat.rpartition(")")[2].split()
    started = int(fields[19]) / os.sysconf("SC_CLK_TCK")
    return max(0, int(since_boot - started))
