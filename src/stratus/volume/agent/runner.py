"""Building a volume agent from the configuration: in the all-in-one, and
as `stratus volume-agent --host NAME`."""

from __future__ import annotations

import logging
import socket

from sqlalchemy import select

from stratus.common.config import Config
from stratus.common.db import Database
from stratus.common.reconciler import Timing
from stratus.common.service_auth import ServiceSession, service_client, service_session
from stratus.registry import SERVICES
from stratus.volume import models as m
from stratus.volume.agent.agent import VolumeAgent
from stratus.volume.agent.backups import BackupWork
from stratus.volume.agent.exports import ExportWork
from stratus.volume.agent.images import ImageTransfer
from stratus.volume.agent.recorder import Recorder
from stratus.volume.agent.volumes import VolumeWork
from stratus.volume.drivers.base import BackupStore, VolumeDriver
from stratus.volume.drivers.iscsi_export import TgtExports
from stratus.volume.drivers.nbd_export import NbdExports

log = logging.getLogger(__name__)


def host_name(cfg: Config) -> str:
    return cfg.volume.host or socket.gethostname()


def make_driver(cfg: Config, host: str) -> VolumeDriver:
    if cfg.volume.driver == "fake":
        from stratus.volume.drivers.fake import FakeDriver

        return FakeDriver()
    from stratus.volume.drivers.file import FileDriver

    root = cfg.data_path(cfg.volume.volumes_dir) / host
    return FileDriver(root, fmt=cfg.volume.file_format, capacity_gb=cfg.volume.capacity_gb)


def make_store(cfg: Config, session: ServiceSession) -> BackupStore:
    if cfg.volume.driver == "fake":
        from stratus.volume.drivers.fake import FakeBackupStore

        return FakeBackupStore()
    from stratus.volume.drivers.swift import SwiftBackupStore

    url = SERVICES["object-store"].endpoint_url(cfg.public_url).split("/AUTH_")[0]
    return SwiftBackupStore(url, session)


class ComputeNotifier:
    """Tells compute that an attached volume grew (Nova's external event
    ``volume-extended``), so that the guest's disk can be resized there."""

    def __init__(self, db: Database, compute_url: str, session: ServiceSession):
        self.db = db
        self.url = f"{compute_url.rstrip('/')}/os-server-external-events"
        self.session = session
        self.client = service_client(session, timeout=30.0)  # a new token once on a 401

    async def extended(self, volume: m.Volume, new_size: int) -> None:
        async with self.db.session() as s:
            servers = [
                x
                for x in await s.scalars(
                    select(m.Attachment.instance_uuid).where(m.Attachment.volume_id == volume.id)
                )
                if x
            ]
        events = [{"name": "volume-extended", "server_uuid": u, "tag": volume.id} for u in servers]
        if not events:
            return
        headers = {"OpenStack-API-Version": "compute 2.51"}  # volume-extended came with 2.51
        resp = await self.client.post(self.url, json={"events": events}, headers=headers)
        if resp.status_code not in (200, 207):
            log.info(
                "volume: compute did not take the volume-extended event (%s)", resp.status_code
            )

    async def close(self) -> None:
        await self.client.aclose()


def make_exports(
    cfg: Config, host: str, driver: VolumeDriver, db: Database, in_process: bool
) -> ExportWork | None:
    """The agent's network exports (a file backend's, NBD or iSCSI); the hosts that open its
    files directly: its own, ``local_hosts``, and in the all-in-one the
    compute and database hosts of the same process (the database service
    mounts a volume's file: it needs a local one)."""
    if cfg.volume.driver != "file":
        return None
    vc = cfg.volume
    local = {host, *vc.local_hosts}
    if in_process:  # compute and the database service of the same process
        local.add(cfg.compute.host or socket.gethostname())
        local.add(cfg.dbaas.host or cfg.compute.host or socket.gethostname())
    root = cfg.data_path(vc.volumes_dir) / host / "exports"
    exports: NbdExports | TgtExports
    if vc.target_protocol == "iscsi":
        exports = TgtExports(
            root.with_name("targets"), listen=vc.export_listen,
            advertise=vc.export_address or None, port=vc.target_port,
        )  # fmt: skip
    else:
        exports = NbdExports(root, listen=vc.export_listen, advertise=vc.export_address or None)
    return ExportWork(db, driver, exports, frozenset(local))


def build_agent(
    cfg: Config, db: Database, host: str | None = None, in_process: bool = False
) -> VolumeAgent:
    host = host or host_name(cfg)
    vc = cfg.volume
    session = service_session(cfg)
    driver = make_driver(cfg, host)
    store = make_store(cfg, session)
    recorder = Recorder(db, host, vc.backend_name)
    images = None
    if "image" in cfg.services.enabled or cfg.auth.mode == "remote":
        images = ImageTransfer(SERVICES["image"].endpoint_url(cfg.public_url), session)
    notifier = ComputeNotifier(db, SERVICES["compute"].endpoint_url(cfg.public_url), session)
    backups = BackupWork(
        driver, store, recorder, chunk_size=vc.backup_chunk_size, compression=vc.backup_compression
    )
    volumes = VolumeWork(driver, recorder, images, backups.restore_into, notifier.extended)
    exports = make_exports(cfg, host, driver, db, in_process)
    if exports is not None:
        volumes.grow_exported = exports.grow
        volumes.exports_resized = exports.resized
        volumes.consumer_grows = exports.consumer_grows
    closers: list[object] = [store, notifier, session]
    if images is not None:
        closers.append(images)
    return VolumeAgent(
        db,
        host=host,
        backend=vc.backend_name,
        zone=vc.availability_zone,
        driver=driver,
        store=store,
        volumes=volumes,
        backups=backups,
        recorder=recorder,
        over_subscription=vc.max_over_subscription_ratio,
        timing=Timing(poll_interval=1.0, sync_interval=vc.sync_interval, heartbeat_interval=10.0),
        closers=closers,
        exports=exports,
    )
