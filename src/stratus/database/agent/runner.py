"""Building a database agent from the configuration: in the all-in-one
(its primary), and as `stratus database-agent`."""

from __future__ import annotations

import os
import socket
from typing import TYPE_CHECKING, Any

from stratus.common.config import Config
from stratus.common.db import Database
from stratus.common.reconciler import Timing
from stratus.common.service_auth import ServiceSession, service_session
from stratus.database.agent.agent import DatabaseAgent
from stratus.database.agent.backups import BackupWork
from stratus.database.agent.instances import InstanceWork
from stratus.database.agent.logs import LogWork
from stratus.database.agent.recorder import Recorder
from stratus.database.drivers.base import BackupStore, Datastore, Isolation, Network, Volumes
from stratus.registry import SERVICES

if TYPE_CHECKING:
    from stratus.database.drivers.swift import SwiftStore


def host_name(cfg: Config) -> str:
    return cfg.dbaas.host or cfg.compute.host or socket.gethostname()


def _fake(
    cfg: Config, backups: BackupStore | None
) -> tuple[dict[str, Datastore], Isolation, Network, Volumes | None, BackupStore, list[Any]]:
    from stratus.database.drivers import fake

    stores: dict[str, Datastore] = {
        "postgresql": fake.FakeDatastore("postgresql", "15.18", 5432),
        "mariadb": fake.FakeDatastore("mariadb", "10.11.19", 3306),
    }
    root = cfg.data_path(cfg.dbaas.state_dir)
    if backups is not None:  # a unit test's own store
        return stores, fake.FakeIsolation(root), fake.FakeNetwork(), None, backups, []
    session = service_session(cfg)
    swift = _swift(cfg, session)
    return stores, fake.FakeIsolation(root), fake.FakeNetwork(), None, swift, [swift, session]


def _swift(cfg: Config, session: ServiceSession) -> SwiftStore:
    from stratus.database.drivers.swift import SwiftStore

    url = SERVICES["object-store"].endpoint_url(cfg.public_url).split("/AUTH_")[0]
    return SwiftStore(url, session, cfg.dbaas.backup_segment_size)


def _local(cfg: Config, host: str) -> tuple[dict[str, Datastore], Isolation, Network,
                                            Volumes | None, BackupStore, list[Any]]:  # fmt: skip
    from stratus.database.drivers.cinder import CinderVolumes
    from stratus.database.drivers.isolation import LinuxIsolation, scope_of
    from stratus.database.drivers.mariadb import MariaDB
    from stratus.database.drivers.openstack import NeutronNetwork
    from stratus.database.drivers.postgresql import PostgreSQL

    if os.geteuid() != 0:
        raise PermissionError("the database agent's local driver needs root")
    session = service_session(cfg)
    root = cfg.data_path(cfg.dbaas.state_dir).resolve()
    stores: dict[str, Datastore] = {}
    scope = scope_of(root)
    for store in (PostgreSQL(scope), MariaDB(scope)):
        if store.version():
            stores[store.name] = store
    network = NeutronNetwork(
        SERVICES["network"].endpoint_url(cfg.public_url),
        session,
        cfg.network.external_network,
        cfg.network.host_namespace,
    )
    volumes: Volumes | None = None
    closers: list[Any] = [network]
    if cfg.dbaas.use_volumes:
        cinder = CinderVolumes(
            SERVICES["volume"].endpoint_url(cfg.public_url).split("/$(")[0],
            session,
            root / "exports",
            raw=cfg.dbaas.raw_volumes,
        )
        volumes = cinder
        closers.append(cinder)
    backups = _swift(cfg, session)
    closers += [backups, session]
    return stores, LinuxIsolation(root), network, volumes, backups, closers


def build_agent(
    cfg: Config, db: Database, host: str | None = None, backups: BackupStore | None = None
) -> DatabaseAgent:
    """The agent over the configured drivers; `backups` replaces the object
    store client (a unit test's in-memory store, no cloud running)."""
    host = host or host_name(cfg)
    if cfg.dbaas.driver == "fake":
        stores, isolation, network, volumes, backups, closers = _fake(cfg, backups)
    else:
        stores, isolation, network, volumes, store, closers = _local(cfg, host)
        backups = backups or store
    rec = Recorder(db, host)
    network_host = cfg.compute.host or socket.gethostname()
    instances = InstanceWork(
        host, rec, stores, isolation, network, volumes, backups, network_host=network_host
    )
    return DatabaseAgent(
        host,
        cfg.dbaas.availability_zone,
        rec,
        stores,
        isolation,
        instances,
        BackupWork(rec, instances, backups),
        LogWork(rec, instances, backups, cfg.dbaas.log_container),
        Timing(poll_interval=1.0, sync_interval=cfg.dbaas.sync_interval, heartbeat_interval=10.0),
        closers,
    )
