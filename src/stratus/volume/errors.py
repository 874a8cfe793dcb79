"""Block storage errors, rendered in Cinder's format:
``{"badRequest": {"code": 400, "message": "..."}}``."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError

from stratus.common.errors import (
    BadRequest,
    Conflict,
    ErrorTranslations,
    Forbidden,
    NotFound,
    StratusError,
    lost_race,
    render_fault,
)

__all__ = [
    "BadRequest",
    "Conflict",
    "Forbidden",
    "InvalidVolume",
    "NotFound",
    "OverLimit",
    "render",
]


class InvalidVolume(BadRequest):
    """A volume in the wrong state for the request: 400, as Cinder answers."""


class OverLimit(StratusError):
    """A quota would be passed: Cinder answers 413 overLimit."""

    status = 413
    title = "Request Entity Too Large"
    default_message = "VolumeLimitExceeded: Maximum number of volumes allowed exceeded."


class ServiceUnavailable(StratusError):
    status = 503
    title = "Service Unavailable"
    default_message = "A service this request needs is unavailable; try again later."


render = render_fault


# This service's database errors as its API answers them (``ServiceAPI``):
# a uniqueness race lost to a concurrent request.
DATABASE_ERRORS: ErrorTranslations = {IntegrityError: lost_race}
