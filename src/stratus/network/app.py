"""The network service's ASGI app."""

from __future__ import annotations

from starlette.applications import Starlette

from stratus.common.api import ServiceAPI, TokenValidator
from stratus.common.policy import Enforcer
from stratus.network import errors
from stratus.network.api.routes import ROUTES
from stratus.network.service import NetworkService
from stratus.registry import SERVICES


def build(service: NetworkService, enforcer: Enforcer, validator: TokenValidator) -> Starlette:
    api = ServiceAPI(
        name="network",
        routes=ROUTES,
        service=service,
        renderer=errors.render,
        translations=errors.DATABASE_ERRORS,
        validator=validator,
        enforcer=enforcer,
        base_url=SERVICES["network"].endpoint_url(service.cfg.public_url),
    )
    return api.asgi()
