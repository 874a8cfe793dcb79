"""Database service errors, rendered in Trove's format (Nova's faults):
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
    "NotFound",
    "OverLimit",
    "ServiceUnavailable",
    "UnprocessableEntity",
    "render",
]


class OverLimit(StratusError):
    """A quota would be passed: Trove answers 413 overLimit."""

    status = 413
    title = "Request Entity Too Large"
    default_message = "Quota exceeded for resources."


class UnprocessableEntity(StratusError):
    """An instance in a state that does not allow the request: Trove's 422."""

    status = 422
    title = "Unprocessable Entity"
    default_message = "The instance is not in a state that allows this request."


class ServiceUnavailable(StratusError):
    """No host runs the datastore asked for: a 503."""

    status = 503
    title = "Service Unavailable"
    default_message = "No database host is available."


render = render_fault


DATABASE_ERRORS: ErrorTranslations = {IntegrityError: lost_race}
