"""The base request schemas of every API (pydantic): ``Schema`` for bodies
(unknown fields refused), ``Query`` for query strings (unknown parameters
ignored), ``NoBody`` / ``NoQuery`` / ``RawBody`` for routes that take
none, and the rule both bases share: every integer fits the database
column it is stored in (32 bits unless ``BigInt``), so a number too big is
a 400, never a database error."""

from __future__ import annotations

import re
from typing import Annotated, Any, Self, get_args

from pydantic import BaseModel, BeforeValidator, ConfigDict, model_validator
from pydantic_core import PydanticCustomError

INT32 = (-(2**31), 2**31 - 1)  # an Integer column (PostgreSQL's integer)
INT64 = (-(2**63), 2**63 - 1)  # a BigInteger column


class _Wide:
    """Marks an integer field stored in a BigInteger column (``BigInt``)."""


BigInt = Annotated[int, _Wide()]


def _out_of_range(value: Any, bounds: tuple[int, int]) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return not bounds[0] <= value <= bounds[1]
    # JSON integers beyond 64 bits arrive as floats (orjson): never storable.
    return isinstance(value, float) and not -(2.0**63) <= value < 2.0**63


def _check_value(value: Any, bounds: tuple[int, int], where: str) -> None:
    if value is None or type(value) is str:
        return  # the common case, on every request: nothing to check
    if isinstance(value, (Schema, Query)):
        return  # checked by its own validator
    if isinstance(value, BaseModel):
        _check_ints(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_value(item, bounds, f"{where}.{key}")
    elif isinstance(value, (list, tuple)):
        for item in value:
            _check_value(item, bounds, where)
    elif _out_of_range(value, bounds):
        raise PydanticCustomError(
            "int_range",
            "{field}: {value} is out of range (from {low} to {high})",
            {"field": where, "value": value, "low": bounds[0], "high": bounds[1]},
        )


def _wide(annotation: Any) -> bool:
    """Whether a field's type is (or holds, as in ``BigInt | None``) a BigInt."""
    if any(isinstance(meta, _Wide) for meta in getattr(annotation, "__metadata__", ())):
        return True
    return any(_wide(arg) for arg in get_args(annotation))


_BOUNDS: dict[type[BaseModel], dict[str, tuple[int, int]]] = {}


def _field_bounds(cls: type[BaseModel]) -> dict[str, tuple[int, int]]:
    bounds = _BOUNDS.get(cls)
    if bounds is None:
        bounds = {}
        for name, info in cls.model_fields.items():
            wide = any(isinstance(m, _Wide) for m in info.metadata) or _wide(info.annotation)
            bounds[name] = INT64 if wide else INT32
        _BOUNDS[cls] = bounds
    return bounds


def _check_ints(model: BaseModel) -> None:
    """Every integer of a request fits the column it is stored in: 32 bits
    unless the field is a ``BigInt`` (values in free-form fields too), so a
    number too big for the database is a 400, never a database error."""
    for name, bounds in _field_bounds(type(model)).items():
        _check_value(getattr(model, name), bounds, name)
    for name, value in (model.model_extra or {}).items():
        _check_value(value, INT32, name)


_DIGITS = re.compile(r"^\s*-?[0-9]+\s*$")


def numeric_string(value: Any) -> Any:
    """A string of digits as the integer it spells (OpenStack APIs take
    ``"10"`` for 10 in places), so the integer rule applies to it too."""
    if isinstance(value, str) and _DIGITS.match(value):
        return int(value)
    return value


# An integer that may be sent as a string of digits; other strings stay strings.
IntOrString = Annotated[int | str, BeforeValidator(numeric_string)]


class Schema(BaseModel):
    """Base of request schemas: unknown fields are refused, and integers
    must fit their columns (``BigInt`` for 64-bit ones)."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="after")
    def _integers_fit(self) -> Self:
        _check_ints(self)
        return self


class NoBody(Schema):
    """The route takes no request body."""


class RawBody(Schema):
    """The handler reads the request body itself, as a stream
    (``req.raw.stream()``): uploads of any size, never held in memory."""


class NoQuery(BaseModel):
    """The route reads no query parameters (unknown ones are ignored, as
    OpenStack services do)."""

    model_config = ConfigDict(extra="ignore")


class Query(BaseModel):
    """Base of query schemas: unknown parameters are ignored; integers must
    fit their columns, as in ``Schema``."""

    model_config = ConfigDict(extra="ignore")

    @model_validator(mode="after")
    def _integers_fit(self) -> Self:
        _check_ints(self)
        return self
