"""The block storage service layer: one facade over its parts."""

from __future__ import annotations

from typing import Any, Protocol

from stratus.common.config import Config
from stratus.common.db import Database
from stratus.common.service_auth import service_session
from stratus.volume.service.actions import VolumeActions
from stratus.volume.service.attachments import Attachments
from stratus.volume.service.backups import Backups
from stratus.volume.service.hosts import Hosts, agent_of
from stratus.volume.service.images import ImageClient
from stratus.volume.service.quotas import Quotas
from stratus.volume.service.snapshots import Snapshots
from stratus.volume.service.transfers import Messages, Transfers
from stratus.volume.service.types import Qos, Types
from stratus.volume.service.volumes import Volumes


class Wakeable(Protocol):
    def wake(self) -> None: ...


class VolumeService:
    def __init__(self, cfg: Config, db: Database, image_url: str):
        vc = cfg.volume
        self.cfg = cfg
        self.db = db
        self.quotas = Quotas(db, vc)
        self.types = Types(db, vc.default_volume_type)
        self.qos = Qos(db)
        self.hosts = Hosts(db, vc)
        # The service's token goes beside a caller's that access rules restrict.
        self.session = service_session(cfg)
        self.images = ImageClient(image_url, session=self.session)
        self.volumes = Volumes(
            db, self.quotas, self.types, self.hosts, self.images, self.wake, vc.availability_zone
        )
        self.actions = VolumeActions(db, self.quotas, self.types, self.images, self.wake)
        self.attachments = Attachments(db, self.wake, vc.export_timeout)
        self.snapshots = Snapshots(db, self.quotas, self.wake)
        self.backups = Backups(db, vc, self.quotas, self.hosts, self.volumes, self.wake)
        self.transfers = Transfers(db, self.quotas)
        self.messages = Messages(db)
        # Agents running in this process, by host name: woken at once when
        # work is recorded for them (agents of their own process poll).
        self.agents: dict[str, Wakeable] = {}

    def wake(self, host: str | None) -> None:
        agent = self.agents.get(agent_of(host)) if host else None
        if agent is not None:
            agent.wake()

    async def start(self) -> None:
        await self.types.ensure_default()

    async def stop(self) -> None:
        await self.session.close()
        for agent in list(self.agents.values()):
            stop: Any = getattr(agent, "stop", None)
            if stop is not None:
                await stop()
        self.agents.clear()
        await self.images.close()
