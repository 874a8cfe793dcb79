"""Orchestration errors, rendered in Heat's format::

    {"explanation": "...", "code": 400, "title": "Bad Request",
     "error": {"message": "...", "traceback": null, "type": "StackValidationFailed"}}

``type`` is the name of Heat's exception class for the same fault, which
python-heatclient shows (``ERROR: <message>``) and scripts match on."""

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
    UnknownPath,
    lost_race,
)

__all__ = [
    "BadRequest",
    "CircularDependency",
    "Conflict",
    "Forbidden",
    "InvalidTemplate",
    "NotFound",
    "ResourceFailure",
    "ResourceTypeNotFound",
    "StackValidationFailed",
    "render",
]

EXPLANATIONS = {
    400: "The server could not comply with the request since it is either malformed "
    "or otherwise incorrect.",
    401: "This server could not verify that you are authorized to access the document "
    "you requested.",
    403: "Access was denied to this resource.",
    404: "The resource could not be found.",
    405: "The method is not allowed for this resource.",
    409: "There was a conflict when trying to complete your request.",
    413: "The request is larger than the server is willing or able to process.",
    415: "The request media type is not supported by this server.",
    500: "The server has either erred or is incapable of performing the requested operation.",
}
TYPES = {
    400: "HTTPBadRequest",
    401: "HTTPUnauthorized",
    403: "Forbidden",
    404: "EntityNotFound",
    405: "HTTPMethodNotAllowed",
    409: "HTTPConflict",
    413: "RequestLimitExceeded",
    415: "HTTPUnsupportedMediaType",
}


class HeatError(BadRequest):
    """A template or stack fault: 400 with Heat's exception name as type."""

    heat_type = "HTTPBadRequest"


class StackValidationFailed(HeatError):
    heat_type = "StackValidationFailed"


class InvalidTemplate(HeatError):
    heat_type = "InvalidTemplateVersion"


class InvalidTemplateReference(HeatError):
    heat_type = "InvalidTemplateReference"


class CircularDependency(HeatError):
    heat_type = "CircularDependencyException"


class ResourceTypeNotFound(HeatError):
    heat_type = "ResourceTypeNotFound"


class UserParameterMissing(HeatError):
    heat_type = "UserParameterMissing"


class ResourceActionNotSupported(HeatError):
    heat_type = "ResourceActionNotSupported"


class NotSupported(HeatError):
    heat_type = "NotSupported"


class StackExists(Conflict):
    heat_type = "StackExists"


class ActionInProgress(Conflict):
    heat_type = "ActionInProgress"


class StackNotFound(NotFound):
    heat_type = "EntityNotFound"


class ResourceFailure(Exception):
    """A resource's create, update or delete failed (the engine records the
    message as the resource's and the stack's status reason)."""


def render(exc: StratusError) -> Response:
    heat_type = getattr(exc, "heat_type", None) or TYPES.get(exc.status, "HTTPException")
    if isinstance(exc, UnknownPath):  # webob's, which Heat's fault wrapper names by class
        heat_type = "HTTPNotFound"
    body = {
        "explanation": EXPLANATIONS.get(exc.status, exc.title),
        "code": exc.status,
        "error": {"message": exc.message, "traceback": None, "type": heat_type},
        "title": exc.title,
    }
    return Response(
        orjson.dumps(body),
        status_code=exc.status,
        headers=dict(exc.headers),
        media_type="application/json",
    )


ORCHESTRATION_ERRORS: ErrorTranslations = {IntegrityError: lost_race}
