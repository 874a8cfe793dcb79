"""Identity errors, rendered in Keystone's ``{"error": {...}}`` format."""

from __future__ import annotations

import orjson
from sqlalchemy.exc import IntegrityError
from starlette.responses import Response

from stratus.common.errors import (
    BadRequest,
    Conflict,
    ErrorRenderer,
    ErrorTranslations,
    Forbidden,
    NotFound,
    StratusError,
    Unauthorized,
    lost_race,
)

__all__ = [
    "BadRequest",
    "Conflict",
    "Forbidden",
    "NotFound",
    "Unauthorized",
    "ValidationError",
    "renderer",
]


class ValidationError(BadRequest):
    """Input that parsed but breaks a rule of the identity service."""


def not_found(kind: str, ident: str) -> NotFound:
    return NotFound(f"Could not find {kind}: {ident}.")


def conflict(kind: str, detail: str) -> Conflict:
    return Conflict(f"Conflict occurred attempting to store {kind} - {detail}.")


def renderer(base_url: str) -> ErrorRenderer:
    """The error renderer of an identity API reached at ``base_url``."""
    challenge = f'Keystone uri="{base_url}"'

    def render(exc: StratusError) -> Response:
        body = {"error": {"code": exc.status, "title": exc.title, "message": exc.message}}
        headers = dict(exc.headers)
        if exc.status == 401:
            headers.setdefault("WWW-Authenticate", challenge)
        return Response(
            orjson.dumps(body),
            status_code=exc.status,
            headers=headers,
            media_type="application/json",
        )

    return render


# This service's database errors as its API answers them (``ServiceAPI``):
# a uniqueness race lost to a concurrent request.
DATABASE_ERRORS: ErrorTranslations = {IntegrityError: lost_race}
