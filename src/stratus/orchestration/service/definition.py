"""A stack definition as the API receives it (template, environment,
files, parameters) checked into a plan: every 400 a create, update,
preview or validate can give before anything is made."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from stratus.orchestration.drivers.base import ResourceType
from stratus.orchestration.errors import InvalidTemplate, StackValidationFailed
from stratus.orchestration.template import functions as fns
from stratus.orchestration.template import hot, walk
from stratus.orchestration.template.plan import Plan, build
from stratus.orchestration.template.unknown import UNKNOWN, as_none


@dataclass
class Definition:
    template: dict[str, Any]
    environment: dict[str, Any] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)
    parameters: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"template": self.template, "environment": self.environment,
                "files": self.files, "parameters": self.parameters}  # fmt: skip


def as_mapping(value: Any, what: str) -> dict[str, Any]:
    """A template or environment given as a mapping or as YAML/JSON text."""
    if value is None:
        return {}
    if isinstance(value, str):
        return hot.load(value) if value.strip() else {}
    if isinstance(value, dict):
        return value
    raise StackValidationFailed(f"The {what} must be a map or YAML text.")


def definition(
    template: Any,
    environment: Any,
    files: Mapping[str, Any] | None,
    parameters: Mapping[str, Any] | None,
    template_url: str | None = None,
) -> Definition:
    if template is None:
        if template_url:
            raise StackValidationFailed("template_url is not supported by this cloud: send the "
                                        "template itself.")  # fmt: skip
        raise StackValidationFailed("Need more arguments: a template is required.")
    files_out = {}
    for name, body in (files or {}).items():
        files_out[str(name)] = body if isinstance(body, str) else json.dumps(body)
    return Definition(
        as_mapping(template, "template"),
        as_mapping(environment, "environment"),
        files_out,
        dict(parameters or {}),
    )


def plan(
    d: Definition,
    registry: Mapping[str, ResourceType],
    pseudo: Mapping[str, str],
    *,
    strict: bool = True,
) -> Plan:
    """The plan, with each resource's properties checked as far as they are
    known before anything exists (references stand in for their values)."""
    try:
        return _plan(d, registry, pseudo, strict)
    except RecursionError:
        raise InvalidTemplate("The template is nested too deeply.") from None


def _plan(d: Definition, registry: Mapping[str, ResourceType], pseudo: Mapping[str, str],
          strict: bool) -> Plan:  # fmt: skip
    p = build(d.template, d.environment, d.files, d.parameters, pseudo,
              registry.__contains__, strict=strict)  # fmt: skip
    scope = p.scope(lambda n: f"<{n}>", lambda n, a: UNKNOWN)
    # validate without values: a parameter not given stands as unknown
    scope.params = {**{k: UNKNOWN for k in p.template.parameters}, **p.params}
    for name, rdef in p.resources.items():
        raw = as_none(fns.resolve(rdef.properties, scope))
        registry[rdef.type].validate(raw, f"resources.{name}")
    for name, out in p.outputs().items():
        walk.check_version(out.get("value"), p.template.rank, f"Output {name}")
    return p
