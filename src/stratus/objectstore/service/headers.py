"""Request headers a write passes on to the nodes, checked against Swift's limits.

Header values stay as the ASGI server gives them (bytes read as latin-1), so
UTF-8 metadata round-trips byte for byte and lengths count bytes, as Swift's.
"""

from __future__ import annotations

import mimetypes
import time
from collections.abc import Iterable, Mapping

from stratus.objectstore.errors import (
    BadRequest,
    LengthRequired,
    NotImplementedYet,
    PlainBadRequest,
)
from stratus.objectstore.service.limits import Limits

# Headers a write keeps besides metadata, per level.
KEPT = {
    "account": ("x-account-meta-temp-url-key", "x-account-meta-temp-url-key-2"),
    "container": (
        "x-container-read",
        "x-container-write",
        "x-container-sync-to",
        "x-container-sync-key",
        "x-versions-location",
        "x-history-location",
    ),
    "object": (
        "content-type",
        "content-encoding",
        "content-disposition",
        "content-language",
        "cache-control",
        "expires",
        "etag",
        "x-delete-at",
        "x-object-manifest",
        "x-robots-tag",
    ),
}


def _utf8(value: str) -> bool:
    try:
        value.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return False
    return True


def check_metadata(headers: Iterable[tuple[str, str]], level: str, limits: Limits) -> None:
    """Swift's ``check_metadata``: 400 with Swift's reason on the first breach
    (names in it as Swift's WSGI gives them: title-cased)."""
    prefix = f"x-{level}-meta-"
    count = size = 0
    for name, value in headers:
        key = name.lower()
        if len(value) > limits.max_header_size:
            shown = key.title()[: limits.max_meta_name_length]
            raise PlainBadRequest(f"Header value too long: {shown}")
        if not key.startswith(prefix):
            continue
        meta = key[len(prefix) :]
        if not meta:
            raise PlainBadRequest("Metadata name cannot be empty")
        if level != "object" and not (_utf8(meta) and _utf8(value)):
            raise PlainBadRequest("Metadata must be valid UTF-8")
        count += 1
        size += len(meta) + len(value)
        if len(meta) > limits.max_meta_name_length:
            raise PlainBadRequest(f"Metadata name too long: {prefix}{meta.title()}")
        if len(value) > limits.max_meta_value_length:
            raise PlainBadRequest(
                f"Metadata value longer than {limits.max_meta_value_length}: "
                f"{prefix}{meta.title()}"
            )
        if count > limits.max_meta_count:
            raise PlainBadRequest(f"Too many metadata items; max {limits.max_meta_count}")
        if size > limits.max_meta_overall_size:
            raise PlainBadRequest(f"Total metadata too large; max {limits.max_meta_overall_size}")


def write_headers(headers: Iterable[tuple[str, str]], level: str, limits: Limits) -> dict[str, str]:
    """The metadata and kept headers of a PUT or POST, checked.  An
    ``X-Remove-<Level>-Meta-Name`` (or ``X-Remove-Container-Read`` ...) header
    becomes an empty value, which removes the item."""
    pairs = [(k.lower(), v) for k, v in headers]
    check_metadata(pairs, level, limits)
    prefix = f"x-{level}-meta-"
    remove = f"x-remove-{level}-"
    kept = KEPT[level]
    out: dict[str, str] = {}
    for key, value in pairs:
        if key.startswith(remove):
            name = f"x-{level}-" + key[len(remove) :]
            if name.startswith(prefix) or name in kept:
                out.setdefault(name, "")
        elif key.startswith(prefix) or key in kept:
            out[key] = value.strip() if key not in ("content-type",) else value
    for quota in ("x-container-meta-quota-bytes", "x-container-meta-quota-count"):
        given = out.get(quota)
        if given and not (given.isdigit() and given.isascii()):
            raise BadRequest(f"Invalid {quota}: a quota is a whole number of at least 0.")
    return out


def object_headers(
    headers: Iterable[tuple[str, str]], obj: str, limits: Limits, *, new: bool
) -> dict[str, str]:
    """An object PUT's (``new``) or POST's headers: metadata, the content type
    (detected from the name when not given, on PUT), and X-Delete-At (from
    X-Delete-After too)."""
    pairs = list(headers)
    # An object's metadata is replaced whole by each write: an empty value
    # (or X-Remove-Object-Meta-*) is an item left out, not an empty one.
    out = {k: v for k, v in write_headers(pairs, "object", limits).items() if v != ""}
    lowered = {k.lower(): v for k, v in pairs}
    if new and ("content-type" not in out or _true(lowered.get("x-detect-content-type"))):
        out["content-type"] = mimetypes.guess_type(obj)[0] or "application/octet-stream"
    delete_at = delete_at_of(lowered)
    if delete_at is not None:
        out["x-delete-at"] = str(delete_at)
    if not new:
        out.pop("etag", None)
    elif "etag" in out:
        out["etag"] = out["etag"].strip('"').lower()
    if new and "if-none-match" in lowered:
        # Only "*" (create, don't overwrite) means something on a PUT.
        if lowered["if-none-match"].strip() != "*":
            raise BadRequest("If-None-Match only supports *")
        out["if-none-match"] = "*"
    return out


def delete_at_of(headers: dict[str, str]) -> int | None:
    """X-Delete-At (or now + X-Delete-After) checked as Swift checks them."""
    now = time.time()
    after = headers.get("x-delete-after")
    if after is not None:
        try:
            seconds = int(after)
        except ValueError as exc:
            raise PlainBadRequest("Non-integer X-Delete-After") from exc
        if seconds < 0:
            raise PlainBadRequest("X-Delete-After in past")
        return int(now + seconds)
    at = headers.get("x-delete-at")
    if at is None or at == "":
        return None
    try:
        stamp = int(float(at)) if "." in at else int(at)
    except ValueError as exc:
        raise PlainBadRequest("Non-integer X-Delete-At") from exc
    if stamp < now:
        raise PlainBadRequest("X-Delete-At in past")
    return stamp


def _true(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on", "t", "y")


def true(value: str | None) -> bool:
    return _true(value)


# Header names a client may not set: the layers' and the nodes' own (Swift's
# gatekeeper removes them from every client request).
INTERNAL = (
    "x-object-sysmeta-",
    "x-object-transient-sysmeta-",
    "x-container-sysmeta-",
    "x-account-sysmeta-",
    "x-backend-",
)


def declared_length(headers: Mapping[str, str]) -> int | None:
    """A body's declared length; None for a chunked body (411 without either,
    501 for another transfer coding, 400 for a garbled length)."""
    encoding = headers.get("transfer-encoding")
    if encoding is not None:
        if encoding.strip().lower() != "chunked":
            raise NotImplementedYet()
        return None
    value = headers.get("content-length")
    if value is None:
        raise LengthRequired()
    try:
        length = int(value)
    except ValueError as exc:
        raise BadRequest("Invalid Content-Length") from exc
    if length < 0:
        raise BadRequest("Invalid Content-Length")
    return length
