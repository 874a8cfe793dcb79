"""Walks over a template value: the functions it uses and the resources
it refers to, without evaluating anything."""

from __future__ import annotations

from typing import Any

from stratus.orchestration.errors import StackValidationFailed
from stratus.orchestration.template.functions import FUNCTIONS, function_of


def check_version(value: Any, rank: int, where: str) -> None:
    """Every function in a value exists in the template's version."""
    fn = function_of(value)
    if fn is not None and FUNCTIONS[fn[0]][1] > rank:
        raise StackValidationFailed(f'{where}: the function "{fn[0]}" is not supported by this '
                                    "template version")  # fmt: skip
    if isinstance(value, dict):
        for v in value.values():
            check_version(v, rank, where)
    elif isinstance(value, list):
        for v in value:
            check_version(v, rank, where)


def references(value: Any) -> set[str]:
    """The resources a value refers to (get_resource, get_attr)."""
    found: set[str] = set()
    fn = function_of(value)
    if fn is not None and fn[0] == "get_resource" and isinstance(fn[1], str):
        found.add(fn[1])
    elif fn is not None and fn[0] == "get_attr" and isinstance(fn[1], list) and fn[1]:
        if isinstance(fn[1][0], str):
            found.add(fn[1][0])
    if isinstance(value, dict):
        for v in value.values():
            found |= references(v)
    elif isinstance(value, list):
        for v in value:
            found |= references(v)
    return found
