"""The lb agent: runs the load balancers of its host through its driver.

Its work on a load balancer is one of three tasks the API records:
``apply`` (render the whole tree, start or seamlessly reload its HAProxy,
open the VIP's security group to the listeners, then settle the tree
ACTIVE with a compare-and-swap on the generation), ``failover`` (the data
plane made anew) and ``delete``.  Between tasks it reads each HAProxy's
health into operating statuses and counters, and starts again a process
found dead.  At start it adopts what runs and removes what belongs to no
load balancer."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from stratus.common import logs
from stratus.common.reconciler import Reconciler, Timing
from stratus.loadbalancer import models as m
from stratus.loadbalancer.drivers.base import DataPlaneError, Driver
from stratus.loadbalancer.service import LoadBalancerService

log = logging.getLogger(__name__)


class LoadBalancerAgent:
    def __init__(
        self, service: LoadBalancerService, driver: Driver, host: str, timing: Timing = Timing()
    ):
        self.service = service
        self.driver = driver
        self.host = host
        self.loop = Reconciler(f"lb-agent-{host}", self, timing)

    def wake(self) -> None:
        self.loop.wake()

    async def start(self) -> None:
        self.service.core.subscribe(self.wake)
        await self.loop.start()

    async def stop(self) -> None:
        await self.loop.stop()

    # -- Workflows -------------------------------------------------------------------

    async def register(self) -> None:
        await self.service.register_agent(self.host)

    async def heartbeat(self) -> None:
        await self.service.heartbeat(self.host)

    async def pending(self) -> Iterable[str]:
        return await self.service.pending(self.host)

    async def adopt(self) -> None:
        for lb_id in await self.service.abandon_unfinished(self.host):
            log.warning("lb agent: load balancer %s was left half-made: now ERROR", lb_id)
        known = {lb.id: lb for lb in await self.service.hosted(self.host)}
        for lb_id in await self.driver.running() - set(known):
            await self.driver.remove(lb_id)
            log.warning("lb agent: removed HAProxy, namespace and files of load balancer %s, "
                        "which no longer exists", lb_id)  # fmt: skip
        for lb in known.values():
            if lb.task is None and lb.vip_port_id and lb.provisioning_status == m.ACTIVE:
                await self._ensure_running(lb.id)

    async def _ensure_running(self, lb_id: str) -> None:
        health = await self.driver.health(lb_id)
        if health.running:
            return
        found = await self.service.work_of(lb_id)
        if found is None:
            return
        _lb, spec = found
        try:
            await self.driver.apply(spec)
            log.warning("lb agent: HAProxy of load balancer %s was not running: started", lb_id)
        except DataPlaneError as exc:
            log.error("lb agent: HAProxy of load balancer %s does not start: %s", lb_id, exc)

    async def resync(self) -> None:
        for lb in await self.service.hosted(self.host):
            if lb.task is not None or lb.provisioning_status != m.ACTIVE or lb.id in self.loop.busy:
                continue
            await self._ensure_running(lb.id)
            await self.service.record_health(lb.id, await self.driver.health(lb.id))

    async def work(self, key: str) -> None:
        found = await self.service.work_of(key)
        if found is None:
            return
        lb, spec = found
        logs.bind_request_id(lb.request_id or None)
        generation = lb.generation
        if lb.task == m.T_DELETE:
            await self.driver.remove(lb.id)
            await self.service.deleted(lb.id)
            log.info("lb agent: load balancer %s deleted", lb.id)
            return
        try:
            if lb.task == m.T_FAILOVER:
                await self.driver.stop(lb.id)
            netns = await self.driver.prepare(lb.id)
            await self.service.bind_vip(lb.id, netns)
            await self.service.open_vip(lb.id)
            await self.driver.apply(spec)
        except DataPlaneError as exc:
            log.error("lb agent: load balancer %s: %s", lb.id, exc)
            await self.service.failed(lb.id, generation, str(exc))
            return
        if await self.service.applied(lb.id, generation):
            await self.service.record_health(lb.id, await self.driver.health(lb.id))
            log.info("lb agent: load balancer %s applied (generation %d)", lb.id, generation)
