"""Orchestration responses in Heat v1's shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from stratus.orchestration import models as m
from stratus.orchestration.service.reads import Output
from stratus.orchestration.template import parameters as params


def when(t: datetime | None) -> str | None:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ") if t else None


def stack_url(base: str, stack: m.Stack) -> str:
    return f"{base}/v1/{stack.project_id}/stacks/{stack.name}/{stack.id}"


def summary(stack: m.Stack, base: str) -> dict[str, Any]:
    return {
        "id": stack.id,
        "stack_name": stack.name,
        "description": str((stack.template or {}).get("description") or ""),
        "creation_time": when(stack.created_at),
        "updated_time": when(stack.updated_at),
        "deletion_time": when(stack.deleted_at),
        "stack_status": f"{stack.action}_{stack.status}",
        "stack_status_reason": stack.status_reason,
        "stack_owner": stack.username,
        "stack_user_project_id": stack.project_id,
        "parent": None,
        "tags": list(stack.tags or []) or None,
        "project": stack.project_id,
        "links": [{"href": stack_url(base, stack), "rel": "self"}],
    }


def stack(s: m.Stack, base: str, outputs: list[Output] | None) -> dict[str, Any]:
    schemas = (s.template or {}).get("parameters") or {}
    env = s.environment or {}
    try:
        values = params.resolve(schemas, {**(env.get("parameters") or {}), **(s.parameters or {})},
                                env.get("parameter_defaults") or {}, strict=False)  # fmt: skip
    except Exception:
        values = {k: v for k, v in (s.parameters or {}).items() if k in schemas}
    shown = params.shown(schemas, values)
    shown.update({"OS::stack_name": s.name, "OS::stack_id": s.id, "OS::project_id": s.project_id})
    out = {
        **summary(s, base),
        "disable_rollback": s.disable_rollback,
        "timeout_mins": s.timeout_mins,
        "template_description": str((s.template or {}).get("description") or ""),
        "parameters": shown,
        "capabilities": [],
        "notification_topics": [],
    }
    if outputs is not None:
        out["outputs"] = [output(o) for o in outputs]
    return out


def output(o: Output) -> dict[str, Any]:
    out: dict[str, Any] = {"output_key": o.key, "output_value": o.value,
                           "description": o.description}  # fmt: skip
    if o.error:
        out["output_error"] = o.error
    return out


def resource(r: m.Resource, s: m.Stack, base: str, required_by: list[str],
             detail: bool = False) -> dict[str, Any]:  # fmt: skip
    url = stack_url(base, s)
    out: dict[str, Any] = {
        "resource_name": r.name,
        "logical_resource_id": r.name,
        "physical_resource_id": r.physical_id or "",
        "resource_type": r.type,
        "resource_status": f"{r.action}_{r.status}",
        "resource_status_reason": r.status_reason,
        "creation_time": when(r.created_at),
        "updated_time": when(r.updated_at or r.created_at),
        "required_by": required_by,
        "links": [{"href": f"{url}/resources/{r.name}", "rel": "self"},
                  {"href": url, "rel": "stack"}],
    }  # fmt: skip
    if detail:
        attrs = {k: v for k, v in (r.attributes or {}).items() if k != "show"}
        if r.type in ("OS::Heat::ResourceGroup", "OS::Heat::AutoScalingGroup"):
            attrs.pop("members", None)
        out["attributes"] = attrs
        out["description"] = ""
        out["metadata"] = r.metadata_ or {}
    return out


def event(e: m.Event, s: m.Stack, base: str, detail: bool = False) -> dict[str, Any]:
    url = stack_url(base, s)
    res_url = url if e.resource_name == s.name else f"{url}/resources/{e.resource_name}"
    out: dict[str, Any] = {
        "id": e.id,
        "event_time": when(e.created_at),
        "resource_name": e.resource_name,
        "logical_resource_id": e.resource_name,
        "physical_resource_id": e.physical_id or "",
        "resource_status": f"{e.action}_{e.status}",
        "resource_status_reason": e.reason,
        "links": [{"href": f"{url}/resources/{e.resource_name}/events/{e.id}", "rel": "self"},
                  {"href": res_url, "rel": "resource"}, {"href": url, "rel": "stack"}],
    }  # fmt: skip
    if detail:
        out["resource_type"] = e.resource_type
        out["resource_properties"] = e.properties or {}
    return out
