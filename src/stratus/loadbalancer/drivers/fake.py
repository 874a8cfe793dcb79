"""A data plane that only remembers what it was asked (unit and API tests)."""

from __future__ import annotations

from stratus.loadbalancer.drivers.base import Health, LoadBalancerSpec, ServerHealth


class FakeDriver:
    def __init__(self) -> None:
        self.specs: dict[str, LoadBalancerSpec] = {}
        self.applied: list[str] = []  # the ids applied, in order
        self.down: set[str] = set()  # member ids reported DOWN
        self.fail: set[str] = set()  # load balancer ids whose apply fails
        self.stopped: list[str] = []

    async def prepare(self, lb_id: str) -> str:
        return f"fake-lb-{lb_id}"

    async def stop(self, lb_id: str) -> None:
        self.stopped.append(lb_id)

    async def apply(self, spec: LoadBalancerSpec) -> None:
        if spec.id in self.fail:
            from stratus.loadbalancer.drivers.base import DataPlaneError

            raise DataPlaneError(f"fake failure of {spec.id}")
        self.specs[spec.id] = spec
        self.applied.append(spec.id)

    async def remove(self, lb_id: str) -> None:
        self.specs.pop(lb_id, None)

    async def running(self) -> set[str]:
        return set(self.specs)

    async def health(self, lb_id: str) -> Health:
        spec = self.specs.get(lb_id)
        if spec is None:
            return Health(running=False)
        servers = tuple(
            ServerHealth(
                pool_id=pool.id,
                member_id=member.id,
                status="DOWN" if member.id in self.down else "UP",
                checked=pool.monitor is not None,
            )
            for pool in spec.pools
            for member in pool.members
        )
        return Health(running=True, servers=servers)
