"""The network agent with the fake data plane: adoption at start, orphans
removed, only what changed applied, each step started once what it depends
on is done (a new port never waits behind an unrelated removal), port
statuses reported, failures retried on their own, and a crash half-way
converging when it starts again."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from stratus.common.reconciler import Timing
from stratus.network.agent import plan as p
from stratus.network.agent.agent import NetworkAgent
from stratus.network.agent.source import AgentInfo
from stratus.network.drivers import base as b
from stratus.network.drivers.fake import Crash, FakeDataPlane, FakeHost

HOST = "h1"


def rule(direction: str = "ingress", **kw: Any) -> b.RuleSpec:
    return b.RuleSpec(id=f"r-{direction}-{len(kw)}", direction=direction, ethertype="IPv4", **kw)


def subnet(net: str) -> b.SubnetSpec:
    return b.SubnetSpec(f"s-{net}", net, "10.0.0.0/24", 4, "10.0.0.1", True)


NET = b.NetworkSpec("net1", 101, 1450, subnets=(subnet("net1"),))
NET2 = b.NetworkSpec("net2", 102, 1450, subnets=(subnet("net2"),))
SG = b.SecurityGroupSpec("sg1", (rule("egress"),), ("10.0.0.5",))


def port(pid: str, net: str = "net1", **kw: Any) -> b.PortSpec:
    return b.PortSpec(pid, net, "fa:16:3e:00:00:01", (b.FixedIP(f"s-{net}", "10.0.0.5"),),
                      security_group_ids=("sg1",), **kw)  # fmt: skip


def dhcp(net: b.NetworkSpec) -> b.DhcpSpec:
    return b.DhcpSpec(net, f"dhcp-{net.id}", "fa:16:3e:00:00:02", ("10.0.0.2/24",))


def state(**kw: Any) -> b.HostState:
    base: dict[str, Any] = {
        "networks": (NET,),
        "ports": (port("p1"), port("p2")),
        "security_groups": (SG,),
        "dhcp": (dhcp(NET),),
        "routers": (
            b.RouterSpec(
                "r1",
                interfaces=(b.RouterPort("rp1", "net1", "fa:16:3e:00:00:03", ("10.0.0.1/24",)),),
            ),
        ),
        "peers": {"net1": ("192.0.2.2",)},
    }
    base.update(kw)
    return b.HostState(host=HOST, **base)


class MemorySource:
    def __init__(self, s: b.HostState):
        self.state = s
        self.reports: list[tuple[str, str]] = []
        self.registered: list[tuple[str, str | None]] = []
        self.beats = 0
        self.wakers: list[Callable[[], None]] = []
        self.fail_reports = 0
        self.failing: dict[str, int] = {}  # port id -> reports of it that fail
        self.reads = 0

    async def host_state(self, host: str) -> b.HostState:
        assert host == HOST
        self.reads += 1
        return self.state

    async def set_port_status(self, port_id: str, status: str) -> bool:
        if self.fail_reports or self.failing.get(port_id):
            if self.failing.get(port_id):
                self.failing[port_id] -= 1
            else:
                self.fail_reports -= 1
            raise RuntimeError("database away")
        self.reports.append((port_id, status))
        return True

    async def register_agent(
        self, host: str, tunnel_ip: str | None, configurations: Any = None
    ) -> str:
        self.registered.append((host, tunnel_ip))
        return host

    async def agent_heartbeat(self, host: str) -> bool:
        self.beats += 1
        return self.beats > 1  # the first beat finds the registration gone

    def subscribe(self, host: str | None, wake: Callable[[], None]) -> Callable[[], None]:
        self.wakers.append(wake)
        return lambda: self.wakers.remove(wake)


def agent_on(source: MemorySource, driver: FakeDataPlane) -> NetworkAgent:
    return NetworkAgent(
        AgentInfo(HOST, "192.0.2.1"), source, driver, Timing(poll_interval=60, sync_interval=60)
    )


async def run_once(agent: NetworkAgent) -> None:
    """What the loop does on a wake-up: is there work, then do it."""
    agent.wake()
    if list(await agent.pending()):
        await agent.work(HOST)


async def started(source: MemorySource, driver: FakeDataPlane) -> NetworkAgent:
    agent = agent_on(source, driver)
    await agent.register()
    await agent.adopt()
    await run_once(agent)
    return agent


async def test_first_start_makes_everything_in_dependency_order() -> None:
    source, driver = MemorySource(state()), FakeDataPlane()
    agent = await started(source, driver)
    assert driver.started and source.registered == [(HOST, "192.0.2.1")]
    changes = driver.changes()
    order = [m for m, _ in changes]
    assert (
        order.index("ensure_network")
        < order.index("ensure_security_group")
        < order.index("ensure_port")
    )
    assert set(changes) == {
        ("ensure_network", "net1"), ("ensure_security_group", "sg1"), ("ensure_port", "p1"),
        ("ensure_port", "p2"), ("ensure_dhcp", "net1"), ("ensure_router", "r1"),
    }  # fmt: skip
    assert driver.host.networks["net1"] == (NET, ("192.0.2.2",))
    # Guests' ports, the DHCP port and the router's ports are all up.
    assert sorted(source.reports) == [
        ("dhcp-net1", b.ACTIVE), ("p1", b.ACTIVE), ("p2", b.ACTIVE), ("rp1", b.ACTIVE),
    ]  # fmt: skip
    assert list(await agent.pending()) == []


async def test_a_wake_up_applies_only_what_changed() -> None:
    source, driver = MemorySource(state()), FakeDataPlane()
    agent = await started(source, driver)
    driver.calls.clear()
    source.reports.clear()

    # A rule added to the group: the group alone, no port touched.
    sg = replace(
        SG, rules=(*SG.rules, rule("ingress", protocol="tcp", port_range_min=22, port_range_max=22))
    )
    source.state = state(security_groups=(sg,))
    await run_once(agent)
    assert driver.changes() == [("ensure_security_group", "sg1")]

    # A port disabled: that port, reported DOWN; nothing else.
    driver.calls.clear()
    source.state = state(
        security_groups=(sg,), ports=(port("p1", admin_state_up=False), port("p2"))
    )
    await run_once(agent)
    assert driver.changes() == [("ensure_port", "p1")]
    assert source.reports == [("p1", b.DOWN)]

    # A peer joins the network: the network alone.
    driver.calls.clear()
    source.state = replace(source.state, peers={"net1": ("192.0.2.2", "192.0.2.3")})
    await run_once(agent)
    assert driver.changes() == [("ensure_network", "net1")]

    # Nothing changed: nothing done.
    driver.calls.clear()
    await run_once(agent)
    assert driver.changes() == []


async def test_a_port_does_not_wait_for_its_groups_new_members() -> None:
    source, driver = MemorySource(state()), FakeDataPlane()
    agent = await started(source, driver)
    applied = dict(agent.applied)

    def plan(s: b.HostState) -> dict[str, list[str]]:
        """Each step's action and what it waits for (all under way at once)."""
        desired = p.objects(s)
        steps = p.steps(desired, applied)
        busy = {step.key: step for step in steps}
        return {
            step.key: [step.action, *p.waits_for(step, busy, desired, applied)] for step in steps
        }

    # A new port: its group gains a member, nothing else of the group changes.
    grown = replace(SG, member_ips=(*SG.member_ips, "10.0.0.9"))
    new_port = state(ports=(port("p1"), port("p2"), port("p3")), security_groups=(grown,))
    assert plan(new_port) == {"port:p3": [p.ENSURE], "security_group:sg1": [p.MEMBERS]}
    # A group whose rules change still goes before the ports that use it.
    ruled = replace(grown, rules=(*SG.rules, rule("ingress", protocol="icmp")))
    new_port = state(ports=(port("p1"), port("p2"), port("p3")), security_groups=(ruled,))
    assert plan(new_port) == {
        "port:p3": [p.ENSURE, "security_group:sg1"],
        "security_group:sg1": [p.ENSURE],
    }
    # A port going waits for nothing; its group's removal waits for it.
    gone = state(ports=(), security_groups=(), dhcp=(), routers=())
    assert plan(gone) == {
        "port:p1": [p.REMOVE], "port:p2": [p.REMOVE], "dhcp:net1": [p.REMOVE],
        "router:r1": [p.REMOVE], "security_group:sg1": [p.REMOVE, "port:p1", "port:p2"],
    }  # fmt: skip


async def until(check: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "never happened"
        await asyncio.sleep(0.005)


async def test_a_new_port_does_not_wait_behind_an_unrelated_removal() -> None:
    source, driver = MemorySource(state()), FakeDataPlane()
    agent = await started(source, driver)
    source.reports.clear()
    gate = driver.hold("remove_port")  # a slow removal (its tap, its rules)
    source.state = state(ports=(port("p1"),))
    agent.wake()
    assert list(await agent.pending()) == [HOST]
    under_way = asyncio.create_task(agent.work(HOST))
    try:
        await until(lambda: ("remove_port", "p2") in driver.calls)
        # A port bound to the host meanwhile (a hot-plug): made and reported
        # while the removal still runs, in the same pass.
        source.state = state(ports=(port("p1"), port("p3")))
        agent.wake()
        await until(lambda: ("p3", b.ACTIVE) in source.reports)
        assert "p3" in driver.host.ports and "p2" in driver.host.ports
        assert list(await agent.pending()) == [HOST]  # the pass goes on
    finally:
        gate.set()
        await under_way
    assert set(driver.host.ports) == {"p1", "p3"}
    assert list(await agent.pending()) == []


async def test_a_long_pass_leaves_what_comes_late_to_the_next(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from stratus.network.agent import agent as a

    monkeypatch.setattr(a, "PASS_LIMIT", 0.0)  # the loop's resync gets its turn at once
    source, driver = MemorySource(state()), FakeDataPlane()
    agent = await started(source, driver)
    gate = driver.hold("remove_port")
    source.state = state(ports=(port("p1"),))
    agent.wake()
    assert list(await agent.pending()) == [HOST]
    under_way = asyncio.create_task(agent.work(HOST))
    try:
        await until(lambda: ("remove_port", "p2") in driver.calls)
        source.state = state(ports=(port("p1"), port("p3")))
        agent.wake()
        await asyncio.sleep(0.05)
        assert ("ensure_port", "p3") not in driver.calls
    finally:
        gate.set()
        await under_way
    assert list(await agent.pending()) == [HOST]  # the next pass takes it
    await agent.work(HOST)
    assert set(driver.host.ports) == {"p1", "p3"}


async def test_the_state_is_read_once_per_wake_up() -> None:
    source, driver = MemorySource(state()), FakeDataPlane()
    agent = await started(source, driver)
    source.reads = 0
    source.state = state(ports=(port("p1"),))
    await run_once(agent)  # woken: reads, removes p2
    assert source.reads == 1 and set(driver.host.ports) == {"p1"}
    # The loop's own look after the work (no wake-up) plans over that read.
    source.state = state()
    assert list(await agent.pending()) == []
    assert source.reads == 1
    # A wake-up reads again and sees the change.
    agent.wake()
    assert list(await agent.pending()) == [HOST]
    assert source.reads == 2


async def test_removals_go_before_the_network_they_were_on() -> None:
    source, driver = MemorySource(state()), FakeDataPlane()
    agent = await started(source, driver)
    driver.calls.clear()
    source.state = state(networks=(), ports=(), security_groups=(), dhcp=(), routers=(), peers={})
    await run_once(agent)
    order = driver.changes()
    assert set(order) == {
        ("remove_port", "p1"), ("remove_port", "p2"), ("remove_dhcp", "net1"),
        ("remove_router", "r1"), ("remove_security_group", "sg1"), ("remove_network", "net1"),
    }  # fmt: skip
    # The network after what was on it, the group after its ports.
    last_on_net = max(order.index(c) for c in order if c[0] != "remove_security_group")
    assert order[last_on_net] == ("remove_network", "net1")
    assert order.index(("remove_security_group", "sg1")) > order.index(("remove_port", "p2"))
    assert driver.host.networks == {} and driver.host.ports == {}


async def test_restart_adopts_what_runs_and_removes_what_belongs_to_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    host = FakeHost()
    source = MemorySource(state())
    await started(source, FakeDataPlane(host))
    # While the agent is away: port p2 is deleted and a network added.
    source.state = state(networks=(NET, NET2), ports=(port("p1"), port("p3", "net2")))
    source.reports.clear()
    driver = FakeDataPlane(host)
    caplog.set_level(logging.INFO)
    agent = agent_on(source, driver)
    await agent.register()
    await agent.adopt()
    assert driver.changes() == [("remove_port", "p2")]
    assert "removing port:p2, which belongs to nothing" in caplog.text
    await run_once(agent)
    assert set(host.ports) == {"p1", "p3"} and set(host.networks) == {"net1", "net2"}
    # Everything wanted is ensured once again (adopted) and reported again.
    assert ("ensure_port", "p1") in driver.changes()
    assert sorted(r for r in source.reports if r[0].startswith("p")) == [
        ("p1", b.ACTIVE), ("p3", b.ACTIVE),
    ]  # fmt: skip


async def test_a_failure_is_retried_alone() -> None:
    source, driver = MemorySource(state()), FakeDataPlane()
    driver.fail_next("ensure_port", "no room")
    agent = await started(source, driver)
    failed = {id for m, id in driver.calls if m == "ensure_port"} - set(driver.host.ports)
    assert len(failed) == 1 and "net1" in driver.host.dhcp  # the others went ahead
    (pid,) = failed
    assert list(await agent.pending()) == []  # waiting for its retry time
    agent.retry[f"port:{pid}"] = (0.0, 0.5)  # the time has come
    await run_once(agent)
    assert pid in driver.host.ports
    assert (pid, b.ACTIVE) in source.reports


async def test_a_status_report_that_failed_is_sent_again() -> None:
    source, driver = MemorySource(state()), FakeDataPlane()
    # A guest port's status is sent as soon as it is plugged, and again with
    # the others at the end of the pass: both fail here.
    source.failing["p1"] = 2
    agent = await started(source, driver)
    assert sorted(r[0] for r in source.reports) == ["dhcp-net1", "p2", "rp1"]
    assert list(await agent.pending()) == [HOST]
    await run_once(agent)
    assert sorted(source.reports) == [
        ("dhcp-net1", b.ACTIVE), ("p1", b.ACTIVE), ("p2", b.ACTIVE), ("rp1", b.ACTIVE),
    ]  # fmt: skip
    driver.calls.clear()
    assert list(await agent.pending()) == []


async def test_a_crash_half_way_converges_when_the_agent_starts_again() -> None:
    host = FakeHost()
    source = MemorySource(state())
    for crash_at in range(1, 6):
        driver = FakeDataPlane(host)
        agent = agent_on(source, driver)
        await agent.register()
        await agent.adopt()
        driver.crash_after(crash_at)
        with pytest.raises(Crash):
            await run_once(agent)
        # Meanwhile the desired state changes.
        source.state = state(ports=(port("p1"), port(f"p-{crash_at}")))
    driver = FakeDataPlane(host)
    await started(source, driver)
    assert set(host.ports) == {"p1", "p-5"}
    assert set(host.networks) == {"net1"} and set(host.groups) == {"sg1"}
    assert set(host.dhcp) == {"net1"} and set(host.routers) == {"r1"}


async def test_resync_repairs_what_broke_on_the_host() -> None:
    source, driver = MemorySource(state()), FakeDataPlane()
    agent = await started(source, driver)
    driver.calls.clear()
    del driver.host.ports["p1"]  # a tap deleted behind the agent's back
    driver.host.degraded.add("dhcp:net1")  # dnsmasq died
    driver.host.ports["stray"] = port("stray")  # and something nobody wants
    await agent.resync()
    await run_once(agent)
    assert set(driver.changes()) == {
        ("remove_port", "stray"),
        ("ensure_port", "p1"),
        ("ensure_dhcp", "net1"),
    }


async def test_the_loop_registers_beats_and_wakes_on_a_change() -> None:
    source, driver = MemorySource(state(ports=())), FakeDataPlane()
    agent = NetworkAgent(
        AgentInfo(HOST, None),
        source,
        driver,
        Timing(poll_interval=60, sync_interval=60, heartbeat_interval=0),
    )
    await agent.start()
    try:
        await agent.idle(5)
        source.state = state()
        for wake in source.wakers:
            wake()
        await agent.idle(5)
        assert set(driver.host.ports) == {"p1", "p2"}
        await agent.heartbeat()
        assert len(source.registered) == 2  # the first beat found it gone: registered again
    finally:
        await agent.stop()
    assert source.wakers == []
