"""The identity service's ASGI app."""

from __future__ import annotations

from starlette.applications import Starlette

from stratus.common.api import ServiceAPI, TokenValidator
from stratus.common.policy import Enforcer
from stratus.identity import errors
from stratus.identity.api.routes import ROUTES
from stratus.identity.service import IdentityService
from stratus.registry import SERVICES


def build(
    service: IdentityService, enforcer: Enforcer, validator: TokenValidator | None = None
) -> Starlette:
    """Identity always validates tokens itself, with its own keys."""
    cfg = service.core.cfg
    base_url = SERVICES["identity"].endpoint_url(cfg.public_url)
    api = ServiceAPI(
        name="identity",
        routes=ROUTES,
        service=service,
        renderer=errors.renderer(base_url),
        validator=validator or service,
        enforcer=enforcer,
        translations=errors.DATABASE_ERRORS,
        base_url=base_url,
    )
    return api.asgi()
