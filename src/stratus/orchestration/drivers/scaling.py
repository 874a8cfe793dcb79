"""OS::Heat::AutoScalingGroup and OS::Heat::ScalingPolicy.

A group is a ResourceGroup of ``desired_capacity`` (else ``min_size``)
members of its ``resource`` definition, within ``min_size`` and
``max_size``.  A policy's physical id is a secret, and its ``alarm_url``
(``signal_url``) the signal URL of that secret, as a wait condition
handle's: a POST to it (service/scaling.py) works out the group's new size,
keeps it in the group's ``data`` (``capacity``) and gives the stack an
update, in which the group takes that size: a scale-down removes the oldest
members first, as Heat's."""

from __future__ import annotations

import math
import secrets
from typing import Any, ClassVar

from stratus.orchestration.drivers.base import Api, Context, Outcome, Prop, ResourceType
from stratus.orchestration.drivers.heat import ResourceGroup
from stratus.orchestration.drivers.wait import endpoint
from stratus.orchestration.errors import StackValidationFailed

GROUP = "OS::Heat::AutoScalingGroup"
POLICY = "OS::Heat::ScalingPolicy"
ADJUSTMENTS = ("change_in_capacity", "exact_capacity", "percent_change_in_capacity")
NO_INDEX = "\x00"  # members' definitions are not numbered (as Heat's)


def clamp(size: int, props: dict[str, Any]) -> int:
    return max(int(props["min_size"]), min(int(props["max_size"]), size))


def new_size(current: int, kind: str, adjustment: float, min_step: int = 0) -> int:
    """The group's size after one adjustment, before min/max (Heat's rules)."""
    if kind == "exact_capacity":
        return int(adjustment)
    if kind == "change_in_capacity":
        return current + int(adjustment)
    delta = current * adjustment / 100.0
    if abs(delta) < 1.0:  # a percentage moves at least one member
        step = math.ceil(delta) if delta > 0 else math.floor(delta)
    else:
        step = math.floor(delta) if delta > 0 else math.ceil(delta)
    if min_step and abs(step) < min_step:
        step = min_step if step >= 0 else -min_step
    return current + int(step)


class AutoScalingGroup(ResourceGroup):
    name = GROUP
    description = "A group of resources sized between min_size and max_size by scaling policies."
    properties: ClassVar[dict[str, Prop]] = {
        "min_size": Prop("integer", required=True, update_allowed=True),
        "max_size": Prop("integer", required=True, update_allowed=True),
        "desired_capacity": Prop("integer", update_allowed=True),
        "cooldown": Prop("integer", update_allowed=True),
        "resource": Prop("map", required=True, update_allowed=True,
                         description="The members' definition: type and properties."),
        "rolling_updates": Prop("map", update_allowed=True),
    }  # fmt: skip
    lazy: ClassVar[tuple[tuple[str, str], ...]] = (("resource", "properties"),)
    attributes: ClassVar[dict[str, str]] = {
        "current_size": "The number of members.",
        "refs": "The members' ids.",
        "refs_map": "The members' ids by index.",
    }

    def validate(self, props: dict[str, Any], where: str) -> dict[str, Any]:
        out = ResourceType.validate(self, props, where)
        self.check_member(out.get("resource"), f"{where}.properties.resource")
        lo, hi, want = out.get("min_size"), out.get("max_size"), out.get("desired_capacity")
        if isinstance(lo, int) and lo < 0:
            raise StackValidationFailed(f"Property error: {where}.properties.min_size: must be "
                                        ">= 0")  # fmt: skip
        if isinstance(lo, int) and isinstance(hi, int):
            if hi < lo:
                raise StackValidationFailed("MinSize can not be greater than MaxSize")
            if isinstance(want, int) and not lo <= want <= hi:
                raise StackValidationFailed("DesiredCapacity must be between MinSize and "
                                            "MaxSize")  # fmt: skip
        return out

    @staticmethod
    def _as_group(props: dict[str, Any], count: int) -> dict[str, Any]:
        return {"count": count, "index_var": NO_INDEX, "resource_def": props["resource"],
                "removal_policies": [], "removal_policies_mode": "append"}  # fmt: skip

    @staticmethod
    def _sized(out: Outcome, capacity: int | None) -> Outcome:
        out.attributes["current_size"] = len(out.data.get("members", []))
        if capacity is not None:
            out.data["capacity"] = capacity
        return out

    async def create(self, api: Any, props: dict[str, Any], ctx: Context) -> Outcome:
        size = clamp(props.get("desired_capacity") or props["min_size"], props)
        return self._sized(await super().create(api, self._as_group(props, size), ctx), None)

    def updatable(self, old: dict[str, Any], new: dict[str, Any]) -> bool:
        return True

    @staticmethod
    def _plan(members: dict[int, Any], count: int) -> tuple[list[int], list[int]]:
        """Members are numbered in the order they were made: a scale-down
        removes the oldest (lowest numbers) first, a scale-up numbers the new
        ones after the newest (as Heat's AutoScalingGroup)."""
        ages = sorted(members)
        doomed = ages[: max(0, len(ages) - count)]
        start = ages[-1] + 1 if ages else 0
        return doomed, list(range(start, start + max(0, count - len(ages))))

    async def update(
        self, api: Any, current: Outcome, old: dict[str, Any], new: dict[str, Any], ctx: Context
    ) -> Outcome:
        signalled = current.data.get("capacity")
        if new.get("desired_capacity") != old.get("desired_capacity") or signalled is None:
            size = new.get("desired_capacity") or len(current.data.get("members", []))
        else:
            size = int(signalled)  # a scaling policy's, since the template's last change
        size = clamp(size, new)
        out = await super().update(api, current, self._as_group(old, size),
                                   self._as_group(new, size), ctx)  # fmt: skip
        return self._sized(out, signalled if size == signalled else None)


class ScalingPolicy(ResourceType):
    name = POLICY
    description = "Resizes an AutoScalingGroup when its alarm_url is POSTed to."
    properties: ClassVar[dict[str, Prop]] = {
        "auto_scaling_group_id": Prop(required=True),
        "adjustment_type": Prop(required=True, allowed=ADJUSTMENTS, update_allowed=True),
        "scaling_adjustment": Prop("number", required=True, update_allowed=True),
        "cooldown": Prop("number", update_allowed=True),
        "min_adjustment_step": Prop("integer", update_allowed=True),
    }
    attributes: ClassVar[dict[str, str]] = {
        "alarm_url": "The URL to POST to (no token: the URL is the credential) to scale.",
        "signal_url": "The same URL.",
    }

    async def create(self, api: Api, props: dict[str, Any], ctx: Context) -> Outcome:
        secret = secrets.token_urlsafe(24)
        url = endpoint(api, secret)
        return Outcome(secret, {"alarm_url": url, "signal_url": url})

    async def update(
        self, api: Api, current: Outcome, old: dict[str, Any], new: dict[str, Any], ctx: Context
    ) -> Outcome:
        return current  # the signal reads the properties it is given
