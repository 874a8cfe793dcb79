"""A value not known until resources exist (an attribute, at validation).

Functions given one anywhere in their arguments give it back unevaluated
rather than type-checking it, so a template that is valid once its
resources exist validates before they do."""

from __future__ import annotations

from typing import Any


class _Unknown:
    __slots__ = ()

    def __repr__(self) -> str:
        return "<unknown>"


UNKNOWN: Any = _Unknown()


class UnknownValue(Exception):
    """Raised inside a function whose arguments hold UNKNOWN; the function's
    result is then UNKNOWN."""


def holds(value: Any) -> bool:
    if value is UNKNOWN:
        return True
    if isinstance(value, dict):
        return any(holds(v) for v in value.values())
    if isinstance(value, list):
        return any(holds(v) for v in value)
    return False


def known(*values: Any) -> None:
    """Raise UnknownValue when any value holds UNKNOWN."""
    if any(holds(v) for v in values):
        raise UnknownValue


def as_none(value: Any) -> Any:
    """UNKNOWN replaced by None (what property checks take as not yet known)."""
    if value is UNKNOWN:
        return None
    if isinstance(value, dict):
        return {k: as_none(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_none(v) for v in value]
    return value
