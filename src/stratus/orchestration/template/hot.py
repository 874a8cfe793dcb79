"""HOT templates: loading (YAML or JSON), the versions Heat knows, and the
shape of each section."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from stratus.orchestration.errors import InvalidTemplate, StackValidationFailed

# heat_template_version -> its rank (functions and sections are enabled
# from a rank on).  Release names stand for their dates, as Heat allows.
VERSIONS: dict[str, int] = {
    "2013-05-23": 1,
    "2014-10-16": 2,
    "2015-04-30": 3,
    "2015-10-15": 4,
    "2016-04-08": 5,
    "2016-10-14": 6,
    "2017-02-24": 7,
    "2017-09-01": 8,
    "2018-03-02": 9,
    "2018-08-31": 10,
    "2021-04-16": 11,
}
NAMES = {
    "newton": "2016-10-14",
    "ocata": "2017-02-24",
    "pike": "2017-09-01",
    "queens": "2018-03-02",
    "rocky": "2018-08-31",
    "wallaby": "2021-04-16",
}
CONDITIONS_FROM = VERSIONS["2016-10-14"]

SECTIONS = frozenset(
    {"heat_template_version", "description", "parameter_groups", "parameters",
     "resources", "outputs", "conditions"}
)  # fmt: skip
RESOURCE_KEYS = frozenset(
    {"type", "properties", "metadata", "depends_on", "update_policy", "deletion_policy",
     "external_id", "condition", "description"}
)  # fmt: skip
OUTPUT_KEYS = frozenset({"value", "description", "condition"})
MAX_TEMPLATE_BYTES = 512 * 1024


class _Loader(yaml.SafeLoader):
    """YAML as Heat reads it: dates and times stay the strings written, and
    every mapping key is a string (YAML reads ``1:``, ``on:`` and ``~:`` as a
    number, a boolean and null), as in a JSON body."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        self.flatten_mapping(node)
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _key(self.construct_object(key_node, deep=deep))
            out[key] = self.construct_object(value_node, deep=deep)
        return out


def _as_string(loader: yaml.SafeLoader, node: yaml.Node) -> str:
    return str(loader.construct_scalar(node))  # type: ignore[arg-type]


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _as_string)


def _key(key: Any) -> str:
    if isinstance(key, bool):
        return str(key).lower()
    return "null" if key is None else str(key)


def load(text: str) -> dict[str, Any]:
    """A template (or environment) document as a mapping; 400 otherwise."""
    if len(text.encode()) > MAX_TEMPLATE_BYTES:
        raise StackValidationFailed(
            f"Template size ({len(text.encode())} bytes) exceeds maximum allowed size "
            f"({MAX_TEMPLATE_BYTES} bytes)."
        )
    try:
        doc = yaml.load(text, Loader=_Loader)  # noqa: S506 (a SafeLoader subclass)
    except yaml.YAMLError as exc:
        raise StackValidationFailed(f"Error parsing template: {exc}") from exc
    except RecursionError:
        raise InvalidTemplate("The template is nested too deeply.") from None
    if not isinstance(doc, dict):
        raise StackValidationFailed("The template is not a JSON object or YAML mapping.")
    return doc


@dataclass
class ResourceDef:
    name: str
    type: str
    properties: dict[str, Any]
    depends_on: list[str]
    metadata: dict[str, Any] = field(default_factory=dict)
    condition: Any = None
    deletion_policy: str = "Delete"
    update_policy: dict[str, Any] = field(default_factory=dict)


@dataclass
class Template:
    raw: dict[str, Any]
    version: str  # as written
    rank: int
    description: str
    parameters: dict[str, dict[str, Any]]
    parameter_groups: list[Any]
    resources: dict[str, ResourceDef]
    outputs: dict[str, dict[str, Any]]
    conditions: dict[str, Any]


def _version(raw: dict[str, Any]) -> tuple[str, int]:
    if "heat_template_version" not in raw:
        if "HeatTemplateFormatVersion" in raw or "AWSTemplateFormatVersion" in raw:
            raise InvalidTemplate("CFN templates are not supported; use HOT.")
        raise InvalidTemplate(
            "Template format version not found (heat_template_version is required)."
        )
    written = str(raw["heat_template_version"])
    date = NAMES.get(written, written)
    if date not in VERSIONS:
        known = ", ".join([*VERSIONS, *NAMES])
        raise InvalidTemplate(
            f'"heat_template_version: {written}". "heat_template_version" should be one of: '
            f"{known}"
        )
    return written, VERSIONS[date]


def _mapping(value: Any, what: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise StackValidationFailed(f"The {what} section must be a mapping.")
    return value


def _resource(name: str, body: Any, rank: int) -> ResourceDef:
    if not isinstance(body, dict):
        raise StackValidationFailed(f'Resource "{name}" is not a mapping.')
    unknown = sorted(set(body) - RESOURCE_KEYS)
    if unknown:
        raise StackValidationFailed(f'"{unknown[0]}" is not a valid keyword inside a resource '
                                    f"definition")  # fmt: skip
    rtype = body.get("type")
    if not isinstance(rtype, str) or not rtype:
        raise StackValidationFailed(f'Resource "{name}" has no type.')
    props = body.get("properties") or {}
    if not isinstance(props, dict):
        raise StackValidationFailed(f'Resource "{name}": properties must be a mapping.')
    deps = body.get("depends_on") or []
    if isinstance(deps, str):
        deps = [deps]
    if not isinstance(deps, list) or not all(isinstance(d, str) for d in deps):
        raise StackValidationFailed(f'Resource "{name}": depends_on must be a name or a list.')
    if "condition" in body and rank < CONDITIONS_FROM:
        raise StackValidationFailed(f'Resource "{name}": conditions need version 2016-10-14.')
    policy = body.get("deletion_policy", "Delete")
    if policy not in ("Delete", "Retain", "Snapshot", "delete", "retain", "snapshot"):
        raise StackValidationFailed(f'Resource "{name}": invalid deletion_policy {policy!r}.')
    if str(policy).lower() == "snapshot":
        raise StackValidationFailed(f'Resource "{name}": deletion_policy Snapshot is not '
                                    "supported by this cloud.")  # fmt: skip
    if "external_id" in body:
        raise StackValidationFailed(f'Resource "{name}": external_id is not supported by this '
                                    "cloud.")  # fmt: skip
    return ResourceDef(
        name, rtype, props, list(deps), _mapping(body.get("metadata"), "metadata"),
        body.get("condition"), str(policy).capitalize(),
        _mapping(body.get("update_policy"), "update_policy"),
    )  # fmt: skip


def retained(raw: dict[str, Any]) -> frozenset[str]:
    """The resources a stack delete leaves in place (deletion_policy Retain)."""
    resources = raw.get("resources") if isinstance(raw, dict) else None
    if not isinstance(resources, dict):
        return frozenset()
    return frozenset(n for n, body in resources.items() if isinstance(body, dict)
                     and str(body.get("deletion_policy", "")).lower() == "retain")  # fmt: skip


def parse(raw: dict[str, Any]) -> Template:
    """The template's sections, checked for shape (not yet for meaning)."""
    written, rank = _version(raw)
    unknown = sorted(set(raw) - SECTIONS)
    if unknown:
        raise StackValidationFailed(f'The template section is invalid: {unknown[0]}')
    if "conditions" in raw and rank < CONDITIONS_FROM:
        raise StackValidationFailed("The conditions section needs version 2016-10-14 or later.")
    resources = _mapping(raw.get("resources"), "resources")
    outputs = _mapping(raw.get("outputs"), "outputs")
    for name, out in outputs.items():
        if not isinstance(out, dict) or set(out) - OUTPUT_KEYS:
            raise StackValidationFailed(f'Output "{name}" must be a mapping of value, '
                                        "description and condition.")  # fmt: skip
    params = _mapping(raw.get("parameters"), "parameters")
    for name, p in params.items():
        if not isinstance(p, dict):
            raise StackValidationFailed(f'Parameter "{name}" must be a mapping.')
    groups = raw.get("parameter_groups") or []
    if not isinstance(groups, list):
        raise StackValidationFailed("The parameter_groups section must be a list.")
    return Template(
        raw=raw,
        version=written,
        rank=rank,
        description=str(raw.get("description") or ""),
        parameters=params,
        parameter_groups=groups,
        resources={n: _resource(n, body, rank) for n, body in resources.items()},
        outputs=outputs,
        conditions=_mapping(raw.get("conditions"), "conditions"),
    )
