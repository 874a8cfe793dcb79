"""The OpenStack config drive: an ISO9660 image labelled `config-2`.

Like Nova's, it holds `openstack/<version>/{meta_data,network_data,vendor_data}.json`
and `user_data` (when there is some) for the versions `latest` and `2012-08-10`,
with Rock Ridge and Joliet names, so that cloud-init and the tiny guest find it
by label and read it as an IDE cdrom or a virtio disk.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

import pycdlib

LABEL = "config-2"
VERSIONS = ("2012-08-10", "latest")


def config_drive_files(
    *,
    meta_data: dict[str, Any],
    user_data: bytes | None,
    network_data: dict[str, Any],
    vendor_data: dict[str, Any] | None = None,
) -> dict[str, bytes]:
    """The drive's files by path, as `build_config_drive` writes them."""
    docs = {
        "meta_data.json": _json(meta_data),
        "network_data.json": _json(network_data),
        "vendor_data.json": _json(vendor_data or {}),
    }
    if user_data is not None:
        docs["user_data"] = bytes(user_data)
    return {f"openstack/{v}/{name}": data for v in VERSIONS for name, data in docs.items()}


def build_config_drive(
    path: Path,
    *,
    meta_data: dict[str, Any],
    user_data: bytes | None,
    network_data: dict[str, Any],
    vendor_data: dict[str, Any] | None = None,
) -> None:
    """Write the config drive to `path` (mode 0600), atomically; blocking."""
    files = config_drive_files(
        meta_data=meta_data, user_data=user_data, network_data=network_data, vendor_data=vendor_data
    )
    iso = pycdlib.PyCdlib()
    iso.new(interchange_level=3, vol_ident=LABEL, joliet=3, rock_ridge="1.09")
    dirs: dict[str, str] = {"": ""}  # real folder path -> ISO9660 path
    for rel in sorted(files):
        parts = rel.split("/")
        for depth in range(1, len(parts)):
            folder = "/".join(parts[:depth])
            if folder not in dirs:
                dirs[folder] = (
                    dirs["/".join(parts[: depth - 1])] + "/" + _iso_name(parts[depth - 1])
                )
                iso.add_directory(dirs[folder], rr_name=parts[depth - 1], joliet_path="/" + folder)
        data = files[rel]
        iso_path = dirs["/".join(parts[:-1])] + "/" + _iso_name(parts[-1], file=True)
        iso.add_fp(io.BytesIO(data), len(data), iso_path, rr_name=parts[-1], joliet_path="/" + rel)
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            iso.write_fp(f)
            f.flush()
            os.fsync(f.fileno())
        iso.close()
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _json(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc).encode()


def _iso_name(name: str, *, file: bool = False) -> str:
    """A plain ISO9660 (level 3) name: Rock Ridge and Joliet carry the real one."""
    stem, _, ext = name.rpartition(".") if "." in name else (name, "", "")
    stem = re.sub(r"[^A-Z0-9_]", "_", stem.upper())[:30]
    if not file:
        return stem
    ext = re.sub(r"[^A-Z0-9_]", "_", ext.upper())[: 30 - len(stem)]
    return f"{stem}.{ext};1"
