"""Filtering and marker pagination of list queries."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, func
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

T = TypeVar("T")

# Keystone's inexact filters: name__contains=x, name__istartswith=x, ...
_INEXACT = ("contains", "startswith", "endswith", "equals")


@dataclass
class Page(Generic[T]):
    items: Sequence[T]
    next_marker: str | None = None
    truncated: bool = False


def filter_strings(
    stmt: Select[Any], columns: Mapping[str, InstrumentedAttribute[Any]], params: Mapping[str, str]
) -> Select[Any]:
    """Apply ``field=value`` and ``field__op=value`` filters for string columns."""
    for key, value in params.items():
        field, _, op = key.partition("__")
        column = columns.get(field)
        if column is None or value is None:
            continue
        if not op:
            stmt = stmt.where(column == value)
            continue
        insensitive = op.startswith("i")
        base = op[1:] if insensitive else op
        if base not in _INEXACT:
            continue
        col = func.lower(column) if insensitive else column
        val = value.lower() if insensitive else value
        if base == "equals":
            stmt = stmt.where(col == val)
        else:
            escaped = val.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            pattern = {
                "contains": f"%{escaped}%",
                "startswith": f"{escaped}%",
                "endswith": f"%{escaped}",
            }[base]
            stmt = stmt.where(col.like(pattern, escape="\\"))
    return stmt


async def paginate(
    session: AsyncSession,
    stmt: Select[Any],
    key: InstrumentedAttribute[Any],
    *,
    limit: int | None,
    marker: str | None,
    max_limit: int = 0,
) -> Page[Any]:
    """Order by ``key`` and return the page after ``marker``.

    With no ``limit`` and no ``max_limit`` everything is returned.  A
    ``max_limit`` (Keystone's list_limit) caps pages and marks the answer
    truncated.
    """
    stmt = stmt.order_by(key)
    if marker:
        stmt = stmt.where(key > marker)
    size = limit if limit and limit > 0 else None
    capped = False
    if max_limit and (size is None or size > max_limit):
        size, capped = max_limit, True
    if size is None:
        return Page(items=(await session.scalars(stmt)).all())
    rows = (await session.scalars(stmt.limit(size + 1))).all()
    more = len(rows) > size
    items = rows[:size]
    next_marker = str(getattr(items[-1], key.key)) if more and items else None
    return Page(items=items, next_marker=next_marker, truncated=more and capped)
