"""Object versioning's names and listings (see ``object_versioning.py``):
where versions are kept, their ids, and ``GET <container>?versions``."""

from __future__ import annotations

from typing import Any

from stratus.objectstore.errors import BadRequest
from stratus.objectstore.service.interface import Caller, Headers, Listing, ObjectStore

SYS_ENABLED = "x-container-sysmeta-versions-enabled"
ID_PARAM = "; swift_version_id="  # the listing's content type carries the current id
_MAX = 10**15 - 1  # the largest timestamp, in units of 10 µs
_HIDDEN = "\x00versions\x00"


def versions_of(container: str) -> str:
    """The hidden container of a container's versions."""
    return _HIDDEN + container


def _units(version: str) -> int:
    whole, _, frac = version.partition(".")
    if not whole.isdigit() or not (frac + "0").isdigit() or len(frac) > 5 or len(whole) > 10:
        raise BadRequest("Invalid version-id")
    return int(whole) * 100000 + int((frac + "00000")[:5])


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
    """The current version id a listing entry carries (removed), or None."""
    ctype = entry.get("content_type")
    if not isinstance(ctype, str) or ID_PARAM not in ctype:
        return None
    entry["content_type"], _, version = ctype.partition(ID_PARAM)
    return version


def _key(entry: dict[str, Any]) -> tuple[str, int]:
    version = str(entry.get("version_id"))
    return str(entry.get("name")), -(_units(version) if version != "null" else 0)


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
    current: dict[str, str] = {}
    entries: list[dict[str, Any]] = []
    for entry in primary.entries:
        if "name" not in entry:
            continue
        version = strip_id(entry) or "null"
        current[str(entry["name"])] = version
        entries.append({**entry, "version_id": version, "is_latest": True})
    hidden_query = {k: v for k, v in query.items() if k in ("prefix",)}
    hidden = await app.list_container(caller, account, versions_of(container), hidden_query)
    newest: set[str] = set()
    for entry in hidden.entries if hidden.status < 300 else []:
        name, _, _inv = str(entry.get("name", "")).rpartition("\x00")
        found = version_of(versions_of(container), str(entry.get("name", "")))
        if not name or found is None or current.get(name) == found:
            continue
        latest = name not in current and name not in newest
        newest.add(name)
        entries.append({**entry, "name": name, "version_id": found, "is_latest": latest})
    entries.sort(key=_key)
    marker = query.get("marker")
    if marker:
        entries = [e for e in entries if str(e["name"]) > marker]
    limit = query.get("limit")
    if limit and limit.isdigit():
        entries = entries[: int(limit)]
    return Listing(primary.status, primary.headers, entries)
