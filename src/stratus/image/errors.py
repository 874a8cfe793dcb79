"""Image errors, rendered as Glance (webob) renders them for JSON clients."""

from __future__ import annotations

import html

from sqlalchemy.exc import IntegrityError
from starlette.responses import Response

from stratus.common.errors import (
    BadRequest,
    Conflict,
    ErrorTranslations,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    StratusError,
    UnsupportedMediaType,
    lost_race,
)

__all__ = [
    "BadRequest",
    "Conflict",
    "Forbidden",
    "NotFound",
    "PayloadTooLarge",
    "UnsupportedMediaType",
    "render",
    "image_not_found",
]


class QuotaExceeded(StratusError):
    status = 413
    title = "Request Entity Too Large"
    default_message = "The project's image quota is exceeded."


class TooMany(PayloadTooLarge):
    """Glance answers 413 when an image would pass a limit on its tags or properties."""


class ServiceUnavailable(StratusError):
    status = 503
    title = "Service Unavailable"
    default_message = "The image store is unavailable."


def image_not_found(image_id: str) -> NotFound:
    return NotFound(f"No image found with ID {image_id}")


def render(exc: StratusError) -> Response:
    """Glance answers errors as webob's HTML page; its clients parse that
    (glanceclient cannot read a JSON error body)."""
    status = f"{exc.status} {exc.title}"
    body = (
        f"<html>\n <head>\n  <title>{status}</title>\n </head>\n <body>\n"
        f"  <h1>{status}</h1>\n  {html.escape(exc.message)}<br /><br />\n\n\n\n </body>\n</html>"
    )
    return Response(
        body.encode(),
        status_code=exc.status,
        headers=dict(exc.headers),
        media_type="text/html; charset=UTF-8",
    )


class RangeNotSatisfiable(StratusError):
    status = 416
    title = "Requested Range Not Satisfiable"
    default_message = "The requested range is outside the image data."

    def __init__(self, size: int):
        super().__init__(headers={"Content-Range": f"bytes */{size}"})


# This service's database errors as its API answers them (``ServiceAPI``):
# a uniqueness race lost to a concurrent request.
DATABASE_ERRORS: ErrorTranslations = {IntegrityError: lost_race}
