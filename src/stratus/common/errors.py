"""The base of every service's exception hierarchy.

Each service defines its errors as subclasses carrying ``status`` and ``title``
and renders them in its upstream format through an ``ErrorRenderer``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

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
# Exceptions of a service's own layers (its database's, say) and the error
# each becomes: every service translates its own (``ServiceAPI(translations=)``).
ErrorTranslations = Mapping[type[Exception], Callable[[Exception], StratusError]]
