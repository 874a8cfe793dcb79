"""Volumes in QEMU guests: a volume is a block node (``blockdev-add``: a
local file, an NBD export read by QEMU's own NBD client, or an iSCSI LUN
read by its iSCSI client, the CHAP secret a ``secret`` object) and a
``virtio-blk-pci`` device on it.  A running guest gets and loses them over
QMP (``device_add``/``device_del``, ``blockdev-add``/``blockdev-del``); a
guest started with volumes attached gets the same node and device names on
its command line, so a later detach finds them."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from pathlib import Path
from typing import Any

from stratus.compute.drivers.base import DriverError, VolumeDisk
from stratus.compute.drivers.qmp import QMPClient, QMPError

log = logging.getLogger(__name__)

SERIAL_MAX = 20  # virtio-blk's serial holds 20 bytes
ASK_AGAIN = 10.0  # seconds between the requests to release a disk
RECONNECT_DELAY = 30  # seconds an NBD disk's requests wait for its export to return


def node_name(disk: VolumeDisk) -> str:
    """The block node's name (QEMU keeps up to 31 characters)."""
    return "vol-" + disk.serial.replace("-", "")[:24]


def device_id(disk: VolumeDisk) -> str:
    return "voldev-" + (disk.device_serial or disk.serial).replace("-", "")[:24]


def _protocol(disk: VolumeDisk) -> dict[str, Any]:
    if disk.kind == "file":
        return {"driver": "file", "filename": disk.path}
    if disk.kind == "nbd":
        host, _, port = disk.path.rpartition(":")
        node: dict[str, Any] = {
            "driver": "nbd",
            "server": {"type": "inet", "host": host, "port": port},
            "export": disk.export,
            # The volume host stops an export a moment to grow its volume:
            # requests wait for the reconnection instead of failing.
            "reconnect-delay": RECONNECT_DELAY,
        }
        if disk.psk_file:
            node["tls-creds"] = tls_id(disk)
        return node
    if disk.kind == "iscsi":
        node = {
            "driver": "iscsi", "transport": "tcp", "portal": disk.path, "target": disk.export,
            "lun": disk.lun,
            # One initiator per attachment: the source and destination of a
            # migration have sessions of their own, never reinstating each other.
            "initiator-name": f"iqn.2010-10.org.openstack:{disk.psk_identity or node_name(disk)}",
        }  # fmt: skip
        if disk.psk_file:
            node["user"] = disk.psk_identity
            node["password-secret"] = tls_id(disk)
        return node
    raise DriverError(f"volume {disk.serial}: connections of type {disk.kind!r} are not supported")


def tls_id(disk: VolumeDisk) -> str:
    return "tls-" + disk.serial.replace("-", "")[:24]


def tls_object(disk: VolumeDisk) -> dict[str, Any]:
    """The credentials object a connection with a key needs: TLS-PSK for an
    NBD export, a ``secret`` read from a file for an iSCSI CHAP secret."""
    if disk.kind == "iscsi":
        return {"qom-type": "secret", "id": tls_id(disk), "file": disk.psk_file}
    return {
        "qom-type": "tls-creds-psk",
        "id": tls_id(disk),
        "endpoint": "client",
        "dir": str(Path(disk.psk_file).parent),
        "username": disk.psk_identity,
    }


def blockdev(disk: VolumeDisk) -> dict[str, Any]:
    """The block node of a volume: its format over its protocol (an NBD
    export of the image's format is a raw disk; one of the file's bytes, or
    an iSCSI LUN of a qcow2 file, carries the format its consumer runs)."""
    fmt = disk.fmt if disk.kind in ("file", "nbd", "iscsi") else "raw"
    return {
        "driver": fmt,
        "node-name": node_name(disk),
        "read-only": disk.readonly,
        "cache": {"direct": False, "no-flush": False},
        "file": _protocol(disk),
    }


FIRST_SLOT = 0x10  # data volumes' PCI slots: /dev/vdb is 0x11 ... /dev/vdp 0x1f


def pci_slot(disk: VolumeDisk) -> str | None:
    """The fixed PCI slot of a data volume's device, from its name
    (``/dev/vdb`` -> ``0x11``): a guest started with the volume (a live
    migration's destination, a restart) and one that got it hot-plugged
    have it at the same address, as a migration stream needs.  Devices
    QEMU places itself (the root disk, NICs) take the lowest free slots.
    None (QEMU's choice) past ``/dev/vdp``."""
    name = disk.device.rsplit("/", 1)[-1]
    if len(name) != 3 or not name.startswith("vd") or not "b" <= name[2] <= "p":
        return None
    return hex(FIRST_SLOT + ord(name[2]) - ord("a"))


def device(disk: VolumeDisk, bootindex: int | None = None) -> dict[str, Any]:
    dev: dict[str, Any] = {
        "driver": "virtio-blk-pci",
        "id": device_id(disk),
        "drive": node_name(disk),
        "serial": (disk.device_serial or disk.serial)[:SERIAL_MAX],
    }
    if bootindex is not None:
        dev["bootindex"] = bootindex
    else:
        slot = pci_slot(disk)
        if slot is not None:
            dev["addr"] = slot
    return dev


def command_args(disk: VolumeDisk, bootindex: int | None = None) -> list[str]:
    """The command-line options that start a guest with the volume attached."""
    args: list[str] = []
    if disk.kind in ("nbd", "iscsi") and disk.psk_file:
        obj = tls_object(disk)
        args += ["-object", json.dumps(obj)]
    args += ["-blockdev", json.dumps(blockdev(disk))]
    dev = device(disk, bootindex)
    args += ["-device", ",".join(f"{k}={_opt(v)}" for k, v in dev.items())]
    return args


def _opt(value: object) -> str:
    return str(value).replace(",", ",,")


def _absent(exc: QMPError) -> bool:
    text = str(exc).lower()
    return "not found" in text or "no such" in text or "cannot find" in text


def _duplicate(exc: QMPError) -> bool:
    text = str(exc).lower()
    return "duplicate" in text or "already" in text or "in use" in text


async def _devices(qmp: QMPClient) -> set[str]:
    found = await qmp.execute("qom-list", {"path": "/machine/peripheral"})
    return {str(p.get("name")) for p in found or [] if str(p.get("type", "")).startswith("child<")}


async def _nodes(qmp: QMPClient) -> set[str]:
    found = await qmp.execute("query-named-block-nodes", {"flat": True})
    return {str(n.get("node-name")) for n in found or []}


async def hotplug(qmp: QMPClient, disk: VolumeDisk) -> None:
    """Add the volume's node and device unless the guest has them already."""
    await hotplug_node(qmp, disk)
    if device_id(disk) not in await _devices(qmp):
        try:
            await qmp.execute("device_add", device(disk))
        except QMPError as exc:
            raise DriverError(f"volume {disk.serial}: the disk could not be added: {exc}") from exc


async def hotplug_node(qmp: QMPClient, disk: VolumeDisk) -> None:
    """Open the volume's block node (and its TLS credentials) unless open."""
    if disk.kind in ("nbd", "iscsi") and disk.psk_file:
        try:
            await qmp.execute("object-add", tls_object(disk))
        except QMPError as exc:
            if not _duplicate(exc):
                raise DriverError(f"volume {disk.serial}: {exc}") from exc
    if node_name(disk) not in await _nodes(qmp):
        try:
            await qmp.execute("blockdev-add", blockdev(disk))
        except QMPError as exc:
            raise DriverError(f"volume {disk.serial}: the disk could not be opened: {exc}") from exc


async def resize(qmp: QMPClient, disk: VolumeDisk, size: int) -> None:
    """Grow the volume's node to ``size`` bytes (QMP ``block_resize``): the
    guest's virtio disk announces its new capacity.  Never shrinks."""
    found = await qmp.execute("query-named-block-nodes", {"flat": True})
    node = next((n for n in found or [] if n.get("node-name") == node_name(disk)), None)
    if node is None:
        raise DriverError(f"volume {disk.serial}: the guest has no such disk")
    current = int((node.get("image") or {}).get("virtual-size") or 0)
    if current >= size:
        return
    try:
        await qmp.execute("block_resize", {"node-name": node_name(disk), "size": size})
    except QMPError as exc:
        raise DriverError(f"volume {disk.serial}: the disk could not grow: {exc}") from exc


async def swap(qmp: QMPClient, old: VolumeDisk, new: VolumeDisk, timeout: float) -> None:
    """Mirror ``old``'s node onto ``new``'s (``blockdev-mirror``, full),
    then pivot the guest's device to it (``job-complete``) and close
    ``old``: the guest keeps its disk, now on the new volume."""
    nodes = await _nodes(qmp)
    if node_name(old) not in nodes and node_name(new) in nodes:
        return  # swapped already
    await hotplug_node(qmp, new)
    job = "swap-" + new.serial.replace("-", "")[:24]
    jobs = {str(j.get("device")) for j in await qmp.execute("query-block-jobs") or []}
    if job not in jobs:
        args = {"job-id": job, "device": node_name(old), "target": node_name(new), "sync": "full"}
        try:
            await qmp.execute("blockdev-mirror", args)
        except QMPError as exc:
            raise DriverError(f"volume {new.serial}: the copy could not start: {exc}") from exc
    await _wait_job(qmp, job, "ready", timeout)
    await qmp.execute("job-complete", {"id": job})
    await _wait_job(qmp, job, "gone", timeout)
    try:
        await qmp.execute("blockdev-del", {"node-name": node_name(old)})
    except QMPError as exc:
        if not _absent(exc):
            raise DriverError(f"volume {old.serial}: {exc}") from exc


async def _wait_job(qmp: QMPClient, job: str, until: str, timeout: float) -> None:
    """Until the block job is ready to pivot (``ready``) or has ended
    (``gone``); an error the job met is a DriverError."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        found = [j for j in await qmp.execute("query-block-jobs") or [] if j.get("device") == job]
        for event in qmp.events():
            data = event.get("data") or {}
            if event.get("event") == "BLOCK_JOB_COMPLETED" and data.get("error"):
                raise DriverError(f"the copy of {job} failed: {data['error']}")
        if until == "ready" and found and found[0].get("ready"):
            return
        if not found:
            if until == "gone":
                return
            raise DriverError(f"the copy {job} ended before it was ready")
        if loop.time() > deadline:
            with contextlib.suppress(QMPError):
                await qmp.execute("block-job-cancel", {"device": job, "force": True})
            raise DriverError(f"the copy {job} did not finish within {timeout:g} s")
        with contextlib.suppress(QMPError):
            await qmp.wait_event(
                "BLOCK_JOB_READY" if until == "ready" else "JOB_STATUS_CHANGE", 0.2
            )


async def unplug(qmp: QMPClient, disk: VolumeDisk, timeout: float) -> None:
    """Ask the guest to let the device go, wait until it has (its writes
    are flushed by then), then close the node."""
    if device_id(disk) in await _devices(qmp):
        if not await _ask_until_deleted(qmp, disk, timeout):
            raise DriverError(
                f"volume {disk.serial}: the guest did not release the disk within "
                f"{timeout:g} s; it stays attached"
            )
    if node_name(disk) in await _nodes(qmp):
        try:
            await qmp.execute("blockdev-del", {"node-name": node_name(disk)})
        except QMPError as exc:
            if not _absent(exc):
                raise DriverError(f"volume {disk.serial}: {exc}") from exc
    if disk.kind in ("nbd", "iscsi") and disk.psk_file:
        try:
            await qmp.execute("object-del", {"id": tls_id(disk)})
        except QMPError as exc:
            log.debug("volume %s: %s", disk.serial, exc)


async def _ask_until_deleted(qmp: QMPClient, disk: VolumeDisk, timeout: float) -> bool:
    """Ask the guest for the device every ``ASK_AGAIN`` seconds until it
    lets it go (True) or ``timeout`` passes (False): a guest still booting
    misses the request, as Nova's detach retries know."""
    dev = device_id(disk)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        try:
            await qmp.execute("device_del", {"id": dev})
        except QMPError as exc:
            if _absent(exc):
                return True
            if not _duplicate(exc):  # "already in the process of unplug": wait on
                raise DriverError(f"volume {disk.serial}: {exc}") from exc
        left = deadline - loop.time()
        try:
            await _wait_deleted(qmp, dev, max(0.0, min(ASK_AGAIN, left)))
            return True
        except QMPError:
            if dev not in await _devices(qmp):
                return True
            if loop.time() >= deadline:
                return False


async def _wait_deleted(qmp: QMPClient, dev: str, timeout: float) -> None:
    while True:
        event = await qmp.wait_event("DEVICE_DELETED", timeout)
        if event.get("data", {}).get("device") == dev:
            return
