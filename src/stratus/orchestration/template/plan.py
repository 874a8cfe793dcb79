"""A template with its environment and parameters made into a plan: the
parameter values, the conditions, the resources that exist under them and
the order they depend on each other in."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from stratus.orchestration.errors import (
    CircularDependency,
    InvalidTemplateReference,
    ResourceTypeNotFound,
    StackValidationFailed,
)
from stratus.orchestration.template import functions as fns
from stratus.orchestration.template import hot, parameters, walk

ENV_KEYS = frozenset({"parameters", "parameter_defaults", "resource_registry", "event_sinks",
                      "encrypted_param_names", "parameter_merge_strategies"})  # fmt: skip
PSEUDO = ("OS::stack_name", "OS::stack_id", "OS::project_id")


@dataclass
class Plan:
    template: hot.Template
    params: dict[str, Any]  # the template's, and the pseudo parameters
    conditions: dict[str, bool]
    resources: dict[str, hot.ResourceDef]  # those whose condition holds, types mapped
    deps: dict[str, set[str]]  # resource -> the resources it needs first
    files: dict[str, str]

    def scope(
        self,
        ref: Callable[[str], Any] = lambda n: n,
        attr: Callable[[str, str], Any] = lambda n, a: None,
    ) -> fns.Scope:
        return fns.Scope(self.params, frozenset(self.resources), self.conditions, self.files,
                         ref, attr)  # fmt: skip

    def levels(self) -> list[list[str]]:
        return levels(self.deps)

    def outputs(self) -> dict[str, dict[str, Any]]:
        out = {}
        for name, body in self.template.outputs.items():
            cond = body.get("condition")
            if cond is None or fns.condition_value(cond, self.scope()):
                out[name] = body
        return out


def check_environment(env: Mapping[str, Any]) -> None:
    unknown = sorted(set(env) - ENV_KEYS)
    if unknown:
        raise StackValidationFailed(f'Environment has unknown section "{unknown[0]}"')
    for key in ("parameters", "parameter_defaults", "resource_registry"):
        if not isinstance(env.get(key) or {}, dict):
            raise StackValidationFailed(f'Environment section "{key}" must be a mapping')


def _registry(env: Mapping[str, Any], known: Callable[[str], bool]) -> dict[str, str]:
    """Type aliases of the environment's resource_registry."""
    out: dict[str, str] = {}
    for alias, target in (env.get("resource_registry") or {}).items():
        if alias == "resources":
            raise StackValidationFailed("Per-resource registry entries are not supported yet.")
        if not isinstance(target, str) or not known(target):
            raise StackValidationFailed(
                f'resource_registry: "{alias}" maps to "{target}", which is not a resource type '
                "(nested stack templates are not supported by this cloud yet)"
            )
        out[alias] = target
    return out


def _conditions(t: hot.Template, scope: fns.Scope) -> dict[str, bool]:
    scope.in_conditions = True
    pending = dict(t.conditions)
    done: dict[str, bool] = {}
    scope.conditions = done
    for _ in range(len(pending) + 1):
        for name in list(pending):
            try:
                done[name] = fns.condition_value(pending[name], scope)
                del pending[name]
            except StackValidationFailed as exc:
                if "Invalid condition" not in str(exc):
                    raise
        if not pending:
            break
    if pending:
        raise StackValidationFailed(f'Invalid condition "{sorted(pending)[0]}"')
    scope.in_conditions = False
    return done


def build(
    raw: dict[str, Any],
    env: Mapping[str, Any],
    files: Mapping[str, str],
    given: Mapping[str, Any],
    pseudo: Mapping[str, str],
    known_type: Callable[[str], bool],
    *,
    strict: bool = True,
) -> Plan:
    """Everything checked that can be before a resource exists: 400s for
    an invalid template, parameter, reference, type or cycle."""
    t = hot.parse(raw)
    check_environment(env)
    aliases = _registry(env, known_type)
    values = parameters.resolve(
        t.parameters,
        {**(env.get("parameters") or {}), **given},
        dict(env.get("parameter_defaults") or {}),
        strict=strict,
    )
    values.update({k: pseudo.get(k, "") for k in PSEUDO})
    scope = fns.Scope(values, frozenset(t.resources), {}, dict(files))
    conditions = _conditions(t, scope)
    scope.conditions = conditions
    active: dict[str, hot.ResourceDef] = {}
    for name, r in t.resources.items():
        if r.condition is None or fns.condition_value(r.condition, scope):
            r.type = aliases.get(r.type, r.type)
            if not known_type(r.type):
                raise ResourceTypeNotFound(f'The Resource Type ({r.type}) could not be found.')
            active[name] = r
    deps: dict[str, set[str]] = {}
    for name, r in active.items():
        walk.check_version(r.properties, t.rank, f"Resource {name}")
        refs = walk.references(r.properties) | walk.references(r.metadata) | set(r.depends_on)
        for ref in sorted(refs):
            if ref not in t.resources:
                raise InvalidTemplateReference(
                    f'The specified reference "{ref}" (in {name}) is incorrect.'
                )
        deps[name] = {ref for ref in refs if ref in active}
    plan = Plan(t, values, conditions, active, deps, dict(files))
    for name, out in plan.outputs().items():
        for ref in sorted(walk.references(out.get("value"))):
            if ref not in t.resources:
                raise InvalidTemplateReference(
                    f'The specified reference "{ref}" (in output {name}) is incorrect.'
                )
    levels(deps)
    return plan


def levels(deps: Mapping[str, set[str]]) -> list[list[str]]:
    """The resources in waves: each needs only those of earlier waves.
    A cycle is a 400 naming the resources in it."""
    left = {n: set(d) for n, d in deps.items()}
    out: list[list[str]] = []
    while left:
        ready = sorted(n for n, d in left.items() if not d)
        if not ready:
            raise CircularDependency(
                "Circular Dependency Found: " + ", ".join(sorted(left))
            )
        out.append(ready)
        for n in ready:
            del left[n]
        for d in left.values():
            d.difference_update(ready)
    return out


def dependents(deps: Mapping[str, set[str]]) -> dict[str, set[str]]:
    """The reverse graph: resource -> the resources that need it."""
    out: dict[str, set[str]] = {n: set() for n in deps}
    for n, d in deps.items():
        for x in d:
            out.setdefault(x, set()).add(n)
    return out
