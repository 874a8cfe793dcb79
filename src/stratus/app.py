"""The all-in-one: every enabled service in one ASGI app under its prefix."""

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
from starlette.routing import Mount, Route

from stratus.common import logs
from stratus.common import metrics as metrics_mod
from stratus.common.api import TokenValidator, json_response
from stratus.common.auth import RemoteValidator
from stratus.common.config import Config
from stratus.common.context import RequestContext
from stratus.common.db import Database
from stratus.common.errors import StratusError
from stratus.common.memory import trim
from stratus.common.middleware import RequestIdMiddleware
from stratus.common.policy import Enforcer
from stratus.common.s3 import is_s3, s3_error
from stratus.compute import app as compute_app
from stratus.compute import policies as compute_policies
from stratus.compute.service import ComputeService
from stratus.database import policies as database_policies
from stratus.identity import app as identity_app
from stratus.identity import policies as identity_policies
from stratus.identity.service import IdentityService
from stratus.image import app as image_app
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


class NotingValidator:
    """A token validator that tells the access log who called (for apps
    that validate tokens themselves rather than through ``common.api``)."""

    def __init__(self, inner: TokenValidator) -> None:
        self.inner = inner

    async def validate(self, token: str, request_id: str) -> RequestContext:
        ctx = await self.inner.validate(token, request_id)
        logs.note_caller(ctx.project_id, ctx.user_id)
        return ctx


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
        self.enforcer = Enforcer.from_file(
            {
                **identity_policies.RULES,
                **image_policies.RULES,
                **compute_policies.RULES,
                **objectstore_policies.RULES,
                **volume_policies.RULES,
                **network_policies.RULES,
                **loadbalancer_policies.RULES,
                **database_policies.RULES,
                **orchestration_policies.RULES,
            },
            cfg.data_path(cfg.policy.file),
        )
        self.identity = IdentityService(cfg, self.db)
        self.image: ImageService | None = None
        if "image" in cfg.services.enabled:
            self.image = ImageService(cfg, self.db, limits=self._image_limit)
        self.network: NetworkService | None = None
        self.network_agent: Any = None
        self._network_lock: int | None = None
        if "network" in cfg.services.enabled:
            self.network = NetworkService(cfg, self.db)
        self.compute: ComputeService | None = None
        if "compute" in cfg.services.enabled:
            self.compute = ComputeService(
                cfg, self.db, SERVICES["image"].endpoint_url(cfg.public_url), self.network
            )
        self.volume: Any = None
        if "volume" in cfg.services.enabled:
            from stratus.volume.service import VolumeService

            self.volume = VolumeService(
                cfg, self.db, SERVICES["image"].endpoint_url(cfg.public_url)
            )
        if self.network is not None:
            self._tell_compute(self.network, self.compute)
        if self.compute is not None and self.volume is not None:
            from stratus.compute.service.volume_client import LocalVolumes

            self.compute.server_volumes.client = LocalVolumes(self.volume)
        self.loadbalancer: Any = None
        self.lb_agent: Any = None
        if "load-balancer" in cfg.services.enabled:
            from stratus.loadbalancer.service import LoadBalancerService

            self.loadbalancer = LoadBalancerService(cfg, self.db, self.network)
        self.database: Any = None
        if "database" in cfg.services.enabled:
            from stratus.database.service import DatabaseService

            self.database = DatabaseService(cfg, self.db)
        self.orchestration: Any = None
        if "orchestration" in cfg.services.enabled:
            from stratus.orchestration.service import OrchestrationService

            self.orchestration = OrchestrationService(cfg, self.db)
        self.objectstore: Any = None
        self.storage_node: Any = None
        if "object-store" in cfg.services.enabled:
            self._make_objectstore()
        self._background: set[asyncio.Task[None]] = set()
        self.remote: RemoteValidator | None = None
        if cfg.auth.mode == "remote":
            self.remote = RemoteValidator(cfg.auth)
        self.metrics = metrics_mod.Metrics("primary" if primary else "api-worker")
        self.access_log = logs.AccessLog(cfg.logging.access_log)
        self._add_gauges()

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
        from stratus.network.agent.runner import (
            DataPlaneUnavailable,
            build_agent,
            claim_data_plane,
        )

        await network.start()
        try:
            self._network_lock = claim_data_plane(self.cfg)
        except DataPlaneUnavailable as exc:
            log.warning(
                "network: no data plane on this host (%s): the network API works, "
                "ports stay DOWN, and guests keep user-mode networking",
                exc,
            )
            return
        self.network_agent = build_agent(self.cfg, network)
        self._spawn(self.network_agent.start(), "network-agent-start")

    async def _start_volume(self, volume: Any) -> None:
        from stratus.volume.agent.runner import build_agent

        await volume.start()
        agent = build_agent(self.cfg, self.db, in_process=True)
        volume.agents[agent.host] = agent
        # The agent registers itself and puts right what a crash left, in
        # the background, so the cloud is ready at once.
        self._spawn(agent.start(), "volume-agent-start")

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
        from stratus.loadbalancer.agent.runner import DataPlaneUnavailable, build_agent

        await service.start()
        if not self.cfg.loadbalancer.run_agent:
            log.info("load-balancer: no agent in this process (`stratus lb-agent` runs them)")
            return
        try:
            self.lb_agent = build_agent(self.cfg, service)
        except DataPlaneUnavailable as exc:
            log.warning(
                "load-balancer: no data plane on this host (%s): the API works, "
                "load balancers stay PENDING_CREATE",
                exc,
            )
            return
        # It adopts the HAProxy processes that run and removes what belongs
        # to nothing, in the background, so the cloud is ready at once.
        self._spawn(self.lb_agent.start(), "lb-agent-start")

    def _start_database(self, database: Any) -> None:
        from stratus.database.agent.runner import build_agent

        try:
            agent = build_agent(self.cfg, self.db)
        except PermissionError as exc:
            log.warning("database: no database agent on this host (%s): the API works, "
                        "instances stay in BUILD until an agent runs", exc)  # fmt: skip
            return
        database.agents[agent.host] = agent
        # The agent registers itself and adopts what runs, in the background.
        self._spawn(agent.start(), "database-agent-start")

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
        from stratus.orchestration.agent.runner import build_agent

        agent = build_agent(self.cfg, self.db)
        orchestration.agent = agent
        # It fails cleanly what a crash left half-made, then runs the tasks.
        self._spawn(agent.start(), "orchestration-agent-start")

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
        from stratus.compute.agent.runner import build_agent
        from stratus.compute.service.bootstrap import ensure_flavors

        await ensure_flavors(self.db)
        await compute.start()
        agent = build_agent(self.cfg, self.db, nics=compute.nics)
        if compute.server_volumes.client is not None:  # block storage, in-process
            agent.volumes.client = compute.server_volumes.client
        compute.agents[agent.host] = agent
        # The agent registers itself and adopts guests; the tiny image is
        # built in the background too, so the cloud is ready at once.
        self._spawn(self._start_agent(compute, agent), "compute-agent-start")
        if self.cfg.compute.tiny_image and self.image is not None:
            self._spawn(self._tiny_image(), "compute-tiny-image")

    @staticmethod
    async def _start_agent(compute: ComputeService, agent: Any) -> None:
        await agent.start()
        compute.wake(None)  # servers asked for before the host registered

    async def _tiny_image(self) -> None:
        from stratus.compute.service.bootstrap import ensure_tiny_image
        from stratus.identity import models as idm

        async with self.db.session() as s:
            owner = await s.scalar(select(idm.Project.id).where(idm.Project.name == "service"))
        await ensure_tiny_image(self.cfg, self.image, owner or "")
        trim()

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
        mounts: list[Any] = [Route("/", self._root, methods=["GET"]), *self._service_mounts()]
        if self.cfg.metrics.enabled:
            handler = metrics_mod.endpoint(self.metrics, self.validator, self.cfg.metrics.access)
            mounts.append(Route("/metrics", handler, methods=["GET"]))
        app = Starlette(
            routes=mounts, lifespan=self._lifespan, exception_handlers={404: self._on_404}
        )
        return RequestIdMiddleware(
            app,
            access_log=self.access_log,
            metrics=self.metrics.http if self.cfg.metrics.enabled else None,
            services=self._services_by_segment(),
            route_namers={"object-store": _swift_route},
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
        return self._not_found(request)

    def _service_mounts(self) -> list[Any]:
        """Each enabled service's app under its prefix.  A service's API
        package is imported only when the service runs (start time)."""
        enforcer, validator = self.enforcer, self.validator

        def at(service: str, app: Any) -> Any:
            return Mount(SERVICES[service].prefix, app)

        mounts: list[Any] = []
        if "identity" in self.cfg.services.enabled:
            mounts.append(at("identity", identity_app.build(self.identity, enforcer)))
        if self.image is not None:
            mounts.append(at("image", image_app.build(self.image, enforcer, validator)))
        if self.compute is not None:
            from stratus.compute.api.metadata_server import MetadataServer
            from stratus.network.agent.runner import metadata_secret

            cfg = self.cfg
            metadata = MetadataServer(self.compute, lambda: metadata_secret(cfg))
            # Before compute's own mount, which would take the path.
            mounts.append(Mount(SERVICES["compute"].prefix + "/metadata", metadata.app()))
            mounts.append(at("compute", compute_app.build(self.compute, enforcer, validator)))
        if self.volume is not None:
            from stratus.volume.app import build as build_volume

            mounts.append(at("volume", build_volume(self.volume, enforcer, validator)))
        if self.network is not None:
            from stratus.network.app import build as build_network

            mounts.append(at("network", build_network(self.network, enforcer, validator)))
        if self.loadbalancer is not None:
            from stratus.loadbalancer.app import build as build_lb

            mounts.append(at("load-balancer", build_lb(self.loadbalancer, enforcer, validator)))
        if self.database is not None:
            from stratus.database.app import build as build_database

            mounts.append(at("database", build_database(self.database, enforcer, validator)))
        if self.orchestration is not None:
            from stratus.orchestration.app import build as build_heat

            mounts.append(at("orchestration", build_heat(self.orchestration, enforcer, validator)))
        if self.objectstore is not None:
            mounts.extend(self._swift_mounts())
        return mounts

    def _swift_mounts(self) -> list[Any]:
        from stratus.objectstore.app import AtRoot, cors_policy, sync_realms
        from stratus.objectstore.app import build as build_objectstore

        assert self.objectstore is not None
        swift = build_objectstore(
            self.objectstore,
            self.enforcer,
            NotingValidator(self.validator),
            cors_policy(self.cfg),
            sync_realms(self.cfg),
        )
        return [
            Mount(SERVICES["object-store"].prefix, swift),
            # Where Swift's tools look: /v1/<account>... (the catalog's) and /info.
            Mount("/v1", AtRoot(swift)),
            Mount("/v1.0", AtRoot(swift)),
            Route("/info", AtRoot(swift)),
        ]

    def _services_by_segment(self) -> dict[str, str]:
        out = {info.prefix.strip("/"): name for name, info in SERVICES.items()}
        out.update({"metrics": "metrics", "": "root"})
        out.update({"v1": "object-store", "v1.0": "object-store", "info": "object-store"})
        return out

    def _not_found(self, request: Request) -> Response:
        """A path no service serves: S3's XML error to an S3 client, else
        Keystone's format naming what this cloud serves."""
        if is_s3(request):
            return s3_error(
                "NotImplemented", "This cloud does not serve the S3 API (yet).", 501, request
            )
        segment = request.url.path.strip("/").split("/", 1)[0]
        named = [n for n, info in SERVICES.items() if info.prefix.strip("/") == segment]
        if named and named[0] not in self.cfg.services.enabled:
            message = f"The {named[0]} service is not enabled in this cloud."
        else:
            served = ", ".join(
                SERVICES[n].prefix for n in self.cfg.services.enabled if n in SERVICES
            )
            message = f"No service at /{segment}: this cloud serves {served}."
        return json_response(
            {"error": {"code": 404, "title": "Not Found", "message": message}}, 404
        )

    async def _root(self, request: Request) -> Response:
        if is_s3(request):
            return s3_error(
                "NotImplemented", "This cloud does not serve the S3 API (yet).", 501, request
            )
        return json_response(
            {
                "services": {
                    name: SERVICES[name].endpoint_url(self.cfg.public_url)
                    for name in self.cfg.services.enabled
                    if name in SERVICES
                }
            }
        )


_SWIFT_PREFIX = SERVICES["object-store"].prefix.encode()
_SWIFT_LEVELS = ("/v1/{account}", "/v1/{account}/{container}", "/v1/{account}/{container}/{object}")


def _swift_route(scope: Any) -> str | None:
    """The object store's route template (its Swift paths: account,
    container or object; /info, /healthcheck), from the raw path."""
    raw: bytes = scope.get("raw_path") or str(scope["path"]).encode()
    raw = raw.split(b"?", 1)[0]
    if raw.startswith(_SWIFT_PREFIX):
        raw = raw[len(_SWIFT_PREFIX) :]
    if raw in (b"/info", b"/healthcheck", b"/crossdomain.xml"):
        return raw.decode()
    parts = [p for p in raw[1:].split(b"/", 3) if p]
    if len(parts) < 2 or parts[0] not in (b"v1", b"v1.0"):
        return None
    return _SWIFT_LEVELS[len(parts) - 2]
