"""Fake resource types and an in-memory store, for the engine's unit
tests only (never registered by the service)."""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

from stratus.orchestration.agent.state import ResourceState
from stratus.orchestration.drivers.base import ApiError, Context, Outcome, Prop, ResourceType


class FakeThing(ResourceType):
    """Made, changed and removed in a dict (``world``): ``fail`` makes the
    create fail, ``delay`` makes it slow, ``size`` is updatable in place,
    ``kind`` forces a replacement, ``busy`` makes the first deletes 409."""

    name = "Test::Thing"
    properties: ClassVar[dict[str, Prop]] = {
        "fail": Prop("boolean", default=False),
        "delay": Prop("number", default=0.0),
        "size": Prop("integer", default=1, update_allowed=True),
        "kind": Prop(default="a"),
        "ref": Prop(),
        "busy": Prop("integer", default=0),
    }
    attributes: ClassVar[dict[str, str]] = {"size": "", "name": ""}

    def __init__(self, registry: Any = None) -> None:
        super().__init__(registry)
        self.world: dict[str, dict[str, Any]] = {}
        self.log: list[tuple[str, str]] = []
        self.running = 0
        self.most_at_once = 0
        self.counter = 0

    async def create(self, api: Any, props: dict[str, Any], ctx: Context) -> Outcome:
        self.running += 1
        self.most_at_once = max(self.most_at_once, self.running)
        try:
            await asyncio.sleep(props["delay"])
            if props["fail"]:
                raise ApiError(400, f"{ctx.name} was told to fail")
            self.counter += 1
            pid = f"{ctx.name}-{self.counter}"
            self.world[pid] = {**props, "busy_left": props["busy"]}
            self.log.append(("create", ctx.name))
            return Outcome(pid, {"size": props["size"], "name": ctx.name})
        finally:
            self.running -= 1

    async def update(
        self, api: Any, current: Outcome, old: dict[str, Any], new: dict[str, Any], ctx: Context
    ) -> Outcome:
        assert current.physical_id is not None
        self.world[current.physical_id].update(new)
        self.log.append(("update", ctx.name))
        return Outcome(current.physical_id, {"size": new["size"], "name": ctx.name})

    async def delete(self, api: Any, current: Outcome) -> None:
        pid = current.physical_id
        if pid is None or pid not in self.world:
            return
        if self.world[pid]["busy_left"] > 0:
            self.world[pid]["busy_left"] -= 1
            raise ApiError(409, "still in use")
        del self.world[pid]
        self.log.append(("delete", pid.rsplit("-", 1)[0]))


class FakeStore:
    """The engine's ``Store`` in memory."""

    def __init__(self) -> None:
        self.rows: dict[str, dict[str, ResourceState]] = {}
        self.events: list[tuple[str, str, str]] = []  # (name, action, status)
        self.status: dict[str, tuple[str, str, str]] = {}

    async def resources(self, stack_id: str) -> dict[str, ResourceState]:
        return {n: ResourceState(**vars(s)) for n, s in self.rows.get(stack_id, {}).items()}

    async def save(self, stack_id: str, state: ResourceState, event: bool = True) -> None:
        self.rows.setdefault(stack_id, {})[state.name] = ResourceState(**vars(state))
        if event:
            self.events.append((state.name, state.action, state.status))

    async def remove(self, stack_id: str, name: str) -> None:
        self.rows.get(stack_id, {}).pop(name, None)

    async def stack_status(self, stack_id: str, action: str, status: str, reason: str) -> None:
        self.status[stack_id] = (action, status, reason)
        self.events.append(("<stack>", action, status))
