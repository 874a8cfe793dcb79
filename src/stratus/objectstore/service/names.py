"""Names as Swift checks them: percent-decoded UTF-8 without NUL (else 412),
object names without dot segments, and ``container/object`` targets of
X-Copy-From and Destination."""

from __future__ import annotations

from urllib.parse import unquote_to_bytes

from stratus.objectstore.errors import BadRequest, PlainBadRequest, PreconditionFailed
from stratus.objectstore.service.limits import Limits

INVALID_UTF8 = "Invalid UTF8 or contains NULL"


def decode(raw: bytes) -> str:
    try:
        text = unquote_to_bytes(raw).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PreconditionFailed(INVALID_UTF8) from exc
    if "\x00" in text:
        raise PreconditionFailed(INVALID_UTF8)
    return text


def header_text(value: str) -> str:
    """A header value (its bytes read as latin-1, as the server gives them)
    as the UTF-8 text a client meant: a container name in X-History-Location,
    X-Copy-From, Destination."""
    try:
        return value.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return value


def header_value(text: str) -> str:
    """Text as a header value carries it: its UTF-8 bytes read as latin-1."""
    return text.encode("utf-8", "surrogateescape").decode("latin-1")


def check_object_name(obj: str, limits: Limits) -> None:
    size = len(obj.encode())
    if size > limits.max_object_name_length:
        raise PlainBadRequest(
            f"Object name length of {size} longer than {limits.max_object_name_length}"
        )
    if any(seg in (".", "..") for seg in obj.split("/")):
        raise BadRequest("Object name cannot contain '.' or '..' path segments")


def split_target(value: str, limits: Limits) -> tuple[str, str]:
    """``container/object`` of a Destination or X-Copy-From header (412 when
    it is not of that form, as Swift)."""
    text = decode(value.encode("latin-1"))
    text = text.lstrip("/")
    container, _, obj = text.partition("/")
    if not container or not obj:
        raise PreconditionFailed("Bad URL: the value must be of the form /container/object")
    if len(container.encode()) > limits.max_container_name_length:
        raise BadRequest(
            f"Container name length of {len(container.encode())} longer than "
            f"{limits.max_container_name_length}"
        )
    check_object_name(obj, limits)
    return container, obj
