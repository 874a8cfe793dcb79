"""CORS, as Swift's proxy does it (not a middleware there either: its
controllers answer ``OPTIONS`` and decorate the other answers).

A container allows origins with ``X-Container-Meta-Access-Control-Allow-Origin``
(space-separated, or ``*``), and may add ``...-Max-Age`` and
``...-Expose-Headers``.

- ``OPTIONS`` without ``Origin``: 200 with ``Allow``.
- A preflight (``Origin`` and ``Access-Control-Request-Method``): 200 with
  the ``Access-Control-Allow-*`` headers when the container allows the
  origin and the method, else 401.
- Any other request with an ``Origin`` the container allows gets
  ``Access-Control-Allow-Origin`` and ``Access-Control-Expose-Headers``
  (Swift's defaults, the metadata in the answer, the container's list).
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.responses import Response

from stratus.common.api import ApiRequest
from stratus.objectstore.api.accounts import store
from stratus.objectstore.errors import Unauthorized

META = "x-container-meta-access-control-"
ALLOW_ORIGIN = META + "allow-origin"
MAX_AGE = META + "max-age"
EXPOSE = META + "expose-headers"
METHODS = {
    "account": "DELETE, GET, HEAD, OPTIONS, POST, PUT",
    "container": "DELETE, GET, HEAD, OPTIONS, POST, PUT",
    "object": "COPY, DELETE, GET, HEAD, OPTIONS, POST, PUT",
}
EXPOSED = (
    "cache-control",
    "content-language",
    "content-type",
    "expires",
    "last-modified",
    "pragma",
    "etag",
    "x-timestamp",
    "x-trans-id",
    "x-openstack-request-id",
)


def allowed_origin(info: Mapping[str, str], origin: str) -> str | None:
    """What ``Access-Control-Allow-Origin`` says for ``origin``, or None
    when the container does not allow it."""
    allowed = info.get(ALLOW_ORIGIN, "").split()
    if "*" in allowed:
        return "*"
    return origin if origin in allowed else None


def response_headers(
    info: Mapping[str, str], origin: str, answer: Mapping[str, str]
) -> dict[str, str]:
    """The CORS headers of an answer to a request from ``origin``."""
    allow = allowed_origin(info, origin)
    if allow is None:
        return {}
    exposed = list(EXPOSED)
    exposed += [k for k in answer if k.startswith(("x-object-meta-", "x-container-meta-"))]
    exposed += [h.strip().lower() for h in info.get(EXPOSE, "").split(",") if h.strip()]
    return {
        "access-control-allow-origin": origin if allow == "*" and origin else allow,
        "access-control-expose-headers": ", ".join(dict.fromkeys(exposed)),
    }


def _level(req: ApiRequest) -> str:
    if "object" in req.params:
        return "object"
    return "container" if "container" in req.params else "account"


async def options(req: ApiRequest) -> Response:
    level = _level(req)
    methods = METHODS[level]
    headers = req.raw.headers
    origin = headers.get("origin")
    if not origin:
        return Response(b"", 200, headers={"allow": methods, "content-length": "0"})
    method = headers.get("access-control-request-method", "").upper()
    if level == "account" or method not in methods.split(", "):
        raise Unauthorized()
    info = await store(req).info(req.params["account"], req.params["container"])
    allow = allowed_origin(info.headers, origin) if info.status < 300 else None
    if allow is None:
        raise Unauthorized()
    out = {
        "allow": methods,
        "access-control-allow-origin": allow,
        "access-control-allow-methods": methods,
        "content-length": "0",
    }
    if info.headers.get(MAX_AGE, "").strip().isdigit():
        out["access-control-max-age"] = info.headers[MAX_AGE].strip()
    wanted = headers.get("access-control-request-headers")
    if wanted:
        out["access-control-allow-headers"] = wanted
    return Response(b"", 200, headers=out)
