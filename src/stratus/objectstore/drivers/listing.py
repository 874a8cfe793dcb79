"""Swift's listing walk over a database's rows: names in byte order (or
reverse), after ``marker``, before ``end_marker``, under ``prefix``; with a
``delimiter``, names with the delimiter after the prefix roll up into one
``subdir`` entry.  ``path`` lists one pseudo folder: prefix ``path/``, no
roll-ups, and names deeper than one level left out.  With ``reverse``,
``marker`` is the upper bound and ``end_marker`` the lower one, as in Swift.

A roll-up ends a query after one row and the walk goes on past the folder,
so a listing reads about ``limit`` rows however many objects each folder
holds.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Entry = dict[str, Any]


def after_prefix(text: str) -> str:
    """The least string greater than every string starting with ``text``."""
    while text:
        last = ord(text[-1])
        if last < 0x10FFFF:
            nxt = last + 1
            if 0xD800 <= nxt <= 0xDFFF:  # surrogates cannot be UTF-8
                nxt = 0xE000
            return text[:-1] + chr(nxt)
        text = text[:-1]
    raise ValueError("no string follows this prefix")


@dataclass(frozen=True, slots=True)
class ListingQuery:
    prefix: str | None
    delimiter: str | None
    marker: str | None
    end_marker: str | None
    limit: int
    reverse: bool
    path: str | None


class _Bounds:
    """The names still to read: ``lo < name`` (``<=`` when ``lo_incl``) and
    ``name < hi``, narrowed as the walk goes."""

    def __init__(self, query: ListingQuery, prefix: str | None) -> None:
        lo, hi = (
            (query.end_marker, query.marker) if query.reverse else (query.marker, query.end_marker)
        )
        self.reverse = query.reverse
        self.lo: str | None = lo or None
        self.hi: str | None = hi or None
        self.lo_incl = False
        if prefix:
            if self.lo is None or self.lo < prefix:
                self.lo, self.lo_incl = prefix, True
            nxt = after_prefix(prefix)
            if self.hi is None or self.hi > nxt:
                self.hi = nxt

    def where(self) -> tuple[str, list[str]]:
        where, args = ["deleted = 0"], []
        if self.lo is not None:
            where.append("name >= ?" if self.lo_incl else "name > ?")
            args.append(self.lo)
        if self.hi is not None:
            where.append("name < ?")
            args.append(self.hi)
        return " AND ".join(where), args

    def past(self, name: str) -> None:
        """Go on after ``name``."""
        if self.reverse:
            self.hi = name
        else:
            self.lo, self.lo_incl = name, False

    def past_folder(self, folder: str) -> None:
        """Go on after everything in ``folder``."""
        if self.reverse:
            self.hi = folder
        else:
            self.lo, self.lo_incl = after_prefix(folder), True


def walk(
    conn: sqlite3.Connection,
    lock: threading.RLock,
    select: str,
    to_entry: Callable[[tuple[Any, ...]], Entry],
    query: ListingQuery,
) -> list[Entry]:
    """The entries of ``select``'s rows (name first) that ``query`` asks for."""
    prefix, delimiter, path = query.prefix, query.delimiter, query.path
    if path is not None:
        prefix = path.rstrip("/") + "/" if path else ""
        path = prefix
        delimiter = "/"
    if query.limit <= 0:
        return []
    bounds = _Bounds(query, prefix)
    order = "DESC" if query.reverse else "ASC"
    results: list[Entry] = []
    while len(results) < query.limit:
        where, args = bounds.where()
        sql = f"{select} WHERE {where} ORDER BY name {order} LIMIT ?"
        requested = query.limit - len(results)
        with lock:
            cursor = conn.execute(sql, (*args, requested))
            if not delimiter:
                results.extend(map(to_entry, cursor.fetchall()))
                break
            seen, requery = _page(cursor, bounds, delimiter, prefix, path, query, to_entry, results)
            cursor.close()
        if not requery and seen < requested:
            break  # the range is exhausted
    return results


def _page(
    cursor: sqlite3.Cursor,
    bounds: _Bounds,
    delimiter: str,
    prefix: str | None,
    path: str | None,
    query: ListingQuery,
    to_entry: Callable[[tuple[Any, ...]], Entry],
    results: list[Entry],
) -> tuple[int, bool]:
    """One query's rows, read lazily: a roll-up (or a folder a ``path``
    listing skips) ends it.  How many rows were read, and whether the walk
    must query again past a folder."""
    plen = len(prefix or "")
    seen = 0
    for row in cursor:
        seen += 1
        name: str = row[0]
        bounds.past(name)
        end = name.find(delimiter, plen)
        if path is not None:
            if name == path:
                continue
            if end >= 0 and len(name) > end + len(delimiter):
                # Deeper than one level: skip the whole folder.
                bounds.past_folder(name[: end + len(delimiter)])
                return seen, True
        elif end >= 0:
            folder = name[: end + len(delimiter)]
            if folder != query.marker:
                results.append({"subdir": folder})
            bounds.past_folder(folder)
            return seen, True
        results.append(to_entry(row))
    return seen, False
