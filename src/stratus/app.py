"""The all-in-one: every enabled service in one ASGI app under its prefix.

``Cloud`` builds the services of one process and starts and stops them;
``mounts`` says what is served where, ``local_agents`` starts the agents
the all-in-one runs in its own process."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from stratus import local_agents, mounts
from stratus.common import logs
from stratus.common import metrics as metrics_mod
from stratus.common.api import TokenValidator
from stratus.common.auth import RemoteValidator
from stratus.common.config import Config
from stratus.common.db import Database
from stratus.common.errors import StratusError
from stratus.common.middleware import RequestIdMiddleware
from stratus.common.policy import Enforcer
from stratus.compute import policies as compute_policies
from stratus.compute.service import ComputeService
from stratus.database import policies as database_policies
from stratus.identity import policies as identity_policies
from stratus.identity.service import IdentityService
from stratus.image import policies as image_policies
from stratus.image.service import ImageService
from stratus.loadbalancer import policies as loadbalancer_policies
from stratus.network import policies as network_policies
from stratus.network.service import NetworkService
from stratus.objectstore import policies as objectstore_policies
from stratus.orchestration import policies as orchestration_policies
from stratus.registry import SERVICES
from stratus.volume import policies as volume_policies

log = logging.getLogger(__name__)

PROCESS_SAMPLE_INTERVAL = 15.0  # seconds between samples of a process's memory and files
POLICY_RULES = {
    **identity_policies.RULES,
    **image_policies.RULES,
    **compute_policies.RULES,
    **objectstore_policies.RULES,
    **volume_policies.RULES,
    **network_policies.RULES,
    **loadbalancer_policies.RULES,
    **database_policies.RULES,
    **orchestration_policies.RULES,
}


class Cloud:
    """The services of one process, their shared database and policy.

    The primary (``stratus up``) also runs what must exist once: migrations,
    bootstrap, the compute scheduler and agent, background workers.  An API
    worker (``primary=False``, see ``stratus.workers``) serves requests only."""

    def __init__(self, cfg: Config, *, primary: bool = True):
        self.cfg = cfg
        self.primary = primary
        self.workers: Any = None  # the primary's API worker processes
        self._wake_receiver: Any = None
        self.db = Database(cfg.database_url, echo=cfg.database.echo)
        self.enforcer = Enforcer.from_file(POLICY_RULES, cfg.data_path(cfg.policy.file))
        self.network_agent: Any = None
        self._network_lock: int | None = None
        self.lb_agent: Any = None
        self.storage_node: Any = None
        self._make_core_services()
        self._make_other_services()
        self._background: set[asyncio.Task[None]] = set()
        self.remote: RemoteValidator | None = None
        if cfg.auth.mode == "remote":
            self.remote = RemoteValidator(cfg.auth)
        self.metrics = metrics_mod.Metrics("primary" if primary else "api-worker")
        self.access_log = logs.AccessLog(cfg.logging.access_log)
        self._add_gauges()

    def _make_core_services(self) -> None:
        """Identity, and those of images, networks, servers and volumes that
        are enabled, each told of the others it calls in this process."""
        cfg, enabled = self.cfg, self.cfg.services.enabled
        image_url = SERVICES["image"].endpoint_url(cfg.public_url)
        self.identity = IdentityService(cfg, self.db)
        self.image: ImageService | None = None
        if "image" in enabled:
            self.image = ImageService(cfg, self.db, limits=self._image_limit)
        self.network: NetworkService | None = None
        if "network" in enabled:
            self.network = NetworkService(cfg, self.db)
        self.compute: ComputeService | None = None
        if "compute" in enabled:
            self.compute = ComputeService(cfg, self.db, image_url, self.network)
        self.volume: Any = None
        if "volume" in enabled:
            from stratus.volume.service import VolumeService

            self.volume = VolumeService(cfg, self.db, image_url)
        if self.network is not None:
            self._tell_compute(self.network, self.compute)
        if self.compute is not None and self.volume is not None:
            from stratus.compute.service.volume_client import LocalVolumes

            self.compute.server_volumes.client = LocalVolumes(self.volume)

    def _make_other_services(self) -> None:
        """Load balancers, databases, orchestration and the object store,
        those enabled; their packages are imported only then."""
        cfg, enabled = self.cfg, self.cfg.services.enabled
        self.loadbalancer: Any = None
        if "load-balancer" in enabled:
            from stratus.loadbalancer.service import LoadBalancerService

            self.loadbalancer = LoadBalancerService(cfg, self.db, self.network)
        self.database: Any = None
        if "database" in enabled:
            from stratus.database.service import DatabaseService

            self.database = DatabaseService(cfg, self.db)
        self.orchestration: Any = None
        if "orchestration" in enabled:
            from stratus.orchestration.service import OrchestrationService

            self.orchestration = OrchestrationService(cfg, self.db)
        self.objectstore: Any = None
        if "object-store" in enabled:
            self._make_objectstore()

    def _add_gauges(self) -> None:
        """Each service's resource gauges, read from the database when
        /metrics is scraped."""
        if self.compute is not None:
            from stratus.compute.service.gauges import gauges as compute_gauges

            self.metrics.add_gauges("compute", lambda: compute_gauges(self.db))
        if self.image is not None:
            from stratus.image.service.gauges import gauges as image_gauges

            self.metrics.add_gauges("image", lambda: image_gauges(self.db))
        if self.objectstore is not None:
            from stratus.objectstore.layers.access import ACCOUNT_PREFIX
            from stratus.objectstore.service.gauges import gauges as objectstore_gauges

            async def accounts() -> list[str]:
                from stratus.identity import models as idm

                async with self.db.session() as s:
                    ids = await s.scalars(select(idm.Project.id).order_by(idm.Project.id))
                    return [f"{ACCOUNT_PREFIX}{pid}" for pid in ids]

            self.metrics.add_gauges(
                "object-store", lambda: objectstore_gauges(self.objectstore, accounts)
            )

    def _make_objectstore(self) -> None:
        from stratus.objectstore.app import make

        store = make(
            self.cfg,
            SERVICES["object-store"].endpoint_url(self.cfg.public_url),
            primary=self.primary,
        )
        self.objectstore = store.service
        self.storage_node = store.node

    async def _image_limit(self, project_id: str, resource: str) -> int | None:
        return await self.identity.limits.effective(project_id, "image", resource)

    @property
    def validator(self) -> TokenValidator:
        return self.remote or self.identity

    async def start(self) -> None:
        self._spawn(self._sample_process(), "process-metrics")
        if not self.primary:
            await self._start_api_worker()
            return
        await self.db.migrate()
        await self.identity.start()
        if self.image is not None:
            await self.image.start()
        if self.network is not None:
            await self._start_network(self.network)
        if self.compute is not None:
            await self._start_compute(self.compute)
            if self.cfg.server_workers > 1:
                from stratus.workers import WakeReceiver

                self._wake_receiver = WakeReceiver(self.compute.wake)
        if self.storage_node is not None:
            await self.storage_node.start()
        if self.objectstore is not None:
            await self.objectstore.start()
        if self.volume is not None:
            await self._start_volume(self.volume)
        if self.loadbalancer is not None:
            await self._start_loadbalancer(self.loadbalancer)
        if self.database is not None and self.cfg.dbaas.run_agent:
            self._start_database(self.database)
        if self.orchestration is not None:
            self._start_orchestration(self.orchestration)
        if self.image is not None:  # the swift store needs the object store up
            self._spawn(self.image.sweep(), "image-sweep")

    async def _start_network(self, network: NetworkService) -> None:
        spawn = self._spawn
        self.network_agent, self._network_lock = await local_agents.start_network(
            self.cfg, network, spawn
        )

    async def _start_volume(self, volume: Any) -> None:
        await local_agents.start_volume(self.cfg, self.db, volume, self._spawn)

    def watch_workers(self) -> None:
        """In the primary, once its API workers started: one that dies is
        followed by the object store's recovery of what it left."""
        if self.workers is not None:
            self._spawn(self.workers.watch(self._worker_died), "workers-watch")

    async def _worker_died(self, started_at: float) -> None:
        background = getattr(self.storage_node, "background", None)
        if background is not None:
            await background.recover_since(started_at)

    async def _start_loadbalancer(self, service: Any) -> None:
        self.lb_agent = await local_agents.start_loadbalancer(self.cfg, service, self._spawn)

    def _start_database(self, database: Any) -> None:
        local_agents.start_database(self.cfg, self.db, database, self._spawn)

    def _tell_compute(self, network: NetworkService, compute: ComputeService | None) -> None:
        """Where the network service sends its events about servers' ports
        (network-vif-plugged ...): compute in this process, else its API."""
        from stratus.compute.service.external_events import ExternalEvent
        from stratus.network.service.nova import LocalCompute, ServerEvent, http_compute

        if compute is None:
            network.core.nova.target = http_compute(self.cfg)
            return
        events = compute.events

        async def create(items: list[ServerEvent]) -> object:
            asked = [ExternalEvent(e.server_uuid, e.name, e.status, e.tag) for e in items]
            return await events.create(asked)

        network.core.nova.target = LocalCompute(create)

    def _start_orchestration(self, orchestration: Any) -> None:
        local_agents.start_orchestration(self.cfg, self.db, orchestration, self._spawn)

    async def _start_api_worker(self) -> None:
        """Everything was set up by the primary: serve requests, and send
        compute wake-ups to the primary's scheduler and agent."""
        from stratus.workers import WakeSender, primary_pid

        await self.identity.start(bootstrap_cloud=False)
        if self.network is not None:
            await self.network.start(bootstrap_cloud=False)
        pid = primary_pid()
        if self.compute is not None and pid is not None:
            self.compute.forward_wake = WakeSender(pid)

    async def _start_compute(self, compute: ComputeService) -> None:
        await local_agents.start_compute(self.cfg, self.db, compute, self.image, self._spawn)

    async def _sample_process(self) -> None:
        while True:
            metrics_mod.sample_process(self.metrics.role)
            await asyncio.sleep(PROCESS_SAMPLE_INTERVAL)

    def _spawn(self, coro: Any, name: str) -> None:
        async def guarded() -> None:
            try:
                await coro
            except StratusError as exc:  # a refusal, e.g. a quota: no traceback
                log.error("stratus: %s failed: %s", name, exc.message)
            except Exception:
                log.exception("stratus: %s failed", name)

        task = asyncio.create_task(guarded(), name=name)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def stop(self) -> None:
        self.access_log.flush()
        self.metrics.http.flush()
        if self.workers is not None:
            await self.workers.stop()
            background = getattr(self.storage_node, "background", None)
            if self.workers.killed and background is not None:
                background.recovery.done = False  # the next start compares again
        if self._wake_receiver is not None:
            self._wake_receiver.close()
        for task in list(self._background):
            task.cancel()
        if self.compute is not None:
            await self.compute.stop()
        if self.orchestration is not None:
            await self.orchestration.stop()
        if self.database is not None:
            await self.database.stop()
        if self.volume is not None:
            await self.volume.stop()
        if self.objectstore is not None:
            await self.objectstore.stop()
        if self.storage_node is not None:
            await self.storage_node.close()
        if self.image is not None:
            await self.image.stop()
        if self.lb_agent is not None:
            await self.lb_agent.stop()
        if self.loadbalancer is not None:
            await self.loadbalancer.stop()
        if self.network_agent is not None:
            await self.network_agent.stop()
        if self._network_lock is not None:
            os.close(self._network_lock)
        if self.network is not None:
            await self.network.stop()
        await self.identity.stop()
        if self.remote is not None:
            await self.remote.close()
        await self.db.close()

    def asgi(self) -> Any:
        routes: list[Any] = [Route("/", self._root, methods=["GET"]), *mounts.service_mounts(self)]
        if self.cfg.metrics.enabled:
            handler = metrics_mod.endpoint(self.metrics, self.validator, self.cfg.metrics.access)
            routes.append(Route("/metrics", handler, methods=["GET"]))
        app = Starlette(
            routes=routes, lifespan=self._lifespan, exception_handlers={404: self._on_404}
        )
        return RequestIdMiddleware(
            app,
            access_log=self.access_log,
            metrics=self.metrics.http if self.cfg.metrics.enabled else None,
            services=mounts.services_by_segment(),
            route_namers={"object-store": mounts.swift_route},
        )

    @asynccontextmanager
    async def _lifespan(self, _app: Starlette) -> AsyncIterator[None]:
        await self.start()
        # What start-up made (modules, schemas, tables: most of the heap)
        # lives as long as the process: out of the collector's way, so a
        # request that triggers a full collection (a list of thousands of
        # rows does) does not walk it all again (measured: a 2,000-port
        # list's CPU time without its ~100 ms spikes).
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            await self.stop()

    async def _on_404(self, request: Request, exc: Exception) -> Response:
        return mounts.not_found(self.cfg, request)

    async def _root(self, request: Request) -> Response:
        return mounts.root(self.cfg, request)
