"""The orchestration service's ASGI app."""

from __future__ import annotations

from starlette.applications import Starlette

from stratus.common.api import ServiceAPI, TokenValidator
from stratus.common.policy import Enforcer
from stratus.orchestration import errors
from stratus.orchestration.api.routes import ROUTES
from stratus.orchestration.service import OrchestrationService
from stratus.registry import SERVICES


def build(service: OrchestrationService, enforcer: Enforcer, validator: TokenValidator) -> Starlette:
    info = SERVICES["orchestration"]
    api = ServiceAPI(
        name="orchestration",
        routes=ROUTES,
        service=service,
        renderer=errors.render,
        translations=errors.ORCHESTRATION_ERRORS,
        validator=validator,
        enforcer=enforcer,
        base_url=f"{service.cfg.public_url.rstrip('/')}{info.prefix}",
    )
    app = api.asgi()
    app.router.redirect_slashes = False
    return app
