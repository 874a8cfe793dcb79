"""The lb agent with the fake data plane: Octavia's state model (PENDING_*
settles ACTIVE after the apply, a failed apply is ERROR), health into
operating statuses, the delete, and what it does at start."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from stratus.common.config import Config
from stratus.common.context import RequestContext
from stratus.common.db import Database
from stratus.common.reconciler import Timing
from stratus.loadbalancer import models as m
from stratus.loadbalancer.agent.agent import LoadBalancerAgent
from stratus.loadbalancer.drivers.base import Health, ListenerStats, LoadBalancerSpec
from stratus.loadbalancer.drivers.fake import FakeDriver
from stratus.loadbalancer.errors import ImmutableObject
from stratus.loadbalancer.service import LoadBalancerService

CTX = RequestContext(request_id="req-test", project_id="p1", roles=("member",))


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[LoadBalancerService]:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")
    await db.migrate()
    svc = LoadBalancerService(Config(data_dir=tmp_path), db)
    yield svc
    await db.close()


async def new_lb(svc: LoadBalancerService) -> str:
    async with svc.db.transaction() as s:
        lb = m.LoadBalancer(project_id="p1", name="lb", vip_address="10.0.0.5", vip_port_id="port",
                            host=svc.host, task=m.T_APPLY, generation=1)  # fmt: skip
        s.add(lb)
        await s.flush()
        return lb.id


async def started(svc: LoadBalancerService, driver: FakeDriver) -> LoadBalancerAgent:
    agent = LoadBalancerAgent(svc, driver, svc.host, Timing(poll_interval=0.05, sync_interval=0.05))
    await agent.start()
    return agent


async def row(svc: LoadBalancerService, kind: Any, ident: str) -> Any:
    async with svc.db.session() as s:
        return await s.get(kind, ident)


async def test_a_tree_is_applied_then_active_and_health_degrades_it(
    service: LoadBalancerService,
) -> None:
    driver = FakeDriver()
    lb_id = await new_lb(service)
    agent = await started(service, driver)
    try:
        await agent.loop.idle()
        assert (await row(service, m.LoadBalancer, lb_id)).provisioning_status == m.ACTIVE
        objs = service.objects
        listener = await objs.create(CTX, "listener", {"loadbalancer_id": lb_id, "protocol": "HTTP",
                                                       "protocol_port": 80})  # fmt: skip
        assert listener.provisioning_status == m.PENDING_CREATE
        # The load balancer is PENDING_UPDATE: a second change is refused.
        with pytest.raises(ImmutableObject):
            await objs.create(CTX, "pool", {"loadbalancer_id": lb_id, "protocol": "HTTP",
                                            "lb_algorithm": "ROUND_ROBIN"})  # fmt: skip
        await agent.loop.idle()
        pool = await objs.create(CTX, "pool", {"listener_id": listener.id, "protocol": "HTTP",
                                               "lb_algorithm": "ROUND_ROBIN"})  # fmt: skip
        await agent.loop.idle()
        members = []
        for n in (1, 2):
            members.append(await objs.create(CTX, "member", {"pool_id": pool.id,
                                                             "address": f"10.0.0.1{n}",
                                                             "protocol_port": 80}))  # fmt: skip
            await agent.loop.idle()
        assert (await row(service, m.Member, members[0].id)).operating_status == m.NO_MONITOR
        await objs.create(CTX, "healthmonitor", {"pool_id": pool.id, "type": "HTTP", "delay": 1,
                                                 "timeout": 1, "max_retries": 1})  # fmt: skip
        await agent.loop.idle()
        spec = driver.specs[lb_id]
        assert spec.listeners[0].default_pool_id == pool.id
        assert [x.address for x in spec.pools[0].members] == ["10.0.0.11", "10.0.0.12"]
        assert spec.pools[0].monitor is not None
        # HAProxy says a member is down: ERROR, its pool and load balancer DEGRADED.
        driver.down.add(members[0].id)
        await agent.resync()
        assert (await row(service, m.Member, members[0].id)).operating_status == "ERROR"
        assert (await row(service, m.Member, members[1].id)).operating_status == m.ONLINE
        assert (await row(service, m.Pool, pool.id)).operating_status == m.DEGRADED
        assert (await row(service, m.LoadBalancer, lb_id)).operating_status == m.DEGRADED
        driver.down.clear()
        await agent.resync()
        assert (await row(service, m.LoadBalancer, lb_id)).operating_status == m.ONLINE
        # A deleted member leaves the data plane and the database.
        await objs.delete(CTX, "member", members[0].id)
        await agent.loop.idle()
        assert await row(service, m.Member, members[0].id) is None
        assert [x.id for x in driver.specs[lb_id].pools[0].members] == [members[1].id]
        # The load balancer's cascade delete takes everything.
        await service.loadbalancers.delete(CTX, lb_id, cascade=True)
        await agent.loop.idle()
        assert await row(service, m.LoadBalancer, lb_id) is None
        assert await row(service, m.Pool, pool.id) is None
        assert lb_id not in driver.specs
    finally:
        await agent.stop()


async def test_a_failed_apply_is_error_and_start_removes_orphans(
    service: LoadBalancerService,
) -> None:
    driver = FakeDriver()
    lb_id = await new_lb(service)
    driver.fail.add(lb_id)
    # Something of a load balancer that no longer exists runs on the host.
    orphan = await new_lb(service)
    agent = await started(service, driver)
    await agent.loop.idle()
    await agent.stop()
    lb = await row(service, m.LoadBalancer, lb_id)
    assert (lb.provisioning_status, lb.task) == (m.ERROR, None)
    assert "fake failure" in lb.error
    async with service.db.transaction() as s:
        await s.delete(await s.get(m.LoadBalancer, orphan))
    assert orphan in driver.specs  # it ran before its row went
    # An agent starting again removes it and starts what should run.
    driver.fail.clear()
    driver.specs.clear()
    ok = await new_lb(service)
    await service.applied(ok, 1)
    driver.specs[orphan] = LoadBalancerSpec(id=orphan, vip_address="10.0.0.9", vip_port_id="x")
    agent = await started(service, driver)
    try:
        await agent.loop.idle()
        assert orphan not in driver.specs
        assert ok in driver.specs  # ACTIVE and not running: started again
    finally:
        await agent.stop()


async def test_stats_add_up_across_reloads(service: LoadBalancerService) -> None:
    lb_id = await new_lb(service)
    assert await service.applied(lb_id, 1)
    listener = await service.objects.create(
        CTX, "listener", {"loadbalancer_id": lb_id, "protocol": "TCP", "protocol_port": 22}
    )
    async with service.db.session() as s:
        generation = (await s.get(m.LoadBalancer, lb_id)).generation
    assert await service.applied(lb_id, generation)

    def reading(total: int, active: int = 0) -> Health:
        counters = ListenerStats(listener.id, active, total, total * 10, total * 100, 0)
        return Health(running=True, listeners=(counters,))

    await service.record_health(lb_id, reading(5))
    await service.record_health(lb_id, reading(8, active=2))
    await service.record_health(lb_id, reading(3))  # a reload: the new process counts from 0
    stats = await service.stats(CTX, "loadbalancer", lb_id)
    assert stats == {"active_connections": 0, "total_connections": 11, "bytes_in": 110,
                     "bytes_out": 1100, "request_errors": 0}  # fmt: skip
    assert await service.stats(CTX, "listener", listener.id) == stats
