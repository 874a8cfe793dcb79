"""S3-style errors for S3 clients that reach the cloud's root.

The S3 face of the object store is not served yet; an S3 client pointed at
the cloud (``GET /`` to list buckets, ``PUT /<bucket>``) must read a refusal
it understands, an S3 ``<Error>`` document, rather than a JSON 200 or 404
that it would take for a broken server.
"""

from __future__ import annotations

from xml.sax.saxutils import escape

from starlette.requests import Request
from starlette.responses import Response

from stratus.common.api import REQUEST_ID_KEY

_SIGNED_QUERY = ("X-Amz-Signature", "X-Amz-Credential", "AWSAccessKeyId")


def is_s3(request: Request) -> bool:
    """Whether the request is signed as S3 clients sign (AWS v2 or v4)."""
    auth = request.headers.get("authorization", "")
    if auth.startswith(("AWS4-HMAC-SHA256", "AWS ")):
        return True
    if "x-amz-date" in request.headers or "x-amz-content-sha256" in request.headers:
        return True
    return any(name in request.query_params for name in _SIGNED_QUERY)


def s3_error(code: str, message: str, status: int, request: Request) -> Response:
    request_id = str(request.scope.get(REQUEST_ID_KEY, ""))
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{escape(code)}</Code><Message>{escape(message)}</Message>"
        f"<Resource>{escape(request.url.path)}</Resource>"
        f"<RequestId>{escape(request_id)}</RequestId></Error>"
    )
    return Response(body.encode(), status, media_type="application/xml")
