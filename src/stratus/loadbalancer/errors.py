"""Load-balancing errors, rendered in Octavia's format (WSME's faults)::

    {"faultcode": "Client", "faultstring": "...", "debuginfo": null}

``faultcode`` is "Client" for 4xx and "Server" for 5xx; each class carries
the status Octavia answers with.
"""

from __future__ import annotations

import orjson
from sqlalchemy.exc import IntegrityError
from starlette.responses import Response

from stratus.common.errors import ErrorTranslations, StratusError, lost_race


class OctaviaError(StratusError):
    """The base of the load-balancing service's own errors."""


class InvalidOption(OctaviaError):
    status = 400
    title = "Bad Request"
    default_message = "Invalid input."

    def __init__(self, message: str):
        super().__init__(message)


class ValidationException(InvalidOption):
    def __init__(self, detail: str):
        super().__init__(f"Validation failure: {detail}")


class Forbidden(OctaviaError):
    status = 403
    title = "Forbidden"
    default_message = "Policy does not allow this request to be performed."


class NotFound(OctaviaError):
    status = 404
    title = "Not Found"

    def __init__(self, resource: str, ident: str):
        super().__init__(f"{resource} {ident} not found.")


class Conflict(OctaviaError):
    status = 409
    title = "Conflict"
    default_message = "The request conflicts with the state of the resource."


class ImmutableObject(Conflict):
    def __init__(self, resource: str, ident: str, state: str = "PENDING_UPDATE"):
        super().__init__(f"Invalid state {state} of {resource} resource {ident}")


class DuplicateListener(Conflict):
    def __init__(self, protocol: str, port: int):
        super().__init__(
            "Another Listener on this Load Balancer is already using "
            f"protocol {protocol} and protocol_port {port}"
        )


class DuplicateMember(Conflict):
    def __init__(self, address: str, port: int):
        super().__init__(f"Another member on this pool is already using ip {address} on "
                         f"protocol_port {port}")  # fmt: skip


class DuplicateHealthMonitor(Conflict):
    default_message = "This pool already has a health monitor"


class QuotaExceeded(OctaviaError):
    status = 403
    title = "Forbidden"

    def __init__(self, resource: str):
        super().__init__(f"Quota has been met for resources: {resource}")


class NoAgent(OctaviaError):
    status = 503
    title = "Service Unavailable"
    default_message = "No load-balancer agent is up to run this load balancer."


def render(exc: StratusError) -> Response:
    message = exc.message
    if exc.status >= 500 and not isinstance(exc, OctaviaError):
        message = "An unknown exception occurred."
    body = {
        "faultcode": "Server" if exc.status >= 500 else "Client",
        "faultstring": message,
        "debuginfo": None,
    }
    return Response(
        orjson.dumps(body),
        status_code=exc.status,
        headers=dict(exc.headers),
        media_type="application/json",
    )


DATABASE_ERRORS: ErrorTranslations = {IntegrityError: lost_race}
