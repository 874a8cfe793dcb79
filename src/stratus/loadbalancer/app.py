"""The load-balancing service's ASGI app."""

from __future__ import annotations

from starlette.applications import Starlette

from stratus.common.api import ServiceAPI, TokenValidator
from stratus.common.policy import Enforcer
from stratus.loadbalancer import errors
from stratus.loadbalancer.api.routes import ROUTES
from stratus.loadbalancer.service import LoadBalancerService
from stratus.registry import SERVICES


def build(service: LoadBalancerService, enforcer: Enforcer, validator: TokenValidator) -> Starlette:
    api = ServiceAPI(
        name="load-balancer",
        routes=ROUTES,
        service=service,
        renderer=errors.render,
        translations=errors.DATABASE_ERRORS,
        validator=validator,
        enforcer=enforcer,
        base_url=SERVICES["load-balancer"].endpoint_url(service.cfg.public_url),
    )
    return api.asgi()
