"""The all-in-one's object storage: one device in the data folder, one node
served in-process, and rings made at the first start."""

from __future__ import annotations

import logging
from pathlib import Path

from stratus.common.config import Config
from stratus.objectstore.ring.builder import RingBuilder, folder_salt

log = logging.getLogger(__name__)

RING_KINDS = ("account", "container", "object")
PART_POWER = 10


def devices_root(cfg: Config) -> Path:
    return cfg.data_path(cfg.objectstore.devices_dir)


def ring_dir(cfg: Config) -> Path:
    return cfg.data_path(cfg.objectstore.ring_dir)


def ensure_rings(cfg: Config) -> None:
    """One ring per kind over the all-in-one's device, when there are none."""
    rings = ring_dir(cfg)
    rings.mkdir(parents=True, exist_ok=True)
    device = cfg.objectstore.device
    (devices_root(cfg) / device).mkdir(parents=True, exist_ok=True)
    for kind in RING_KINDS:
        path = rings / f"{kind}.ring.gz"
        if path.exists():
            continue
        salt = folder_salt(rings)
        builder = RingBuilder(
            PART_POWER,
            1,
            hash_prefix=salt[0] if salt else None,
            hash_suffix=salt[1] if salt else None,
        )
        builder.add_device(1, 1, cfg.objectstore.node_ip, cfg.objectstore.node_port, device, 100.0)
        builder.rebalance()
        builder.save(path)
        log.info("object store: created the %s ring (1 replica, device %s)", kind, device)
