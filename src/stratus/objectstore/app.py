"""The object store as the cloud runs it: its service over the rings (with
the all-in-one's storage node in this process, or the rings' nodes over
HTTP) and its ASGI app."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.types import Receive, Scope, Send

from stratus.common.api import TokenValidator
from stratus.common.config import Config
from stratus.common.policy import Enforcer
from stratus.objectstore.agent import BackgroundWorkers
from stratus.objectstore.api.cors import CorsPolicy
from stratus.objectstore.api.swift import SwiftApp
from stratus.objectstore.layers import build_stack
from stratus.objectstore.node.client import HttpNodeClient, LocalNodeClient
from stratus.objectstore.node.protocol import NodeClient
from stratus.objectstore.node.server import StorageNode
from stratus.objectstore.ring import bootstrap
from stratus.objectstore.service import ObjectStoreService
from stratus.objectstore.service.container_sync import SyncRealms


@dataclass
class ObjectStore:
    service: ObjectStoreService
    node: StorageNode | None  # the in-process node of the all-in-one


def make(cfg: Config, public_url: str, *, primary: bool = True) -> ObjectStore:
    """The service over ``objectstore.ring_dir``'s rings (made at the first
    start); with ``objectstore.nodes = "local"`` the node runs here, and its
    background workers too in the primary process."""
    bootstrap.ensure_rings(cfg)
    oc = cfg.objectstore
    node: StorageNode | None = None
    client: NodeClient
    if oc.nodes == "local":
        node = StorageNode(
            bootstrap.devices_root(cfg),
            ip=oc.node_ip,
            port=oc.node_port,
            ring_dir=bootstrap.ring_dir(cfg),
            worker_interval=oc.worker_interval if primary else None,
            background=BackgroundWorkers,
            container_sync=sync_realms(cfg),
            container_sync_interval=oc.container_sync_interval,
        )
        client = LocalNodeClient({(oc.node_ip, oc.node_port): node})
    else:
        client = HttpNodeClient()
    service = ObjectStoreService.from_ring_dir(
        bootstrap.ring_dir(cfg), client, public_url=public_url
    )
    return ObjectStore(service, node)


class AtRoot:
    """The Swift app where Swift's tools look (``/v1/<account>``, ``/info``),
    outside its own mount: it sees the path whole, from the server's root."""

    def __init__(self, app: SwiftApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope = {**scope, "root_path": scope.get("app_root_path", "")}
        await self.app(scope, receive, send)


def build(
    service: ObjectStoreService,
    enforcer: Enforcer,
    validator: TokenValidator,
    cors_policy: CorsPolicy | None = None,
    sync: SyncRealms | None = None,
) -> SwiftApp:
    """The app the all-in-one mounts under ``/object-store``: Swift's API
    over the layers over ``service``."""
    store = build_stack(service, enforcer, sync)
    return SwiftApp(
        store,
        service.limits,
        enforcer,
        validator,
        public_url=service.public_url,
        cors_policy=cors_policy,
        sync_realms=sync,
    )


def sync_realms(cfg: Config) -> SyncRealms:
    """The operator's container-sync realms and hosts (``[objectstore]``)."""
    oc = cfg.objectstore
    return SyncRealms.of(
        {n: (r.key, r.key2, r.clusters) for n, r in oc.container_sync_realms.items()},
        oc.container_sync_allowed_hosts,
        oc.container_sync_allow_full_urls,
    )


def cors_policy(cfg: Config) -> CorsPolicy:
    """The operator's CORS options (``[objectstore]``)."""
    oc = cfg.objectstore
    return CorsPolicy(
        allow_origin=tuple(oc.cors_allow_origin),
        expose_headers=tuple(oc.cors_expose_headers),
        strict=oc.strict_cors_mode,
    )
