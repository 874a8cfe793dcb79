"""Account ACLs, as Swift's keystoneauth reads ``X-Account-Access-Control``:
a JSON object naming who may read (``read-only``), read and write
(``read-write``) or also manage (``admin``) everything in an account.
Entries are ACL grants: ``<project_id>:<user_id>``, ``<project_id>:*``,
``*:<user_id>`` (names as well, in the default domain).

Stored as the account's sysmeta (``x-account-sysmeta-core-access-control``,
Swift's name); shown only to those who may change it.
"""

from __future__ import annotations

from collections.abc import Callable

import orjson

from stratus.common.context import RequestContext
from stratus.objectstore.errors import BadRequest

HEADER = "x-account-access-control"
SYSMETA = "x-account-sysmeta-core-access-control"
LEVELS = ("read-only", "read-write", "admin")  # weakest first
READS = frozenset(
    {"object_store:get_account", "object_store:get_container", "object_store:get_object"}
)
# What read-write adds: containers and objects, not the account itself.
WRITES = frozenset(
    {
        "object_store:put_container",
        "object_store:post_container",
        "object_store:delete_container",
        "object_store:put_object",
        "object_store:post_object",
        "object_store:delete_object",
    }
)


def parse(value: str) -> dict[str, list[str]]:
    """A client's header, checked (400 when it is not Swift's form)."""
    if not value.strip():
        return {}
    try:
        data = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise BadRequest("Invalid X-Account-Access-Control: not JSON") from exc
    if not isinstance(data, dict):
        raise BadRequest("Invalid X-Account-Access-Control: not a JSON object")
    out: dict[str, list[str]] = {}
    for key, entries in data.items():
        if key not in LEVELS:
            raise BadRequest(f"Invalid X-Account-Access-Control: unknown key {key!r}")
        if not isinstance(entries, list) or not all(isinstance(e, str) for e in entries):
            raise BadRequest(f"Invalid X-Account-Access-Control: {key} must be a list of strings")
        if entries:
            out[key] = entries
    return out


def stored(value: str) -> str:
    """The header as stored: canonical JSON, or empty (no ACL)."""
    acl = parse(value)
    return orjson.dumps(acl, option=orjson.OPT_SORT_KEYS).decode() if acl else ""


Matcher = Callable[[RequestContext, list[str]], bool]


def level_of(ctx: RequestContext, value: str | None, matches: Matcher) -> str | None:
    """The strongest level the account's ACL gives the caller, or None."""
    if not value or not ctx.authenticated:
        return None
    try:
        acl = parse(value)
    except BadRequest:
        return None
    for level in reversed(LEVELS):
        if matches(ctx, acl.get(level, [])):
            return level
    return None


def permits(level: str | None, action: str) -> bool:
    if level == "admin":
        return True
    if level == "read-write":
        return action in READS or action in WRITES
    return level == "read-only" and action in READS
