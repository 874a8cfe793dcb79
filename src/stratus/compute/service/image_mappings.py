"""The volumes an image asks for: the ``block_device_mapping`` property
that ``createImage`` of a volume-backed server writes (``bdm_v2`` True,
one entry per volume, source ``snapshot``; see ``volume_snapshots.py``).
Booting such an image boots from new volumes made from those snapshots,
as Nova does; mappings the request names for the same device win."""

from __future__ import annotations

import json
from typing import Any

from stratus.compute.errors import BadRequest
from stratus.compute.service.boot_volumes import BootVolume
from stratus.compute.service.images import ImageInfo

SOURCE_KEYS = {"snapshot": "snapshot_id", "volume": "volume_id", "image": "image_id"}


def _truthy(value: Any) -> bool:
    return str(value).strip().lower() in ("true", "1", "yes", "on")


def _entries(image: ImageInfo) -> list[dict[str, Any]]:
    raw = image.properties.get("block_device_mapping")
    if raw is None or not _truthy(image.properties.get("bdm_v2", False)):
        return []
    try:
        found = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError as exc:
        raise BadRequest(f"Image {image.id} has a block_device_mapping that is not JSON.") from exc
    if not isinstance(found, list) or not all(isinstance(e, dict) for e in found):
        raise BadRequest(f"Image {image.id} has a block_device_mapping that is not a list.")
    return found


def _index(value: Any) -> int | None:
    try:
        index = None if value in (None, "", "none") else int(value)
    except (TypeError, ValueError) as exc:
        raise BadRequest(f"Invalid boot_index {value!r} in the image's mappings.") from exc
    return None if index is None or index < 0 else index


def image_volumes(image: ImageInfo) -> list[BootVolume]:
    """The image's mappings of destination ``volume`` as boot volumes."""
    volumes = []
    for entry in _entries(image):
        if entry.get("destination_type") != "volume" or entry.get("no_device"):
            continue
        source = str(entry.get("source_type") or "")
        if source == "blank":
            source_id = None
        elif source in SOURCE_KEYS and entry.get(SOURCE_KEYS[source]):
            source_id = str(entry[SOURCE_KEYS[source]])
        else:
            raise BadRequest(f"Image {image.id} has a block device mapping without its source.")
        size = entry.get("volume_size")
        volumes.append(
            BootVolume(
                source,
                source_id,
                _index(entry.get("boot_index")),
                int(size) if size else None,
                bool(entry.get("delete_on_termination")),
                entry.get("device_name") or None,
                entry.get("tag") or None,
            )
        )
    return volumes


def merged(from_image: list[BootVolume], asked: tuple[Any, ...]) -> tuple[BootVolume, ...]:
    """The image's volumes with the request's: the request wins a device
    they both name, and only its root when it names one."""
    devices = {v.device for v in asked if v.device}
    root_asked = any(v.boot_index == 0 for v in asked)
    kept = [
        v for v in from_image if v.device not in devices and not (root_asked and v.boot_index == 0)
    ]
    return (*kept, *asked)
