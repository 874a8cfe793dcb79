"""An image listing's query: its filters, sort keys and marker, as SQL."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, false, or_

from stratus.image import models as m
from stratus.image.errors import BadRequest


@dataclass
class ListParams:
    filters: dict[str, Any]
    properties: dict[str, str]
    tags: list[str]
    sort: list[tuple[str, str]]
    limit: int
    marker: str | None


SORTABLE = {
    "name": m.Image.name,
    "status": m.Image.status,
    "container_format": m.Image.container_format,
    "disk_format": m.Image.disk_format,
    "size": m.Image.size,
    "id": m.Image.id,
    "created_at": m.Image.created_at,
    "updated_at": m.Image.updated_at,
    "visibility": m.Image.visibility,
    "owner": m.Image.owner,
    "min_disk": m.Image.min_disk,
    "min_ram": m.Image.min_ram,
    "virtual_size": m.Image.virtual_size,
}


def split_in(value: str) -> list[str]:
    return [v.strip().strip('"') for v in value[3:].split(",") if v.strip()]


def time_filter(column: Any, value: str) -> ColumnElement[bool]:
    op, _, when = value.partition(":")
    ops = {
        "gt": column.__gt__,
        "gte": column.__ge__,
        "lt": column.__lt__,
        "lte": column.__le__,
        "eq": column.__eq__,
        "neq": column.__ne__,
    }
    if op not in ops or not when:
        raise BadRequest(
            f"Invalid time filter {value!r}: use gt:, gte:, lt:, lte:, eq: or neq: and an ISO 8601 time."
        )
    try:
        moment = datetime.fromisoformat(when.replace("Z", "+00:00"))
    except ValueError as exc:
        raise BadRequest(f"Invalid time {when!r}.") from exc
    return ops[op](moment)  # type: ignore[no-any-return]


def sort_keys(sort: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The sort keys with id appended (same direction as the last key) as the tie-breaker."""
    keys = list(sort)
    if keys[-1][0] != "id":
        keys.append(("id", keys[-1][1]))
    return keys


def ordering(column: Any, direction: str) -> Any:
    """NULLs are the smallest value on every database: first ascending, last descending.

    PostgreSQL's default puts NULLs last ascending and SQLite's first, so say it explicitly.
    """
    return column.desc().nulls_last() if direction == "desc" else column.asc().nulls_first()


def _same(column: Any, value: Any) -> ColumnElement[bool]:
    return column.is_(None) if value is None else column == value  # type: ignore[no-any-return]


def after_marker(marker: m.Image, sort: list[tuple[str, str]]) -> ColumnElement[bool]:
    """Rows after the marker in the order of ordering over sort_keys(sort) (NULLs smallest)."""
    keys = sort_keys(sort)
    clauses = []
    for i, (key, direction) in enumerate(keys):
        column = SORTABLE[key]
        value = getattr(marker, key)
        equal_before = [_same(SORTABLE[k], getattr(marker, k)) for k, _ in keys[:i]]
        step: ColumnElement[bool]
        if value is None:
            # NULL is the smallest value: ascending, every non-NULL comes after it;
            # descending, NULLs come last so nothing comes after it at this key.
            step = column.is_not(None) if direction == "asc" else false()
        elif direction == "desc":
            step = or_(column < value, column.is_(None))
        else:
            step = column > value
        clauses.append(and_(*equal_before, step))
    return or_(*clauses)


def filtered(stmt: Select[Any], p: ListParams) -> Select[Any]:
    """The list's other filters: exact and ``in:`` values, hidden images,
    size ranges, times, tags and properties."""
    f = p.filters
    for key in ("name", "status", "owner", "disk_format", "container_format"):
        value = f.get(key)
        if value is None:
            continue
        column = getattr(m.Image, key)
        if isinstance(value, str) and value.startswith("in:"):
            stmt = stmt.where(column.in_(split_in(value)))
        else:
            stmt = stmt.where(column == value)
    if (ids := f.get("id")) is not None:
        stmt = stmt.where(
            m.Image.id.in_(split_in(ids)) if ids.startswith("in:") else m.Image.id == ids
        )
    for key in ("protected", "os_hidden"):
        if key in f:
            stmt = stmt.where(getattr(m.Image, key) == f[key])
    if "os_hidden" not in f:
        stmt = stmt.where(m.Image.os_hidden.is_(False))
    for key in ("size", "virtual_size", "min_disk", "min_ram", "checksum", "os_hash_value"):
        if (exact := f.get(key)) is not None:
            stmt = stmt.where(getattr(m.Image, key) == exact)
    if (size_min := f.get("size_min")) is not None:
        stmt = stmt.where(m.Image.size >= size_min)
    if (size_max := f.get("size_max")) is not None:
        stmt = stmt.where(m.Image.size <= size_max)
    for op_key, column in (
        ("created_at", m.Image.created_at),
        ("updated_at", m.Image.updated_at),
    ):
        if (value := f.get(op_key)) is not None:
            stmt = stmt.where(time_filter(column, value))
    for tag in p.tags:
        stmt = stmt.where(exists().where(m.ImageTag.image_id == m.Image.id, m.ImageTag.name == tag))
    for key, value in p.properties.items():
        stmt = stmt.where(m.Image.properties[key].as_string() == value)
    return stmt
