"""The database service's ASGI app."""

from __future__ import annotations

from starlette.applications import Starlette

from stratus.common.api import ServiceAPI, TokenValidator
from stratus.common.policy import Enforcer
from stratus.database import errors
from stratus.database.api.routes import ROUTES
from stratus.database.service import DatabaseService
from stratus.registry import SERVICES


def build(service: DatabaseService, enforcer: Enforcer, validator: TokenValidator) -> Starlette:
    info = SERVICES["database"]
    api = ServiceAPI(
        name="database",
        routes=ROUTES,
        service=service,
        renderer=errors.render,
        translations=errors.DATABASE_ERRORS,
        validator=validator,
        enforcer=enforcer,
        base_url=f"{service.cfg.public_url.rstrip('/')}{info.prefix}",
    )
    app = api.asgi()
    app.router.redirect_slashes = False
    return app
