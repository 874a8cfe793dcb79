"""What the engine knows of a stack and its resources, and where it records
what it did (``Store``: the recorder over the database, a dict in tests)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from stratus.orchestration.drivers.base import Outcome
from stratus.orchestration.drivers.heat import group_attribute

REF_ATTRIBUTE = {"OS::Heat::RandomString": "value"}


@dataclass
class ResourceState:
    name: str
    type: str
    action: str = "INIT"
    status: str = "COMPLETE"
    reason: str = ""
    physical_id: str | None = None
    properties: dict[str, Any] = field(default_factory=dict)
    attributes: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    requires: list[str] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def outcome(self) -> Outcome:
        return Outcome(self.physical_id, self.attributes, self.data)

    @property
    def exists(self) -> bool:
        """Something may exist behind it (to delete)."""
        return not (self.action == "INIT" or (self.action == "DELETE" and self.status == "COMPLETE"))

    @property
    def reference(self) -> Any:
        """What get_resource gives: the physical id, or (a random string)
        the value itself, as Heat's reference of those types is."""
        if self.type in REF_ATTRIBUTE:
            return self.attributes.get(REF_ATTRIBUTE[self.type])
        return self.physical_id

    def attribute(self, name: str) -> Any:
        if self.type == "OS::Heat::ResourceGroup":
            return group_attribute(self.attributes, name)
        if name == "show":
            return self.attributes.get("show", self.attributes)
        return self.attributes.get(name)


@dataclass
class StackInfo:
    id: str
    name: str
    project_id: str
    disable_rollback: bool
    timeout_mins: int | None


class Store(Protocol):
    async def resources(self, stack_id: str) -> dict[str, ResourceState]: ...

    async def save(self, stack_id: str, state: ResourceState, event: bool = True) -> None:
        """Record the resource's state and (``event``) an event of it."""

    async def remove(self, stack_id: str, name: str) -> None: ...

    async def stack_status(self, stack_id: str, action: str, status: str, reason: str) -> None:
        """Record the stack's action and status, and its event."""
