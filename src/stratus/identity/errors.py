"""Identity errors, rendered in Keystone's ``{"error": {...}}`` format."""

from __future__ import annotations

import orjson
from starlette.responses import Response

from stratus.common.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    StratusError,
    Unauthorized,
)

__all__ = [
    "BadRequest",
    "Conflict",
    "Forbidden",
    "NotFound",
    "Unauthorized",
    "ValidationError",
    "render",
]


class ValidationError(BadRequest):
    """Input that parsed but breaks a rule of the identity service."""


def not_found(kind: str, ident: str) -> NotFound:
    return NotFound(f"Could not find {kind}: {ident}.")


def conflict(kind: str, detail: str) -> Conflict:
    return Conflict(f"Conflict occurred attempting to store {kind} - {detail}.")


def render(exc: StratusError) -> Response:
    body = {"error": {"code": exc.status, "title": exc.title, "message": exc.message}}
    headers = dict(exc.headers)
    if exc.status == 401:
        headers.setdefault("WWW-Authenticate", 'Keystone uri="/identity"')
    return Response(
        orjson.dumps(body), status_code=exc.status, headers=headers, media_type="application/json"
    )
