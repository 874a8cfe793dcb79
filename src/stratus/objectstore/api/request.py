"""Swift's paths: ``/v1/<account>[/<container>[/<object>]]``, decoded and checked.

Names are percent-decoded from the raw path and must be UTF-8 without NUL
(else 412, as Swift answers).  The object part keeps its slashes; an empty
trailing part (``/v1/a/`` or ``/v1/a/c/``) is the level above, as in Swift.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from stratus.common.api import ApiRequest
from stratus.objectstore.errors import BadRequest
from stratus.objectstore.service.headers import INTERNAL
from stratus.objectstore.service.interface import Caller, ObjectStore
from stratus.objectstore.service.limits import Limits
from stratus.objectstore.service.names import check_object_name, decode

VERSIONS = ("v1", "v1.0")

# Scope key: the request's Caller (who calls, what it addressed).
CALLER = "stratus.objectstore.caller"
# Scope key: the operator's container-sync realms (for /info).
SYNC_REALMS = "stratus.objectstore.sync_realms"

ACCOUNT = "/v1/{account}"
CONTAINER = "/v1/{account}/{container}"
OBJECT = "/v1/{account}/{container}/{object:path}"


@dataclass(frozen=True, slots=True)
class SwiftPath:
    template: str  # the route path this request matches
    decoded: str = ""  # the whole path, percent-decoded
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


def mount_of(scope: Mapping[str, Any]) -> str:
    """Where the API is mounted (``/object-store``); empty at the root."""
    return str(scope.get("root_path", ""))


def parse_path(raw: bytes, limits: Limits) -> SwiftPath:
    """The route and names of a request path (raw, below the mount)."""
    path = decode(raw)
    if path in ("/info", "/healthcheck", "/crossdomain.xml"):
        return SwiftPath(path, path)
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
        return SwiftPath(ACCOUNT, path, account)
    if len(container.encode()) > limits.max_container_name_length:
        raise BadRequest(
            f"Container name length of {len(container.encode())} longer than "
            f"{limits.max_container_name_length}"
        )
    if container in (".", ".."):
        raise BadRequest("Container name cannot be '.' or '..'")
    if obj is None:
        return SwiftPath(CONTAINER, path, account, container)
    check_object_name(obj, limits)
    return SwiftPath(OBJECT, path, account, container, obj)


def caller_of(req: ApiRequest[ObjectStore]) -> Caller:
    caller: Caller = req.raw.scope[CALLER]
    return caller


def client_headers(req: ApiRequest[ObjectStore]) -> dict[str, str]:
    """The request's headers, lower-case, without the names a client may
    not set (Swift's gatekeeper: sysmeta and backend headers)."""
    return {k: v for k, v in req.raw.headers.items() if not k.startswith(INTERNAL)}
