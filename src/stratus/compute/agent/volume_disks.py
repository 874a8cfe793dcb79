"""The disk an attachment row's ``connection_info`` names, and the key or
secret it needs written where QEMU reads it (never on a command line)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from stratus.compute import models as m
from stratus.compute.drivers.base import VolumeDisk


def disk_of(row: m.VolumeAttachment) -> VolumeDisk | None:
    """The disk a row's ``connection_info`` names (None before it has one)."""
    info = row.connection_info or {}
    data: dict[str, Any] = info.get("data") or {}
    kind = str(info.get("driver_volume_type") or "")
    readonly = data.get("access_mode") == "ro"
    origin = str(info.get("device_serial") or "")
    if kind == "file" and data.get("path"):
        return VolumeDisk(
            row.volume_id, row.device, "file", str(data["path"]), str(data.get("format") or "raw"),
            readonly, device_serial=origin,
        )  # fmt: skip
    if kind == "nbd" and data.get("host"):
        return VolumeDisk(
            row.volume_id,
            row.device,
            "nbd",
            f"{data['host']}:{data.get('port', 10809)}",
            # a protocol export (the file's bytes): the guest's QEMU runs the format
            str(data.get("format") or "raw"),
            readonly=readonly,
            export=str(data.get("export") or ""),
            psk_identity=str(data.get("psk_identity") or ""),
            device_serial=origin,
        )
    if kind == "iscsi" and data.get("target_portal"):
        return VolumeDisk(
            row.volume_id, row.device, "iscsi", str(data["target_portal"]),
            # a qcow2 file's bytes (a live move's LUN): the guest's QEMU runs the format
            str(data.get("format") or "raw"), readonly=readonly,
            export=str(data.get("target_iqn") or ""), lun=int(data.get("target_lun") or 0),
            psk_identity=str(data.get("auth_username") or ""), device_serial=origin,
        )  # fmt: skip
    return None


KEYS = "nbd-"  # a server's folder holds an NBD key or iSCSI CHAP secret in nbd-<volume id[:8]>/


def write_psk(disk: VolumeDisk, row: m.VolumeAttachment, folder: Path) -> VolumeDisk:
    """An NBD export's pre-shared key, from the connection, written where
    QEMU's ``tls-creds-psk`` reads it (``folder/keys.psk``, mode 0600); an
    iSCSI target's CHAP secret where QEMU's ``secret`` object reads it
    (``folder/chap.secret``): never on a command line."""
    data = (row.connection_info or {}).get("data") or {}
    if disk.kind == "iscsi" and data.get("auth_password"):
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        secret = folder / "chap.secret"
        secret.touch(mode=0o600)
        secret.write_text(str(data["auth_password"]))
        return dataclasses.replace(disk, psk_file=str(secret))
    key = str(data.get("psk_key") or "")
    if disk.kind != "nbd" or not key:
        return disk
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    keys = folder / "keys.psk"
    keys.touch(mode=0o600)
    keys.write_text(f"{disk.psk_identity}:{key}\n")
    return dataclasses.replace(disk, psk_file=str(keys))
