"""Object-store errors, rendered as Swift renders them.

Swift answers errors with a short body: its standard HTML page for the status
(``<html><h1>Not Found</h1><p>The resource could not be found.</p></html>``)
or, where Swift gives a reason, that reason as bare text; both with
``Content-Type: text/html; charset=UTF-8``, except the constraint checks
(metadata, object names, X-Delete-At), whose reasons Swift sends as
``text/plain`` (:class:`PlainBadRequest`).
"""

from __future__ import annotations

from starlette.responses import Response

from stratus.common.errors import StratusError

# Swift's reason phrases and default explanations, by status.
REASONS: dict[int, tuple[str, str]] = {
    202: ("Accepted", "The request is accepted for processing."),
    400: (
        "Bad Request",
        "The server could not comply with the request since it is either malformed "
        "or otherwise incorrect.",
    ),
    401: (
        "Unauthorized",
        "This server could not verify that you are authorized to access the document "
        "you requested.",
    ),
    403: ("Forbidden", "Access was denied to this resource."),
    404: ("Not Found", "The resource could not be found."),
    405: ("Method Not Allowed", "The method is not allowed for this resource."),
    406: ("Not Acceptable", "The request is not acceptable."),
    408: (
        "Request Timeout",
        "The server has waited too long for the request to be sent by the client.",
    ),
    409: ("Conflict", "There was a conflict when trying to complete your request."),
    411: ("Length Required", "Content-Length header required."),
    412: ("Precondition Failed", "A precondition for this request was not met."),
    413: ("Request Entity Too Large", "The body of your request was too large for this server."),
    416: ("Requested Range Not Satisfiable", "The Range requested is not available."),
    422: ("Unprocessable Entity", "Unable to process the contained instructions"),
    499: ("Client Disconnect", "The client was disconnected during request."),
    500: (
        "Internal Error",
        "The server has either erred or is incapable of performing the requested operation.",
    ),
    501: ("Not Implemented", "The requested method is not implemented by this server."),
    503: (
        "Service Unavailable",
        "The server is currently unavailable. Please try again at a later time.",
    ),
}

HTML = "text/html; charset=UTF-8"
PLAIN = "text/plain"


class SwiftError(StratusError):
    """An error answered with Swift's status and body.  ``message`` None means
    Swift's standard page for the status."""

    status = 500
    title = "Internal Error"
    media_type = HTML

    def __init__(
        self,
        message: str | None = None,
        *,
        headers: dict[str, str] | None = None,
        plain: bool = False,
    ):
        super().__init__(message or REASONS.get(self.status, ("", ""))[1], headers=headers)
        self.explicit = message is not None
        if plain:  # the reason as text/plain, where Swift says content_type='text/plain'
            self.media_type = PLAIN


class BadRequest(SwiftError):
    status = 400
    title = "Bad Request"


class PlainBadRequest(BadRequest):
    """A 400 of Swift's constraint checks (``swift.common.constraints``),
    whose reason Swift sends as ``text/plain``."""

    media_type = PLAIN


class Unauthorized(SwiftError):
    status = 401
    title = "Unauthorized"


class Forbidden(SwiftError):
    status = 403
    title = "Forbidden"


class NotFound(SwiftError):
    status = 404
    title = "Not Found"


class MethodNotAllowed(SwiftError):
    status = 405
    title = "Method Not Allowed"


class NotAcceptable(SwiftError):
    status = 406
    title = "Not Acceptable"


class RequestTimeout(SwiftError):
    status = 408
    title = "Request Timeout"


class Conflict(SwiftError):
    status = 409
    title = "Conflict"


class LengthRequired(SwiftError):
    status = 411
    title = "Length Required"


class PreconditionFailed(SwiftError):
    status = 412
    title = "Precondition Failed"


class TooLarge(SwiftError):
    status = 413
    title = "Request Entity Too Large"


class RangeNotSatisfiable(SwiftError):
    status = 416
    title = "Requested Range Not Satisfiable"


class Unprocessable(SwiftError):
    status = 422
    title = "Unprocessable Entity"


class ClientDisconnect(SwiftError):
    status = 499
    title = "Client Disconnect"


class NotImplementedYet(SwiftError):
    status = 501
    title = "Not Implemented"


class Unavailable(SwiftError):
    status = 503
    title = "Service Unavailable"


def body_of(status: int, message: str | None = None) -> bytes:
    """Swift's error body: the bare reason when one is given, else the page."""
    if message:
        return message.encode()
    title, text = REASONS.get(status, ("Error", ""))
    return f"<html><h1>{title}</h1><p>{text}</p></html>".encode()


_SUCCESS = {200: "OK", 201: "Created", 204: "No Content", 502: "Bad Gateway"}


def status_line(status: int) -> str:
    """``"404 Not Found"``: a status as bulk answers name it."""
    reason = _SUCCESS.get(status) or REASONS.get(status, ("", ""))[0]
    return f"{status} {reason}".strip()


def render(exc: StratusError) -> Response:
    """A response for any service error (the common errors map by status)."""
    # Errors from shared code (token validation) get Swift's standard page.
    explicit = getattr(exc, "explicit", False)
    status = exc.status if exc.status in REASONS else 500
    body = body_of(status, exc.message if explicit and status != 500 else None)
    headers = dict(exc.headers)
    # Given as a header, so that Starlette adds no charset to text/plain.
    headers["content-type"] = getattr(exc, "media_type", HTML) if explicit else HTML
    return Response(body, status_code=status, headers=headers)


_BY_STATUS: dict[int, type[SwiftError]] = {
    cls.status: cls
    for cls in (
        BadRequest,
        Unauthorized,
        Forbidden,
        NotFound,
        MethodNotAllowed,
        NotAcceptable,
        RequestTimeout,
        Conflict,
        LengthRequired,
        PreconditionFailed,
        TooLarge,
        RangeNotSatisfiable,
        Unprocessable,
        ClientDisconnect,
        NotImplementedYet,
        Unavailable,
    )
}


def for_status(status: int) -> SwiftError:
    """The error for a status a node or the quorum answered."""
    cls = _BY_STATUS.get(status)
    if cls is None:
        return Unavailable() if status >= 500 else BadRequest()
    return cls()
