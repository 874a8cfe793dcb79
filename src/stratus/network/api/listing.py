"""Neutron's list and show queries: filters on any attribute (repeated
values mean "any of"), ``fields``, ``sort_key``/``sort_dir``, ``limit``/
``marker``/``page_reverse`` with ``<collection>_links``, and the tag filters.

Rendered resources are filtered, sorted and paged here, the way Neutron's
emulated helpers do it, so every attribute a view shows can be filtered on;
the service narrows its queries by the common string filters first.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from starlette.responses import Response

from stratus.common.api import ApiRequest, json_response
from stratus.common.errors import BadRequest as HTTPBadRequest
from stratus.network.errors import BadRequest, InvalidInput
from stratus.network.service import NetworkService

# How an attribute's filter values are read: "str" (as given), "bool", "int",
# "list" (matches a member), "fixed_ips", or "none" (not filterable).
Kinds = Mapping[str, str]
CONTROL = ("fields", "sort_key", "sort_dir", "limit", "marker", "page_reverse")
TAG_FILTERS = ("tags", "tags-any", "not-tags", "not-tags-any")
FIXED_IP_KEYS = ("ip_address", "subnet_id", "ip_address_substr")
TRUE = ("true", "1", "yes", "on", "t", "y")
FALSE = ("false", "0", "no", "off", "f", "n")


def to_bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in TRUE:
        return True
    if lowered in FALSE:
        return False
    raise InvalidInput(f"'{value}' cannot be converted to boolean")


@dataclass
class Query:
    filters: dict[str, list[Any]] = field(default_factory=dict)
    fields: list[str] = field(default_factory=list)
    sorts: list[tuple[str, bool]] = field(default_factory=list)
    limit: int | None = None
    marker: str | None = None
    page_reverse: bool = False
    tags: dict[str, set[str]] = field(default_factory=dict)

    def strings(self) -> dict[str, list[str]]:
        """The plain string filters, for the service to narrow its query."""
        return {
            k: [str(v) for v in vs]
            for k, vs in self.filters.items()
            if vs and all(isinstance(v, str) for v in vs)
        }


def _multi(req: ApiRequest[NetworkService]) -> list[tuple[str, str]]:
    items = list(req.raw.query_params.multi_items())
    if any("\x00" in k or "\x00" in v for k, v in items):
        raise HTTPBadRequest("NUL characters are not allowed in the URL.")
    return items


def fields_of(req: ApiRequest[NetworkService]) -> list[str]:
    return [v for k, v in _multi(req) if k == "fields" and v]


def _convert(name: str, kind: str, value: str) -> Any:
    if kind == "bool":
        return to_bool(value)
    if kind == "int":
        try:
            return int(value)
        except ValueError:
            raise InvalidInput(f"'{value}' is not an integer for {name}") from None
    if kind == "fixed_ips":
        key, sep, wanted = value.partition("=")
        if not sep or key not in FIXED_IP_KEYS:
            raise InvalidInput(f"invalid fixed_ips filter '{value}'")
        return (key, wanted)
    return value


def parse(req: ApiRequest[NetworkService], kinds: Kinds) -> Query:
    q = Query()
    sort_keys: list[str] = []
    sort_dirs: list[str] = []
    unknown: list[str] = []
    for key, value in _multi(req):
        if key == "fields":
            if value:
                q.fields.append(value)
        elif key == "sort_key":
            sort_keys.append(value)
        elif key == "sort_dir":
            sort_dirs.append(value)
        elif key == "limit":
            try:
                q.limit = int(value)
                if q.limit < 0:
                    raise ValueError(value)
            except ValueError:
                raise BadRequest(
                    f"Bad limit request: Limit must be an integer 0 or greater and not '{value}'."
                ) from None
        elif key == "marker":
            q.marker = value or None
        elif key == "page_reverse":
            q.page_reverse = value.lower() == "true"
        elif key in TAG_FILTERS:
            q.tags.setdefault(key, set()).update(t for t in value.split(",") if t)
        elif not value:
            continue
        elif key not in kinds or kinds[key] == "none":
            unknown.append(key)
        else:
            q.filters.setdefault(key, []).append(_convert(key, kinds[key], value))
    if unknown:
        raise HTTPBadRequest(f"{sorted(set(unknown))} is invalid attribute for filtering")
    q.sorts = _sorts(sort_keys, sort_dirs, kinds)
    q.limit = q.limit or None
    return q


def _sorts(keys: list[str], dirs: list[str], kinds: Kinds) -> list[tuple[str, bool]]:
    if len(keys) != len(dirs) and dirs:
        raise HTTPBadRequest("The number of sort_keys and sort_dirs must be same")
    bad = [k for k in keys if kinds.get(k) not in ("str", "bool", "int")]
    if bad:
        raise HTTPBadRequest(f"{bad} is invalid attribute for sort_keys")
    dirs = dirs or ["asc"] * len(keys)
    wrong = [d for d in dirs if d not in ("asc", "desc")]
    if wrong:
        raise HTTPBadRequest(
            f"{wrong} is invalid value for sort_dirs, valid value is 'asc' and 'desc'"
        )
    return [(k, d == "asc") for k, d in zip(keys, dirs, strict=True)]


def _match_fixed_ips(have: Sequence[Mapping[str, str]], wanted: list[tuple[str, str]]) -> bool:
    ips = {v for k, v in wanted if k == "ip_address"}
    subnets = {v for k, v in wanted if k == "subnet_id"}
    parts = [v for k, v in wanted if k == "ip_address_substr"]
    return any(
        (not ips or item["ip_address"] in ips)
        and (not subnets or item["subnet_id"] in subnets)
        and all(p in item["ip_address"] for p in parts)
        for item in have
    )


def _matches(item: Mapping[str, Any], q: Query, kinds: Kinds) -> bool:
    for key, wanted in q.filters.items():
        have = item.get(key)
        kind = kinds[key]
        if kind == "fixed_ips":
            if not _match_fixed_ips(have or [], wanted):
                return False
        elif kind == "list":
            if not any(str(v) in wanted for v in have or [] if not isinstance(v, dict)):
                return False
        elif have not in wanted if kind in ("bool", "int") else str(have) not in wanted:
            return False
    if q.tags:
        tags = set(item.get("tags") or ())
        if q.tags.get("tags") and not q.tags["tags"] <= tags:
            return False
        if q.tags.get("tags-any") and not q.tags["tags-any"] & tags:
            return False
        if q.tags.get("not-tags") and q.tags["not-tags"] <= tags:
            return False
        if q.tags.get("not-tags-any") and q.tags["not-tags-any"] & tags:
            return False
    return True


def _compare(a: Any, b: Any) -> int:
    if a is None or b is None:
        return (a is not None) - (b is not None)
    return (a > b) - (a < b)


def _sort(items: list[dict[str, Any]], sorts: list[tuple[str, bool]]) -> list[dict[str, Any]]:
    keys = [*sorts, ("id", True)] if all(k != "id" for k, _ in sorts) else sorts

    def cmp(x: dict[str, Any], y: dict[str, Any]) -> int:
        for key, ascending in keys:
            result = _compare(x.get(key), y.get(key))
            if result:
                return result if ascending else -result
        return 0

    return sorted(items, key=functools.cmp_to_key(cmp)) if sorts else items


def _page(items: list[dict[str, Any]], q: Query) -> list[dict[str, Any]]:
    if not q.limit:
        return items
    if q.marker:
        index = next((i for i, it in enumerate(items) if it.get("id") == q.marker), None)
        if index is None:
            return []
    else:
        index = len(items) if q.page_reverse else -1
    if q.page_reverse:
        return items[max(index - q.limit, 0) : index]
    return items[index + 1 : index + 1 + q.limit]


def _links(req: ApiRequest[NetworkService], page: list[dict[str, Any]], q: Query) -> list[dict[str, str]]:
    if not q.limit:
        return []
    base = req.url.split("?", 1)[0]
    params = [
        (k, v) for k, v in req.raw.query_params.multi_items() if k not in ("marker", "page_reverse")
    ]
    links = []
    if not (len(page) < q.limit and not q.page_reverse):
        marker = page[-1]["id"] if page else q.marker
        query = urlencode([*params, *([("marker", marker)] if marker else [])])
        links.append({"rel": "next", "href": f"{base}?{query}"})
    if not (len(page) < q.limit and q.page_reverse):
        marker = page[0]["id"] if page else q.marker
        query = urlencode(
            [*params, *([("marker", marker)] if marker else []), ("page_reverse", "True")]
        )
        links.append({"rel": "previous", "href": f"{base}?{query}"})
    return links


def select_fields(item: dict[str, Any], fields: Sequence[str], hidden: set[str]) -> dict[str, Any]:
    """The attributes a caller sees: not those policy hides, and only the
    ``fields`` asked for (unknown ones are ignored, as Neutron does)."""
    if fields:
        return {k: item[k] for k in fields if k in item and k not in hidden}
    if hidden:
        return {k: v for k, v in item.items() if k not in hidden}
    return item


def respond(
    req: ApiRequest[NetworkService],
    collection: str,
    items: list[dict[str, Any]],
    q: Query,
    kinds: Kinds,
    hidden: set[str] | None = None,
) -> Response:
    found = [it for it in items if _matches(it, q, kinds)] if (q.filters or q.tags) else items
    page = _page(_sort(found, q.sorts), q)
    body: dict[str, Any] = {
        collection: [select_fields(it, q.fields, hidden or set()) for it in page]
    }
    links = _links(req, page, q)
    if links:
        body[f"{collection}_links"] = links
    return json_response(body)
