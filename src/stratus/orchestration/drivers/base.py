"""What a resource type is: its properties schema, its attributes, and
create / update / delete through ``Api`` (the other services' public HTTP
APIs, with the stack owner's credential).  Types never touch the database."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from stratus.orchestration.errors import ResourceFailure, StackValidationFailed

UUID = re.compile(r"^[0-9a-fA-F]{8}-?([0-9a-fA-F]{4}-?){3}[0-9a-fA-F]{12}$")


@dataclass(frozen=True)
class Prop:
    type: str = "string"  # string, integer, number, boolean, map, list
    required: bool = False
    default: Any = None
    update_allowed: bool = False
    description: str = ""
    allowed: tuple[Any, ...] = ()


class ApiError(ResourceFailure):
    """Another service answered with an error: ``status`` and its message."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


class Api(Protocol):
    """The cloud's services as the stack owner sees them."""

    project_id: str

    async def call(
        self,
        service: str,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        ok: tuple[int, ...] = (200, 201, 202, 204),
    ) -> Any:
        """The JSON answer (None when there is none); ``ApiError`` when the
        status is not in ``ok``."""


@dataclass
class Outcome:
    """What a create or update left: the physical id, the attributes a
    template may read (get_attr), and the type's own data for later."""

    physical_id: str | None
    attributes: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)


def _same(value: Any) -> Any:
    return value


async def _unrecorded(made: Outcome) -> None:
    return None


def _no_config(ref: str) -> str | None:
    return None


@dataclass
class Context:
    """Who the resource is: for names and group members.  ``resolve``
    evaluates the template's functions in a value (for a group's member
    definition, left unevaluated until each member's index is in it)."""

    stack_name: str
    stack_id: str
    name: str  # the resource's name in the template
    resolve: Callable[[Any], Any] = _same
    # A create calls it as soon as its object exists (before waiting on it),
    # so what a failed or cut-short wait leaves is recorded to delete.
    made: Callable[[Outcome], Awaitable[None]] = _unrecorded
    # The config text of a software config resource of the stack by its id
    # (get_resource of an OS::Heat::SoftwareConfig, CloudConfig or
    # MultipartMime); None when the id is no such resource's.
    config: Callable[[str], str | None] = _no_config


class ResourceType:
    """A type with no behaviour of its own; subclasses override."""

    name: ClassVar[str] = ""
    properties: ClassVar[dict[str, Prop]] = {}
    attributes: ClassVar[dict[str, str]] = {}
    description: ClassVar[str] = ""
    # Property paths left unevaluated by the engine (the type evaluates
    # them itself with ``Context.resolve``); such a type is always given
    # an update, which finds out itself whether anything changed.
    lazy: ClassVar[tuple[tuple[str, str], ...]] = ()

    def __init__(self, registry: Mapping[str, ResourceType] | None = None) -> None:
        self.registry = registry or {}

    def validate(self, props: dict[str, Any], where: str) -> dict[str, Any]:
        """The properties with defaults filled in; a 400 for unknown or
        missing ones (values not yet known, ``None``, pass)."""
        unknown = sorted(set(props) - set(self.properties))
        if unknown:
            raise StackValidationFailed(f"Property error: {where}.properties: Unknown Property "
                                        f"{unknown[0]}")  # fmt: skip
        out = {}
        for key, p in self.properties.items():
            value = props.get(key, p.default)
            if value is None and p.required and key not in props:
                raise StackValidationFailed(f"Property error: {where}.properties: Property "
                                            f"{key} not assigned")  # fmt: skip
            if value is not None:
                value = _check_type(value, p, f"{where}.properties.{key}")
            out[key] = value
        return out

    def updatable(self, old: dict[str, Any], new: dict[str, Any]) -> bool:
        """Whether a change of properties can be made in place."""
        return all(self.properties[k].update_allowed for k in new if old.get(k) != new.get(k))

    async def create(self, api: Api, props: dict[str, Any], ctx: Context) -> Outcome:
        return Outcome(None)

    async def update(
        self, api: Api, current: Outcome, old: dict[str, Any], new: dict[str, Any], ctx: Context
    ) -> Outcome:
        return Outcome(current.physical_id, current.attributes, current.data)

    async def delete(self, api: Api, current: Outcome) -> None:
        return None

    # Where the service shows the object (service, path with ``{id}``), for
    # a stack check: it still exists there.  None: nothing to check (as
    # Heat's types without a check handler).
    shown: ClassVar[tuple[str, str] | None] = None

    async def check(self, api: Api, current: Outcome) -> None:
        """Raise (``ApiError``) when the object is gone from its service."""
        if self.shown is not None and current.physical_id:
            service, path = self.shown
            await api.call(service, "GET", path.format(id=current.physical_id))

    async def suspend(self, api: Api, current: Outcome) -> None:
        """The object suspended; a type without the notion only changes state."""

    async def resume(self, api: Api, current: Outcome) -> None:
        """The object resumed; a type without the notion only changes state."""

    async def locate(self, api: Api, props: dict[str, Any], ctx: Context) -> Outcome | None:
        """What a create cut short (the engine killed before it recorded
        the id) left, found by the name it gave; None when nothing can be."""
        return None


def _check_type(value: Any, p: Prop, where: str) -> Any:
    bad = StackValidationFailed(f"Property error: {where}: Value '{value}' is not a valid "
                                f"{p.type}")  # fmt: skip
    if p.type == "string":
        if isinstance(value, (dict, list)):
            raise bad
        value = str(value).lower() if isinstance(value, bool) else str(value)
    elif p.type in ("integer", "number"):
        if isinstance(value, bool):
            raise bad
        try:
            value = int(value) if p.type == "integer" else float(value)
        except (TypeError, ValueError, OverflowError):
            raise bad from None
    elif p.type == "boolean":
        if isinstance(value, str) and value.lower() in ("true", "false"):
            value = value.lower() == "true"
        if not isinstance(value, bool):
            raise bad
    elif p.type == "map" and not isinstance(value, dict):
        raise bad
    elif p.type == "list" and not isinstance(value, list):
        if isinstance(value, str):
            return [v.strip() for v in value.split(",") if v.strip()]
        raise bad
    if p.allowed and value not in p.allowed:
        raise StackValidationFailed(f"Property error: {where}: \"{value}\" is not an allowed "
                                    f"value {list(p.allowed)}")  # fmt: skip
    return value


async def wait_for(
    api: Api,
    service: str,
    path: str,
    key: str,
    ready: tuple[str, ...],
    failed: tuple[str, ...] = ("error",),
    timeout: float = 600.0,
) -> dict[str, Any]:
    """Poll ``path`` until its ``key``'s status is one of ``ready``."""
    deadline = time.monotonic() + timeout
    delay = 0.05
    while True:
        body = (await api.call(service, "GET", path))[key]
        status = str(body.get("status", "")).lower()
        if status in ready:
            return body  # type: ignore[no-any-return]
        if status in failed:
            reason = body.get("fault", {}).get("message") if isinstance(body.get("fault"), dict) else ""
            raise ResourceFailure(f"Went to status {status.upper()} due to \"{reason or status}\"")
        if time.monotonic() > deadline:
            raise ResourceFailure(f"Timed out waiting for {path} to be {ready[0]}")
        await asyncio.sleep(delay)
        delay = min(delay * 1.5, 2.0)


async def wait_gone(api: Api, service: str, path: str, timeout: float = 600.0) -> None:
    deadline = time.monotonic() + timeout
    delay = 0.05
    while time.monotonic() < deadline:
        try:
            await api.call(service, "GET", path)
        except ApiError as exc:
            if exc.status == 404:
                return
            raise
        await asyncio.sleep(delay)
        delay = min(delay * 1.5, 2.0)
    raise ResourceFailure(f"Timed out waiting for {path} to be deleted")


async def delete_quietly(api: Api, service: str, path: str) -> None:
    """DELETE, where "already gone" (404) is success."""
    await api.call(service, "DELETE", path, ok=(200, 202, 204, 404))


def strip_none(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if v is not None}
