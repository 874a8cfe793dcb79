"""Compute errors, rendered in Nova's ``{"itemNotFound": {...}}`` format."""

from __future__ import annotations

import orjson
from sqlalchemy.exc import IntegrityError
from starlette.responses import Response

from stratus.common.errors import (
    BadRequest,
    Conflict,
    ErrorTranslations,
    Forbidden,
    NotFound,
    StratusError,
    lost_race,
)

__all__ = [
    "BadRequest",
    "Conflict",
    "Forbidden",
    "NotFound",
    "NotImplementedHere",
    "QuotaExceeded",
    "render",
]

_KEYS = {
    400: "badRequest",
    401: "unauthorized",
    403: "forbidden",
    404: "itemNotFound",
    405: "badMethod",
    406: "notAcceptable",
    409: "conflictingRequest",
    413: "overLimit",
    415: "badMediaType",
    501: "notImplemented",
    503: "serviceUnavailable",
}


class QuotaExceeded(Forbidden):
    """Nova answers 403 when a quota would be passed."""


class NotImplementedHere(StratusError):
    """Nova's 501: the host's driver cannot answer this."""

    status = 501
    title = "Not Implemented"


def render(exc: StratusError) -> Response:
    key = _KEYS.get(exc.status, "computeFault")
    body = {key: {"code": exc.status, "message": exc.message}}
    return Response(
        orjson.dumps(body),
        status_code=exc.status,
        headers=dict(exc.headers),
        media_type="application/json",
    )


# This service's database errors as its API answers them (``ServiceAPI``):
# a uniqueness race lost to a concurrent request.
DATABASE_ERRORS: ErrorTranslations = {IntegrityError: lost_race}
