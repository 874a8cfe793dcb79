"""CORS, as Swift's proxy does it (not a middleware there either: its
controllers answer ``OPTIONS`` and decorate the other answers).

A container allows origins with ``X-Container-Meta-Access-Control-Allow-Origin``
(space-separated, or ``*``), and may add ``...-Max-Age`` and
``...-Expose-Headers`` (space-separated); the operator may allow origins for
every container (``objectstore.cors_allow_origin``) and expose more headers
(``objectstore.cors_expose_headers``).

- ``OPTIONS`` without ``Origin``, or at an account: 200 with ``Allow``.
- A preflight (``Origin`` and ``Access-Control-Request-Method``) at a
  container or object: 200 with the ``Access-Control-Allow-*`` headers when
  the origin and the method are allowed, else 401.
- ``OPTIONS /info``: 200 with ``Allow: HEAD, GET, OPTIONS``.
- Any other request to a container or object with an ``Origin`` gets
  ``Access-Control-Allow-Origin`` and ``Access-Control-Expose-Headers``
  (Swift's defaults, the operator's, the metadata in the answer, the
  container's), only for an allowed origin unless ``strict_cors_mode`` is
  off; ``GET /info`` with an ``Origin`` allows it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from starlette.responses import Response

from stratus.common.api import ApiRequest
from stratus.objectstore.api.accounts import store
from stratus.objectstore.errors import Unauthorized
from stratus.objectstore.service.interface import ObjectStore

META = "x-container-meta-access-control-"
ALLOW_ORIGIN = META + "allow-origin"
MAX_AGE = META + "max-age"
EXPOSE = META + "expose-headers"
METHODS = {
    "account": "DELETE, GET, HEAD, OPTIONS, POST, PUT",
    "container": "DELETE, GET, HEAD, OPTIONS, POST, PUT",
    "object": "COPY, DELETE, GET, HEAD, OPTIONS, POST, PUT",
}
INFO_METHODS = "HEAD, GET, OPTIONS"
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
POLICY = "stratus.objectstore.cors"  # the scope key SwiftApp puts its policy at


@dataclass(frozen=True)
class CorsPolicy:
    """The operator's part of CORS (Swift's proxy options of these names)."""

    allow_origin: tuple[str, ...] = ()  # cors_allow_origin: allowed for every container
    expose_headers: tuple[str, ...] = ()  # cors_expose_headers: exposed on every answer
    strict: bool = True  # strict_cors_mode: no CORS headers for an origin not allowed

    def allows(self, info: Mapping[str, str], origin: str) -> bool:
        """Whether the container (or the operator) allows ``origin``."""
        allowed = set(info.get(ALLOW_ORIGIN, "").split()) | set(self.allow_origin)
        return origin in allowed or "*" in allowed


def _allow_origin(info: Mapping[str, str], origin: str) -> dict[str, str]:
    """``Access-Control-Allow-Origin``: ``*`` for a container open to all,
    else the origin itself (and ``Vary: Origin``)."""
    if info.get(ALLOW_ORIGIN, "").strip() == "*":
        return {"access-control-allow-origin": "*"}
    return {"access-control-allow-origin": origin, "vary": "Origin"}


def response_headers(
    policy: CorsPolicy, info: Mapping[str, str], origin: str, answer: Mapping[str, str]
) -> dict[str, str]:
    """The CORS headers of an answer to a request from ``origin``."""
    if policy.strict and not policy.allows(info, origin):
        return {}
    out: dict[str, str] = {}
    if "access-control-expose-headers" not in answer:
        exposed = [*EXPOSED, *(h.lower() for h in policy.expose_headers)]
        exposed += [k for k in answer if k.startswith(("x-object-meta-", "x-container-meta-"))]
        exposed += [h.strip().lower() for h in info.get(EXPOSE, "").split() if h.strip()]
        out["access-control-expose-headers"] = ", ".join(dict.fromkeys(exposed))
    if "access-control-allow-origin" not in answer:
        out.update(_allow_origin(info, origin))
        if "vary" in out and answer.get("vary"):
            out["vary"] = f"{answer['vary']}, Origin"
    return out


def policy_of(req: ApiRequest[ObjectStore]) -> CorsPolicy:
    policy: CorsPolicy = req.raw.scope.get(POLICY) or CorsPolicy()
    return policy


def _level(req: ApiRequest[ObjectStore]) -> str:
    if "object" in req.params:
        return "object"
    return "container" if "container" in req.params else "account"


async def options(req: ApiRequest[ObjectStore]) -> Response:
    level = _level(req)
    methods = METHODS[level]
    headers = req.raw.headers
    origin = headers.get("origin")
    if not origin or level == "account":
        # Swift's answer at an account, preflight or not (no CORS there).
        return Response(b"", 200, headers={"allow": methods, "content-length": "0"})
    info = await store(req).info(req.params["account"], req.params["container"])
    found = info.headers if info.status < 300 else {}
    method = headers.get("access-control-request-method", "")
    if not policy_of(req).allows(found, origin) or method not in methods.split(", "):
        raise Unauthorized(headers={"allow": methods})
    out = {"allow": methods, **_allow_origin(found, origin), "content-length": "0"}
    if found.get(MAX_AGE) is not None:
        out["access-control-max-age"] = found[MAX_AGE]
    out["access-control-allow-methods"] = methods
    wanted = [h.strip() for h in headers.get("access-control-request-headers", "").split(",")]
    wanted = list(dict.fromkeys(h for h in wanted if h))
    if wanted:
        out["access-control-allow-headers"] = ", ".join(wanted)
        vary = out.get("vary")
        out["vary"] = (
            f"{vary}, Access-Control-Request-Headers"
            if vary
            else ("Access-Control-Request-Headers")
        )
    return Response(b"", 200, headers=out)


async def info_options(req: ApiRequest[ObjectStore]) -> Response:
    return Response(b"", 200, headers={"allow": INFO_METHODS, "content-length": "0"})
