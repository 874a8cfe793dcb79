"""Object versioning's names and listings (see ``object_versioning.py``):
where versions are kept, their ids, and ``GET <container>?versions``."""

from __future__ import annotations

import re
from typing import Any

from stratus.objectstore.errors import BadRequest
from stratus.objectstore.service.interface import Caller, Headers, Listing, ObjectStore

SYS_ENABLED = "x-container-sysmeta-versions-enabled"
ID_PARAM = "; swift_version_id="  # the listing's content type carries the current id
_MAX = 10**15 - 1  # the largest timestamp, in units of 10 µs
_HIDDEN = "\x00versions\x00"
# ASCII digits only: str.isdigit() accepts "²", which int() refuses.
_VERSION = re.compile(r"([0-9]{1,10})(?:\.([0-9]{0,5}))?", re.ASCII)


def versions_of(container: str) -> str:
    """The hidden container of a container's versions."""
    return _HIDDEN + container


def _units(version: str) -> int:
    found = _VERSION.fullmatch(version)
    if found is None:
        raise BadRequest("Invalid version-id")
    whole, frac = found.group(1), found.group(2) or ""
    return int(whole) * 100000 + int((frac + "00000")[:5])


def valid_id(version: str) -> bool:
    """Whether a string is a well-formed version id (not "null")."""
    return _VERSION.fullmatch(version) is not None


def inverted(version: str) -> str:
    """A version id's inverted timestamp (and back): newer versions sort first."""
    units = _MAX - _units(version)
    return f"{units // 100000:010d}.{units % 100000:05d}"


def version_name(obj: str, version: str) -> str:
    return f"{obj}\x00{inverted(version)}"


def version_of(container: str, obj: str) -> str | None:
    """The version id of a name in a versions container, or None."""
    if not container.startswith(_HIDDEN) or "\x00" not in obj:
        return None
    try:
        return _normal(inverted(obj.rsplit("\x00", 1)[1]))
    except BadRequest:
        return None


def _normal(version: str) -> str:
    return version.lstrip("0") or "0"


def show_state(headers: dict[str, str]) -> None:
    """The container's sysmeta as Swift's client header."""
    value = headers.pop(SYS_ENABLED, None)
    if value is not None:
        headers["x-versions-enabled"] = "True" if value == "true" else "False"


def strip_id(entry: dict[str, Any]) -> str | None:
    """The current version id a listing entry carries (removed), or None.

    A versioning link's listed type ends with ``ID_PARAM<id>``; the client's
    own type may contain the same text, so only the last one counts, and a
    malformed id means the entry is no link (its type is left alone)."""
    ctype = entry.get("content_type")
    if not isinstance(ctype, str) or ID_PARAM not in ctype:
        return None
    base, _, version = ctype.rpartition(ID_PARAM)
    if not valid_id(version):
        return None
    entry["content_type"] = base
    return version


def _key(entry: dict[str, Any]) -> tuple[str, int]:
    version = str(entry.get("version_id"))
    return str(entry.get("name")), -(_units(version) if valid_id(version) else 0)


async def versions_listing(
    app: ObjectStore, caller: Caller, where: tuple[str, str], query: Headers
) -> Listing:
    """Every version of every object of the container: the current ones
    (``is_latest``), then the older ones and delete markers, newest first."""
    account, container = where
    primary = await app.list_container(caller, account, container, query)
    if primary.status >= 300:
        return primary
    show_state(primary.headers)
    hidden_query = {k: v for k, v in query.items() if k in ("prefix",)}
    hidden = await app.list_container(caller, account, versions_of(container), hidden_query)
    kept: list[tuple[str, str, dict[str, Any]]] = []
    for entry in hidden.entries if hidden.status < 300 else []:
        name, _, _inv = str(entry.get("name", "")).rpartition("\x00")
        found = version_of(versions_of(container), str(entry.get("name", "")))
        if name and found is not None:
            kept.append((name, found, entry))
    known = {(name, found) for name, found, _ in kept}
    # Only a complete listing of the versions can show an id is no version.
    limits = getattr(app, "limits", None)
    count = len(hidden.entries) if hidden.status < 300 else 0
    complete = limits is not None and count < limits.container_listing_limit
    current: dict[str, str] = {}
    entries: list[dict[str, Any]] = []
    for entry in primary.entries:
        if "name" not in entry:
            continue
        listed = dict(entry)
        version = strip_id(listed)
        if version is None or (complete and (str(entry["name"]), version) not in known):
            listed, version = dict(entry), "null"  # not a versioning link
        current[str(entry["name"])] = version
        entries.append({**listed, "version_id": version, "is_latest": True})
    newest: set[str] = set()
    for name, found, entry in kept:
        if current.get(name) == found:
            continue
        latest = name not in current and name not in newest
        newest.add(name)
        entries.append({**entry, "name": name, "version_id": found, "is_latest": latest})
    entries.sort(key=_key)
    marker = query.get("marker")
    if marker:
        entries = [e for e in entries if str(e["name"]) > marker]
    limit = query.get("limit")
    if limit and re.fullmatch("[0-9]+", limit, re.ASCII):
        entries = entries[: int(limit)]
    return Listing(primary.status, primary.headers, entries)
