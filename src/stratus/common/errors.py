"""The base of every service's exception hierarchy.

Each service defines its errors as subclasses carrying ``status`` and ``title``
and renders them in its upstream format through an ``ErrorRenderer``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

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


class UnknownPath(NotFound):
    """A path the service's router does not know."""

    default_message = "The resource could not be found."


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


class ErrorHandlers:
    """One service's error registry: a map from exception class to the
    handler that answers it, looked up along the exception's class hierarchy
    (the most specific registered class wins), as Starlette's exception
    middleware does.  Every service registers its upstream format here
    (Keystone's and Nova's JSON, Glance's pages, Swift's plain text) and the
    exceptions of its own layers it translates into its errors (``translate``:
    its database's integrity error is a lost race, a 409).  ``unexpected`` is
    every service app's catch-all."""

    def __init__(self, handlers: dict[type[Exception], Callable[[Any], Response]]) -> None:
        self._handlers = dict(handlers)
        self._resolved: dict[type[Exception], Callable[[Any], Response] | None] = {}

    def add(self, cls: type[Exception], handler: Callable[[Any], Response]) -> None:
        self._handlers[cls] = handler
        self._resolved.clear()

    def translate(self, cls: type[Exception], into: Callable[[Exception], StratusError]) -> None:
        """``cls`` is answered as the service's error ``into`` makes of it."""
        self.add(cls, lambda exc: self.render(into(exc)))

    def lookup(self, exc: Exception) -> Callable[[Any], Response] | None:
        cls = type(exc)
        try:
            return self._resolved[cls]
        except KeyError:
            pass
        found = next((self._handlers[c] for c in cls.__mro__ if c in self._handlers), None)
        self._resolved[cls] = found
        return found

    def render(self, exc: Exception) -> Response:
        """The registered answer to ``exc``; an unregistered one is answered
        as the registry answers a bare ``StratusError`` (a 500)."""
        handler = self.lookup(exc)
        if handler is not None:
            return handler(exc)
        fallback = StratusError()
        handler = self.lookup(fallback)
        if handler is None:
            raise LookupError(f"no renderer for {type(exc).__name__} nor StratusError") from exc
        return handler(fallback)

    def unexpected(
        self, exc: Exception, log: logging.Logger, service: str, method: str, path: str,
        request_id: str,
    ) -> Response:  # fmt: skip
        """The answer to an exception a request's handler let out: its
        registered one (a translation), else a 500, logged with its traceback."""
        if self.lookup(exc) is None:
            log.error("%s: unexpected error on %s %s [%s]", service, method, path, request_id,
                      exc_info=exc)  # fmt: skip
        return self.render(exc)


# Exceptions of a service's own layers (its database's, say) and the error
# each becomes: every service registers its own (``ServiceAPI(translations=)``
# puts them in its ``ErrorHandlers`` with ``translate``).
ErrorTranslations = Mapping[type[Exception], Callable[[Exception], StratusError]]


def lost_race(exc: Exception) -> Conflict:
    """A uniqueness race lost to a concurrent request (each service maps its
    database's integrity error to this in its ``ErrorTranslations``)."""
    return Conflict("The request conflicts with data stored meanwhile; try again.")
