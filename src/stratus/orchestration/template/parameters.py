"""Template parameters: types, defaults, hidden values and constraints."""

from __future__ import annotations

import json
import re
from typing import Any

from stratus.orchestration.errors import StackValidationFailed, UserParameterMissing

TYPES = frozenset({"string", "number", "json", "comma_delimited_list", "boolean"})
KEYS = frozenset({"type", "label", "description", "default", "hidden", "constraints",
                  "immutable", "tags"})  # fmt: skip
TRUE = frozenset({"t", "true", "on", "y", "yes", "1"})
FALSE = frozenset({"f", "false", "off", "n", "no", "0"})
HIDDEN = "******"


def _invalid(name: str, message: str) -> StackValidationFailed:
    return StackValidationFailed(f'Parameter \'{name}\' is invalid: {message}')


def _number(name: str, value: Any) -> int | float:
    if isinstance(value, bool):
        raise _invalid(name, f"Value '{value}' is not a number")
    if isinstance(value, (int, float)):
        return value
    try:
        return int(str(value))
    except ValueError:
        try:
            return float(str(value))
        except ValueError:
            raise _invalid(name, f"Value '{value}' is not a number") from None


def convert(name: str, ptype: str, value: Any) -> Any:
    """A value given for a parameter, as its type."""
    if ptype == "string":
        if isinstance(value, (dict, list)):
            raise _invalid(name, f"Value '{value}' is not a string")
        return str(value).lower() if isinstance(value, bool) else str(value)
    if ptype == "number":
        return _number(name, value)
    if ptype == "boolean":
        if isinstance(value, bool):
            return value
        text = str(value).lower()
        if text in TRUE or text in FALSE:
            return text in TRUE
        raise _invalid(name, f"Unrecognized value '{value}', acceptable values are: "
                       "'0', '1', 'f', 'false', 'n', 'no', 'off', 'on', 't', 'true', 'y', 'yes'")  # fmt: skip
    if ptype == "comma_delimited_list":
        if isinstance(value, list):
            return [str(v) for v in value]
        text = str(value)
        return [v.strip() for v in text.split(",")] if text else []
    # json
    if isinstance(value, (dict, list)):
        return value
    try:
        parsed = json.loads(str(value))
    except ValueError:
        raise _invalid(name, f"Value must be valid JSON: {value}") from None
    if not isinstance(parsed, (dict, list)):
        raise _invalid(name, "Value must be a JSON map or list")
    return parsed


def _length_of(ptype: str, value: Any) -> int:
    return len(value) if isinstance(value, (str, list, dict)) else len(str(value))


def _check_one(name: str, ptype: str, c: dict[str, Any], value: Any) -> str | None:
    """The message of a failed constraint, or None."""
    desc = c.get("description")
    if "length" in c:
        lo, hi = c["length"].get("min"), c["length"].get("max")
        n = _length_of(ptype, value)
        if (lo is not None and n < lo) or (hi is not None and n > hi):
            bounds = " and ".join(p for p in (
                f"at least {lo}" if lo is not None else "", f"no more than {hi}" if hi is not None else ""
            ) if p)  # fmt: skip
            return desc or f"length must be {bounds}."
    if "range" in c:
        lo, hi = c["range"].get("min"), c["range"].get("max")
        num = _number(name, value)
        if (lo is not None and num < lo) or (hi is not None and num > hi):
            return desc or f"{value} is out of range (min: {lo}, max: {hi})"
    if "modulo" in c:
        step, offset = c["modulo"].get("step", 1), c["modulo"].get("offset", 0)
        if step and (_number(name, value) - offset) % step != 0:
            return desc or f"{value} is not a multiple of {step} with an offset of {offset})"
    if "allowed_values" in c:
        allowed = c["allowed_values"]
        items = value if isinstance(value, list) else [value]
        if any(v not in allowed and str(v) not in [str(a) for a in allowed] for v in items):
            return desc or f'"{value}" is not an allowed value {allowed}'
    if "allowed_pattern" in c:
        if not re.fullmatch(str(c["allowed_pattern"]), str(value)):
            return desc or f'"{value}" does not match pattern "{c["allowed_pattern"]}"'
    return None


def check_schema(name: str, schema: dict[str, Any]) -> None:
    unknown = sorted(set(schema) - KEYS)
    if unknown:
        raise StackValidationFailed(f'Invalid key \'{unknown[0]}\' for parameter ({name})')
    ptype = schema.get("type")
    if ptype not in TYPES:
        raise StackValidationFailed(f'Parameter \'{name}\': invalid type "{ptype}" (one of '
                                    f"{', '.join(sorted(TYPES))})")  # fmt: skip
    constraints = schema.get("constraints") or []
    if not isinstance(constraints, list) or not all(isinstance(c, dict) for c in constraints):
        raise StackValidationFailed(f"Parameter '{name}': constraints must be a list of maps")
    for c in constraints:
        if "allowed_pattern" in c:
            try:
                re.compile(str(c["allowed_pattern"]))
            except re.error as exc:
                raise StackValidationFailed(f"Parameter '{name}': bad pattern: {exc}") from None
        _check_constraint(name, c)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_constraint(name: str, c: dict[str, Any]) -> None:
    """A constraint's own shape: bounds are numbers, allowed values a list."""
    for key, bounds in (("length", ("min", "max")), ("range", ("min", "max")),
                        ("modulo", ("step", "offset"))):  # fmt: skip
        if key not in c:
            continue
        if not isinstance(c[key], dict):
            raise StackValidationFailed(f"Parameter '{name}': {key} must be a map")
        for b in bounds:
            if c[key].get(b) is not None and not _is_number(c[key][b]):
                raise StackValidationFailed(f"Parameter '{name}': {key} {b} must be a number")
    if "allowed_values" in c and not isinstance(c["allowed_values"], list):
        raise StackValidationFailed(f"Parameter '{name}': allowed_values must be a list")


def resolve(
    schemas: dict[str, dict[str, Any]],
    given: dict[str, Any],
    defaults: dict[str, Any],
    *,
    strict: bool = True,
) -> dict[str, Any]:
    """Each parameter's value, converted and checked against its constraints.
    ``given`` are the user's (and the environment's ``parameters``),
    ``defaults`` the environment's ``parameter_defaults``.  Not ``strict``
    (validate, preview): a missing value is left out rather than refused."""
    unknown = sorted(set(given) - set(schemas))
    if unknown:
        raise StackValidationFailed(f"The Parameter ({unknown[0]}) was not defined in template.")
    values: dict[str, Any] = {}
    for name, schema in schemas.items():
        check_schema(name, schema)
        if name in given:
            raw = given[name]
        elif name in defaults:
            raw = defaults[name]
        elif "default" in schema:
            raw = schema["default"]
        elif strict:
            raise UserParameterMissing(f"The Parameter ({name}) was not provided.")
        else:
            continue
        value = convert(name, schema["type"], raw)
        for c in schema.get("constraints") or []:
            message = _check_one(name, schema["type"], c, value)
            if message:
                raise _invalid(name, message)
        values[name] = value
    return values


def shown(schemas: dict[str, dict[str, Any]], values: dict[str, Any]) -> dict[str, Any]:
    """The parameters as a stack shows them: strings, hidden ones masked."""
    out: dict[str, Any] = {}
    for name, value in values.items():
        if (schemas.get(name) or {}).get("hidden"):
            out[name] = HIDDEN
        elif isinstance(value, (dict, list)):
            out[name] = json.dumps(value) if isinstance(value, dict) else ",".join(map(str, value))
        else:
            out[name] = str(value).lower() if isinstance(value, bool) else str(value)
    return out


def describe(schemas: dict[str, dict[str, Any]], values: dict[str, Any]) -> dict[str, Any]:
    """The parameters as ``validate`` describes them (Heat's capitalised keys)."""
    out: dict[str, Any] = {}
    for name, s in schemas.items():
        d: dict[str, Any] = {
            "Type": {"string": "String", "number": "Number", "json": "Json",
                     "comma_delimited_list": "CommaDelimitedList", "boolean": "Boolean"}[s["type"]],
            "Description": s.get("description", ""),
            "Label": s.get("label", name),
            "NoEcho": "true" if s.get("hidden") else "false",
        }  # fmt: skip
        if "default" in s:
            d["Default"] = s["default"]
        if name in values:
            d["Value"] = HIDDEN if s.get("hidden") else values[name]
        for c in s.get("constraints") or []:
            if "allowed_values" in c:
                d["AllowedValues"] = c["allowed_values"]
            if "allowed_pattern" in c:
                d["AllowedPattern"] = c["allowed_pattern"]
            if "length" in c:
                d.update({k: v for k, v in (("MinLength", c["length"].get("min")),
                                            ("MaxLength", c["length"].get("max"))) if v is not None})  # fmt: skip
            if "range" in c:
                d.update({k: v for k, v in (("MinValue", c["range"].get("min")),
                                            ("MaxValue", c["range"].get("max"))) if v is not None})  # fmt: skip
        out[name] = d
    return out
