"""``createImage`` of a server booted from a volume, as Nova does it: no
disk is copied; each of the server's volumes gets a Cinder snapshot (taken
while attached: ``force``), and the image records them in its
``block_device_mapping`` property (``bdm_v2``, ``root_device_name``),
holding no data itself (``size`` 0, active at once)."""

from __future__ import annotations

import json
import logging
import tempfile
from pathlib import Path
from typing import Any

from stratus.common.context import RequestContext
from stratus.compute import models as m
from stratus.compute.service.image_records import (
    ImageRecords,
    ImageServiceError,
    snapshot_record,
)
from stratus.compute.service.volume_client import VolumeClient

log = logging.getLogger(__name__)


def mapping(row: m.VolumeAttachment, snapshot_id: str) -> dict[str, Any]:
    """One volume of the image's block_device_mapping (Nova's fields)."""
    return {
        "source_type": "snapshot",
        "destination_type": "volume",
        "snapshot_id": snapshot_id,
        "volume_id": None,
        "image_id": None,
        "volume_size": row.volume_size,
        "boot_index": row.boot_index,
        "device_name": row.device,
        "delete_on_termination": row.delete_on_termination,
        "tag": row.tag,
        "disk_bus": "virtio",
        "device_type": "disk",
        "guest_format": None,
        "no_device": None,
    }


async def snapshot_volume_backed(
    ctx: RequestContext,
    server: m.Server,
    rows: list[m.VolumeAttachment],
    client: VolumeClient,
    records: ImageRecords,
    name: str,
    metadata: dict[str, str],
) -> str:
    """The image's id, once each volume's snapshot is asked for."""
    snapshots = []
    for row in rows:
        snapshot_id = await client.create_snapshot(ctx, row.volume_id, f"snapshot for {name}")
        snapshots.append(mapping(row, snapshot_id))
    record = snapshot_record(
        name=name,
        server_id=server.id,
        project_id=server.project_id,
        user_id=ctx.user_id or server.user_id,
        image_type="snapshot",
        base_image_ref="",
        base=None,
        root_gb=0,
        metadata=metadata,
        extra={
            "block_device_mapping": json.dumps(snapshots),
            "bdm_v2": "True",
            "root_device_name": "/dev/vda",
        },
    )
    record.update(disk_format="raw", container_format="bare")
    created = await records.create(record)
    image_id = str(created["id"])
    try:  # no data: an empty upload makes it active, as Nova's are
        with tempfile.TemporaryDirectory(prefix="stratus-bdm-") as tmp:
            empty = Path(tmp) / "empty"
            empty.write_bytes(b"")
            await records.upload(image_id, empty)
    except ImageServiceError as exc:
        log.warning("compute: image %s of server %s stays queued: %s", image_id, server.id, exc)
    log.info(
        "compute: server %s: volume-backed snapshot %s of %d volume(s)",
        server.id, image_id, len(snapshots),
    )  # fmt: skip
    return image_id
