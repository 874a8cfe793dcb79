"""A scaling policy's signal: its group's new size, and the stack given
an update in which the group takes it (drivers/scaling.py).

The policy is found by its secret (its physical id), its group by the id
in its ``auto_scaling_group_id``.  A signal within the cooldown, or one
that leaves the size where it is (min_size, max_size), changes nothing
and is recorded as an event; one while the stack is busy is a 409."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import select

from stratus.common.db import utcnow
from stratus.orchestration import models as m
from stratus.orchestration.drivers.scaling import GROUP, POLICY, clamp, new_size
from stratus.orchestration.errors import ActionInProgress, NotFound


def _event(s: Any, row: m.Resource, reason: str) -> None:
    s.add(m.Event(stack_id=row.stack_id, resource_name=row.name, physical_id=row.physical_id,
                  resource_type=row.type, action="SIGNAL", status="COMPLETE",
                  reason=reason))  # fmt: skip


async def scale(s: Any, policy: m.Resource) -> bool:
    """Apply one signal of ``policy`` in the transaction ``s``; whether the
    stack was given an update (the engine is to be woken)."""
    props = policy.properties or {}
    group = await s.scalar(select(m.Resource).where(
        m.Resource.stack_id == policy.stack_id, m.Resource.type == GROUP,
        m.Resource.physical_id == str(props.get("auto_scaling_group_id"))))  # fmt: skip
    stack = await s.scalar(select(m.Stack).where(m.Stack.id == policy.stack_id).with_for_update())
    if group is None or stack is None or stack.deleted:
        raise NotFound("The scaling policy's group is not known.")
    if stack.status == m.IN_PROGRESS or (stack.task is not None and stack.status != m.COMPLETE):
        raise ActionInProgress(f"Stack {stack.name} already has an action ({stack.action}) in "
                               "progress.")  # fmt: skip
    gprops = group.properties or {}
    cooldown = props.get("cooldown") if props.get("cooldown") is not None else gprops.get("cooldown")
    last = float((policy.data or {}).get("last", 0))
    if cooldown and time.time() - last < float(cooldown):
        _event(s, policy, "Signal: cooldown in effect, no scaling")
        return False
    current = len((group.data or {}).get("members", []))
    size = clamp(new_size(current, str(props["adjustment_type"]), float(props["scaling_adjustment"]),
                          int(props.get("min_adjustment_step") or 0)), gprops)  # fmt: skip
    if size == current:
        _event(s, policy, f"Signal: the group stays at {current}")
        return False
    policy.data = {**(policy.data or {}), "last": time.time()}
    group.data = {**(group.data or {}), "capacity": size}
    _event(s, policy, f"Signal: the group goes from {current} to {size}")
    stack.pending = {"template": stack.template, "environment": stack.environment,
                     "files": stack.files, "parameters": stack.parameters}  # fmt: skip
    stack.task, stack.action, stack.status = m.T_UPDATE, m.UPDATE, m.IN_PROGRESS
    stack.status_reason = f"Stack UPDATE started: scaling {group.name} to {size}"
    stack.generation = stack.generation + 1
    stack.updated_at = utcnow()
    return True


__all__ = ["POLICY", "scale"]
