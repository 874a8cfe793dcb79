"""The network agent of one host, on the shared reconcile loop.

At start it registers, then compares what the host holds (``present``)
with the host's desired state: what belongs to nothing is removed (and
logged), the rest is ensured once (adopted: ensuring what already matches
changes nothing, and a port's rules are replaced in one transaction, so a
running guest never loses them).  On a wake-up it reads the desired state,
diffs it against what it last applied and applies only the difference:
each object's step starts as soon as the steps it depends on have finished
(``plan.waits_for``), several at once, and a change that comes while
others run is started at once too, so a new port never waits behind an
unrelated removal, a DHCP reload or a router.  An object that fails is
tried again later on its own (backing off), without holding up the others.
On an interval it compares with the host again and repairs drift.  It
reports each port's status (ACTIVE when plugged with its rules, DOWN when
disabled) as soon as its step is done.

The desired state is read again only when something woke the agent since
the last read, or when that read is older than half the poll interval (an
agent of its own process is never woken by the API: it polls).  A step
that finishes plans over the state already read, so one change costs one
read of the host's state.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Hashable, Iterable
from dataclasses import dataclass

from stratus.common.reconciler import Reconciler, Timing
from stratus.network.agent import plan as p
from stratus.network.agent.source import AgentInfo, StateSource
from stratus.network.drivers.base import (
    ACTIVE,
    DOWN,
    DataPlane,
    DhcpSpec,
    NetworkSpec,
    PortSpec,
    RouterSpec,
    SecurityGroupSpec,
)

log = logging.getLogger(__name__)

PARALLEL = 4  # objects worked on at once (each runs a few short commands)
FIRST_RETRY = 0.5
MAX_RETRY = 60.0
# A pass starts what comes for this long at most, then ends once its steps
# have, so that the loop's comparison with the host and heartbeat get a turn.
PASS_LIMIT = 10.0


@dataclass
class Running:
    """A step under way: ``done`` is set when it has finished (however)."""

    step: p.Step
    done: asyncio.Future[None]
    task: asyncio.Task[None] | None = None


class NetworkAgent:
    def __init__(
        self,
        info: AgentInfo,
        source: StateSource,
        driver: DataPlane,
        timing: Timing = Timing(),
    ):
        self.info = info
        self.host = info.host
        self.source = source
        self.driver = driver
        self.loop = Reconciler(f"network-agent {self.host}", self, timing)
        self.applied: p.Objects = {}
        self.statuses: dict[str, str] = {}  # port id -> status reported
        self.unreported: dict[str, str] = {}  # port id -> status to report
        self.retry: dict[str, tuple[float, float]] = {}  # key -> (when, delay)
        self._desired: p.Objects | None = None
        self._stale = True  # woken since the desired state was last read
        self._read_at = 0.0  # when it was last read (monotonic)
        self._unsubscribe: Callable[[], None] | None = None
        self._lock = asyncio.Lock()
        self._slots = asyncio.Semaphore(PARALLEL)
        self._busy: dict[str, Running] = {}  # key -> its step under way
        self._passing = False  # a pass is under way (work())
        self._woken = asyncio.Event()  # a wake-up, or a step finished
        self._sending: set[str] = set()  # port ids whose status is being reported
        self._crashed: BaseException | None = None  # what killed a step (not an error)

    # -- running ----------------------------------------------------------------

    async def start(self) -> None:
        self._unsubscribe = self.source.subscribe(self.host, self.wake)
        await self.loop.start()

    async def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        await self.loop.stop()
        await self.driver.close()

    def wake(self) -> None:
        """Something this host holds changed: read the desired state again."""
        self._stale = True
        self._woken.set()
        self.loop.wake()

    async def idle(self, timeout: float = 30.0) -> None:
        await self.loop.idle(timeout)

    # -- the loop's workflows ------------------------------------------------------

    async def register(self) -> None:
        await self.driver.start()
        await self.source.register_agent(self.host, self.info.tunnel_ip, self.info.configurations)

    async def heartbeat(self) -> None:
        if not await self.source.agent_heartbeat(self.host):
            log.warning("%s: this agent's registration is gone; registering again", self.host)
            await self.source.register_agent(
                self.host, self.info.tunnel_ip, self.info.configurations
            )

    async def adopt(self) -> None:
        async with self._lock:
            desired = await self._read()
            present = await self.driver.present()
            found = p.present_keys(present)
            orphans = found - set(desired)
            kept = found & set(desired)
            log.info(
                "%s: found %d objects on the host: %d wanted (adopted), %d belonging to nothing",
                self.host, len(found), len(kept), len(orphans),
            )  # fmt: skip
            await self._remove_orphans(orphans)
            self.applied = {}  # ensure everything once; what matches is left as it is
            self.statuses = {}

    async def pending(self) -> Iterable[str]:
        if self._passing:  # the pass under way reads and starts what comes
            return [self.host]
        desired = await self._fresh()
        work = p.steps(desired, self.applied, self._waiting())
        return [self.host] if work or self.unreported else []

    async def work(self, key: str) -> None:
        async with self._lock:
            self._passing = True
            try:
                await self._pass()
            finally:
                self._passing = False
                await self._halt()

    async def resync(self) -> None:
        async with self._lock:
            desired = await self._read()
            present = await self.driver.present()
            found = p.present_keys(present)
            for k in list(self.applied):
                if k not in found or k in present.degraded:
                    if k in desired:
                        log.warning(
                            "%s: %s is missing or broken on the host; repairing", self.host, k
                        )
                    self.applied.pop(k)
            await self._remove_orphans(found - set(desired) - set(self.applied))
            # Read again at the next pass: this read is older than the slow
            # look at the host, and pending() may have read a newer one since.
            self._stale = True
        self.loop.wake()

    # -- applying ------------------------------------------------------------------

    async def _read(self) -> p.Objects:
        # A wake-up that comes while this reads is for a change it may miss.
        self._stale = False
        self._read_at = time.monotonic()
        return p.objects(await self.source.host_state(self.host))

    def _waiting(self) -> set[str]:
        now = time.monotonic()
        return {k for k, (when, _) in self.retry.items() if when > now}

    async def _fresh(self) -> p.Objects:
        """The desired state, read again when woken since the last read or
        when that read is older than half the poll interval."""
        fresh = time.monotonic() - self._read_at < self.loop.timing.poll_interval / 2
        if self._desired is None or self._stale or not fresh:
            self._desired = await self._read()
        return self._desired

    async def _pass(self) -> None:
        """Start each step once what it waits for has finished, and what a
        wake-up brings while others run, until nothing is left to do."""
        wait = self.loop.timing.poll_interval / 2
        until, taking = time.monotonic() + PASS_LIMIT, True
        while True:
            self._woken.clear()
            if self._crashed is not None:
                crashed, self._crashed = self._crashed, None
                raise crashed
            if taking:
                self._start(await self._fresh())
                taking = time.monotonic() < until
            if not self._busy:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._woken.wait(), wait)
        await self._report()  # what failed to be reported when its step ended

    def _start(self, desired: p.Objects) -> None:
        new = p.steps(desired, self.applied, self._waiting() | set(self._busy))
        if not new:
            return
        loop = asyncio.get_running_loop()
        for step in new:  # all registered first: one may wait for a later one
            self._busy[step.key] = Running(step, loop.create_future())
        steps = {k: r.step for k, r in self._busy.items()}
        for step in new:
            after = [self._busy[k].done for k in p.waits_for(step, steps, desired, self.applied)]
            spec = desired.get(step.key)
            self._busy[step.key].task = asyncio.create_task(
                self._run(step, spec, after), name=f"network-agent {self.host} {step.key}"
            )

    async def _run(self, step: p.Step, spec: Hashable, after: list[asyncio.Future[None]]) -> None:
        k = step.key
        try:
            if after:
                await asyncio.wait(after)
            async with self._slots:
                try:
                    if step.action == p.REMOVE:
                        await self._remove(k)
                    else:
                        await self._ensure(k, spec)
                    self.retry.pop(k, None)
                except Exception as exc:
                    self._failed(k, exc)
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # the agent is dying here: the pass says so
            self._crashed = self._crashed or exc
        finally:
            running = self._busy.pop(k, None)
            if running is not None and not running.done.done():
                running.done.set_result(None)
            self._woken.set()

    async def _halt(self) -> None:
        """Cancel the steps still under way (a pass cancelled or crashed)."""
        running = list(self._busy.values())
        tasks = [r.task for r in running if r.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for r in running:
            if not r.done.done():
                r.done.set_result(None)
        self._busy.clear()

    def _failed(self, k: str, exc: Exception) -> None:
        delay = min(2 * self.retry.get(k, (0.0, FIRST_RETRY / 2))[1], MAX_RETRY)
        self.retry[k] = (time.monotonic() + delay, delay)
        log.error("%s: %s failed (%s); trying again in %.1f s", self.host, k, exc, delay)

    async def _each(self, keys: list[str], action: Callable[[str], Awaitable[None]]) -> None:
        async def one(k: str) -> None:
            async with self._slots:
                try:
                    await action(k)
                    self.retry.pop(k, None)
                except Exception as exc:
                    self._failed(k, exc)

        await asyncio.gather(*(one(k) for k in keys))

    async def _ensure(self, k: str, spec: Hashable) -> None:
        statuses: dict[str, str] = {}  # the ports this step brings up or down
        if isinstance(spec, tuple):  # a network and its VXLAN peers
            net, peers = spec
            assert isinstance(net, NetworkSpec)
            await self.driver.ensure_network(net, peers)
        elif isinstance(spec, SecurityGroupSpec):
            await self.driver.ensure_security_group(spec)
        elif isinstance(spec, PortSpec):
            plugged = await self.driver.ensure_port(spec)
            statuses[spec.id] = ACTIVE if plugged and spec.admin_state_up else DOWN
        elif isinstance(spec, DhcpSpec):
            await self.driver.ensure_dhcp(spec)
            statuses[spec.port_id] = ACTIVE
        elif isinstance(spec, RouterSpec):
            await self.driver.ensure_router(spec)
            # The router's own ports are up once its namespace holds them.
            up = ACTIVE if spec.admin_state_up else DOWN
            for port in (*spec.interfaces, *([spec.gateway] if spec.gateway else [])):
                statuses[port.port_id] = up
        self.applied[k] = spec
        for port_id, status in statuses.items():
            self._status(port_id, status)
        if statuses:  # reported now, not at the end of the pass: a guest's
            await self._report(statuses)  # boot or hot-plug waits on it

    async def _remove(self, k: str) -> None:
        kind, id = p.split(k)
        removers = {
            p.NETWORK: self.driver.remove_network,
            p.SECURITY_GROUP: self.driver.remove_security_group,
            p.PORT: self.driver.remove_port,
            p.DHCP: self.driver.remove_dhcp,
            p.ROUTER: self.driver.remove_router,
        }
        await removers[kind](id)
        self.applied.pop(k, None)
        if kind == p.PORT:
            self.statuses.pop(id, None)
            self.unreported.pop(id, None)

    async def _remove_orphans(self, keys: set[str]) -> None:
        for k in sorted(keys):
            log.warning("%s: removing %s, which belongs to nothing", self.host, k)
        for phase in p.removal(keys):
            await self._each(phase, self._remove)

    def _status(self, port_id: str, status: str) -> None:
        if self.statuses.get(port_id) != status:
            self.unreported[port_id] = status

    async def _report(self, only: Iterable[str] | None = None) -> None:
        wanted = None if only is None else set(only)
        for port_id, status in list(self.unreported.items()):
            if wanted is not None and port_id not in wanted or port_id in self._sending:
                continue
            self._sending.add(port_id)
            try:
                # False: the port is gone (deleted meanwhile); nothing to report.
                await self.source.set_port_status(port_id, status)
            except Exception as exc:
                log.error("%s: reporting port %s %s failed: %s", self.host, port_id, status, exc)
                continue
            finally:
                self._sending.discard(port_id)
            self.statuses[port_id] = status
            if self.unreported.get(port_id) == status:
                del self.unreported[port_id]
