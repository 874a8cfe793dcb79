"""The image service's ASGI app."""

from __future__ import annotations

from starlette.applications import Starlette

from stratus.common.api import ServiceAPI, TokenValidator
from stratus.common.policy import Enforcer
from stratus.image import errors
from stratus.image.api.routes import ROUTES
from stratus.image.service import ImageService
from stratus.registry import SERVICES


def build(service: ImageService, enforcer: Enforcer, validator: TokenValidator) -> Starlette:
    api = ServiceAPI(
        name="image",
        routes=ROUTES,
        service=service,
        renderer=errors.render,
        validator=validator,
        enforcer=enforcer,
        translations=errors.DATABASE_ERRORS,
        base_url=SERVICES["image"].endpoint_url(service.cfg.public_url),
    )
    app = api.asgi()
    # Glance answers /v2/images/ (an empty image id) with 404, not a redirect
    # to the list.
    app.router.redirect_slashes = False
    return app
