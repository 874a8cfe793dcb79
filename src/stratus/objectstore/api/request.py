"""Swift's paths: ``/v1/<account>[/<container>[/<object>]]``, decoded and checked.

Names are percent-decoded from the raw path and must be UTF-8 without NUL
(else 412, as Swift answers).  The object part keeps its slashes; an empty
trailing part (``/v1/a/`` or ``/v1/a/c/``) is the level above, as in Swift.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_to_bytes

from stratus.objectstore.errors import BadRequest, PreconditionFailed
from stratus.objectstore.service.limits import Limits

VERSIONS = ("v1", "v1.0")
INVALID_UTF8 = "Invalid UTF8 or contains NULL"

ACCOUNT = "/v1/{account}"
CONTAINER = "/v1/{account}/{container}"
OBJECT = "/v1/{account}/{container}/{object:path}"


@dataclass(frozen=True, slots=True)
class SwiftPath:
    template: str  # the route path this request matches
    account: str | None = None
    container: str | None = None
    obj: str | None = None

    @property
    def params(self) -> dict[str, str]:
        out = {}
        if self.account is not None:
            out["account"] = self.account
        if self.container is not None:
            out["container"] = self.container
        if self.obj is not None:
            out["object"] = self.obj
        return out


def raw_path_of(scope: Mapping[str, Any]) -> bytes:
    """The request's path below the mount point, still percent-encoded."""
    raw: bytes | None = scope.get("raw_path")
    root = str(scope.get("root_path", "")).encode()
    if raw is None:
        raw = str(scope["path"]).encode()
    raw = raw.split(b"?", 1)[0]
    if root and raw.startswith(root):
        raw = raw[len(root) :]
    return raw or b"/"


def decode(raw: bytes) -> str:
    try:
        text = unquote_to_bytes(raw).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PreconditionFailed(INVALID_UTF8) from exc
    if "\x00" in text:
        raise PreconditionFailed(INVALID_UTF8)
    return text


def parse_path(raw: bytes, limits: Limits) -> SwiftPath:
    """The route and names of a request path (raw, below the mount)."""
    path = decode(raw)
    if path in ("/info", "/healthcheck", "/crossdomain.xml"):
        return SwiftPath(path)
    parts = path[1:].split("/", 3) if path.startswith("/") else []
    if len(parts) < 2 or parts[0] not in VERSIONS or not parts[1]:
        return SwiftPath("")
    account = parts[1]
    container = parts[2] if len(parts) > 2 and parts[2] else None
    obj = parts[3] if len(parts) > 3 and parts[3] and container else None
    if len(parts) > 3 and parts[3] and not container:
        return SwiftPath("")  # /v1/a//o
    if len(account.encode()) > limits.max_account_name_length:
        raise BadRequest(
            f"Account name length of {len(account.encode())} longer than "
            f"{limits.max_account_name_length}"
        )
    if container is None:
        return SwiftPath(ACCOUNT, account)
    if len(container.encode()) > limits.max_container_name_length:
        raise BadRequest(
            f"Container name length of {len(container.encode())} longer than "
            f"{limits.max_container_name_length}"
        )
    if container in (".", ".."):
        raise BadRequest("Container name cannot be '.' or '..'")
    if obj is None:
        return SwiftPath(CONTAINER, account, container)
    check_object_name(obj, limits)
    return SwiftPath(OBJECT, account, container, obj)


def check_object_name(obj: str, limits: Limits) -> None:
    size = len(obj.encode())
    if size > limits.max_object_name_length:
        raise BadRequest(
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
