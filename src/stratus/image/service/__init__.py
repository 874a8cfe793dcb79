"""The image service layer: one facade over its parts."""

from __future__ import annotations

import logging
import time

from stratus.common.config import Config
from stratus.common.db import Database
from stratus.image.drivers.base import Store
from stratus.image.drivers.file import FileStore
from stratus.image.service import recovery
from stratus.image.service.data import Data
from stratus.image.service.images import Images
from stratus.image.service.imports import Imports
from stratus.image.service.metadefs import Metadefs
from stratus.image.service.quota import LimitLookup, Quota

log = logging.getLogger(__name__)


def make_store(cfg: Config) -> Store:
    if cfg.image.store == "file":
        return FileStore(cfg.data_path(cfg.image.file_dir))
    if cfg.image.store == "swift":
        from stratus.common.service_auth import service_session
        from stratus.image.drivers.swift import SwiftStore
        from stratus.registry import SERVICES

        info = SERVICES["object-store"]
        return SwiftStore(
            f"{cfg.public_url}{info.prefix}/v1",
            service_session(cfg),
            container=cfg.image.swift_container,
            segment_size=cfg.image.swift_segment_size,
        )
    raise ValueError(f"unknown image store {cfg.image.store!r}")


class ImageService:
    def __init__(
        self,
        cfg: Config,
        db: Database,
        store: Store | None = None,
        limits: LimitLookup | None = None,
    ):
        self.cfg = cfg
        self.db = db
        self.started_at = time.time()
        self.store = store or make_store(cfg)
        self.quota = Quota(db, cfg.image.quota_images, cfg.image.quota_bytes, limits)
        self.images = Images(db, self.quota)
        self.data = Data(
            db,
            self.images,
            self.store,
            self.quota,
            cfg.image.max_image_size,
            require_format_match=cfg.image.require_format_match,
        )
        self.metadefs = Metadefs(db)
        self.imports = Imports(
            db,
            self.images,
            self.data,
            methods=cfg.image.import_methods,
            allowed_hosts=cfg.image.web_download_allowed_hosts,
            convert_to=cfg.image.import_convert_to,
        )

    async def start(self) -> None:
        """In the primary, before it serves: interrupted imports and uploads."""
        self.started_at = time.time()
        await self.imports.recover()
        await recovery.reset_uploads(self.db)

    async def sweep(self) -> None:
        """Remove what a crash left in the store (the primary, once started)."""
        await recovery.sweep(self.db, self.store, self.started_at)

    async def stop(self) -> None:
        await self.imports.stop()
