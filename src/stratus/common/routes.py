"""What a service's routes table is made of (``Route``: method, path,
handler, request schemas) and what a handler receives (``ApiRequest[S]``,
typed by the service it carries)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response

from stratus.common.context import RequestContext
from stratus.common.microversion import Version
from stratus.common.policy import Enforcer
from stratus.common.schemas import NoBody, NoQuery

S = TypeVar("S")
Handler = Callable[["ApiRequest[Any]"], Awaitable[Response]]


@dataclass(frozen=True, init=False)
class Route:
    """One route: method, path, handler and request schemas.  The schemas
    are named on purpose, ``NoBody`` / ``NoQuery`` for none: a route that
    names neither is ``undeclared``, which ``ServiceAPI`` refuses and the
    route-schema test reports."""

    method: str
    path: str
    handler: Handler
    body: type[BaseModel]
    query: type[BaseModel]
    public: bool  # no token needed (discovery, authentication)
    # Content types a body may have (None: any); others get 415.
    content_types: tuple[str, ...] | None
    # The one key of the JSON body that selects this route among those of
    # the same method and path (OpenStack's server actions).
    action: str | None
    undeclared: tuple[str, ...]  # the schemas not named ("body", "query")

    def __init__(
        self,
        method: str,
        path: str,
        handler: Handler,
        *,
        body: type[BaseModel] | None = None,
        query: type[BaseModel] | None = None,
        public: bool = False,
        content_types: tuple[str, ...] | None = None,
        action: str | None = None,
    ) -> None:
        values = {
            "method": method,
            "path": path,
            "handler": handler,
            "body": body or NoBody,
            "query": query or NoQuery,
            "public": public,
            "content_types": content_types,
            "action": action,
            "undeclared": tuple(n for n, s in (("body", body), ("query", query)) if s is None),
        }
        for name, value in values.items():
            object.__setattr__(self, name, value)


@dataclass
class ApiRequest(Generic[S]):
    raw: Request
    ctx: RequestContext
    params: Mapping[str, str]
    body: Any
    query: Any
    service: S
    enforcer: Enforcer
    base_url: str
    headers: dict[str, str] = field(default_factory=dict)
    version: Version | None = None  # the negotiated microversion, if the API has them

    def authorize(self, action: str, target: Mapping[str, Any] | None = None) -> None:
        self.enforcer.authorize(action, self.ctx, target)

    def allowed(self, action: str, target: Mapping[str, Any] | None = None) -> bool:
        return self.enforcer.allowed(action, self.ctx, target)

    @property
    def url(self) -> str:
        """This request's URL as clients reach it."""
        path = self.raw.scope["path"][len(self.raw.scope.get("root_path", "")) :]
        qs = self.raw.scope.get("query_string", b"").decode("latin-1")
        return f"{self.base_url}{path}" + (f"?{qs}" if qs else "")
