"""The base of every service's exception hierarchy.

Each service defines its errors as subclasses carrying ``status`` and ``title``
and renders them in its upstream format through an ``ErrorRenderer``.
"""

from __future__ import annotations

from collections.abc import Callable

import orjson
from starlette.responses import Response


class StratusError(Exception):
    status: int = 500
    title: str = "Internal Server Error"
    default_message: str = "An unexpected error prevented the server from fulfilling your request."

    def __init__(self, message: str | None = None, *, headers: dict[str, str] | None = None):
        self.message = message or self.default_message
        self.headers = headers or {}
        super().__init__(self.message)


class BadRequest(StratusError):
    status = 400
    title = "Bad Request"
    default_message = "The request could not be understood."


class Unauthorized(StratusError):
    status = 401
    title = "Unauthorized"
    default_message = "The request you have made requires authentication."


class Forbidden(StratusError):
    status = 403
    title = "Forbidden"
    default_message = "You are not authorized to perform the requested action."


class NotFound(StratusError):
    status = 404
    title = "Not Found"
    default_message = "Could not find the requested resource."


class MethodNotAllowed(StratusError):
    status = 405
    title = "Method Not Allowed"
    default_message = "The method is not allowed for the requested URL."


class Conflict(StratusError):
    status = 409
    title = "Conflict"
    default_message = "The request conflicts with the current state of the resource."


class PayloadTooLarge(StratusError):
    status = 413
    title = "Request Entity Too Large"
    default_message = "The request body is too large."


class UnsupportedMediaType(StratusError):
    status = 415
    title = "Unsupported Media Type"
    default_message = "The request body has a media type this API does not take."


# Renders one error as a response in a service's upstream format.
ErrorRenderer = Callable[[StratusError], Response]


# The fault names of the Nova-style error body ``{"itemNotFound": {"code":
# 404, "message": ...}}``, which Nova and Cinder share.
FAULT_NAMES = {
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


def render_fault(exc: StratusError) -> Response:
    """An error in the Nova/Cinder fault format."""
    key = FAULT_NAMES.get(exc.status, "computeFault")
    body = {key: {"code": exc.status, "message": exc.message}}
    return Response(
        orjson.dumps(body),
        status_code=exc.status,
        headers=dict(exc.headers),
        media_type="application/json",
    )
