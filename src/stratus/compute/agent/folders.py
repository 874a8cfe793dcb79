"""Where a compute host keeps its files, as plain functions of its
``instances`` folder (``DATA_DIR/compute/<host>/instances``):

    <host>/instances/<server id>/   a guest's folder (the driver's)
    <host>/instances/.stratus-host  names the host the folder belongs to
    <host>/moves/<server id>/       a server's folder set aside while it moves
    <host>/images/                  the image cache

The agent channel and the move workflow both use them, so neither needs the
other (nor the agent).
"""

from __future__ import annotations

import asyncio
import logging
import shutil
from pathlib import Path

log = logging.getLogger(__name__)

HOST_MARKER = ".stratus-host"  # names the host an instances folder belongs to
INCOMING = "incoming.disk"  # the name an arriving disk gets in the server's folder


def moved_folder(instances: Path, server_id: str) -> Path:
    """Where a server's folder waits, untouched, while it is moved away."""
    return instances.parent / "moves" / server_id


async def drop_moved(instances: Path, server_id: str) -> None:
    """Delete the folder a move left aside on this host (confirm)."""
    aside = moved_folder(instances, server_id)
    if aside.exists():
        await asyncio.to_thread(shutil.rmtree, aside)
        log.info("compute: server %s: old copy on %s deleted", server_id, instances.parent.name)


def write_host_marker(instances: Path, host: str) -> None:
    """Name this host in its instances folder, so that an agent that can see
    the folder (shared storage, or one machine) knows whose it is."""
    (instances / HOST_MARKER).write_text(host + "\n")


def reachable_folder(instances: Path, source: str, server_id: str) -> Path | None:
    """The source host's folder of the server, if this host can read it: the
    source's instances folder (laid out as this host's, beside it) carries
    the source's marker file.  Otherwise the disk is out of reach."""
    root = instances.parent.parent / source / instances.name
    try:
        if (root / HOST_MARKER).read_text().strip() != source:
            return None
    except OSError:
        return None
    folder = root / server_id
    return folder if folder.is_dir() else None
