"""The block storage service's ASGI app."""

from __future__ import annotations

from starlette.applications import Starlette

from stratus.common.api import ServiceAPI, TokenValidator
from stratus.common.microversion import Microversions, Version
from stratus.common.policy import Enforcer
from stratus.registry import SERVICES
from stratus.volume import errors
from stratus.volume.api.misc import MAX_VERSION, MIN_VERSION
from stratus.volume.api.routes import ROUTES
from stratus.volume.service import VolumeService

MICROVERSIONS = Microversions(
    service="volume", minimum=Version.parse(MIN_VERSION), maximum=Version.parse(MAX_VERSION)
)


def build(service: VolumeService, enforcer: Enforcer, validator: TokenValidator) -> Starlette:
    info = SERVICES["volume"]
    api = ServiceAPI(
        name="volume",
        routes=ROUTES,
        service=service,
        renderer=errors.render,
        translations=errors.DATABASE_ERRORS,
        validator=validator,
        enforcer=enforcer,
        base_url=f"{service.cfg.public_url.rstrip('/')}{info.prefix}",
        microversions=MICROVERSIONS,
    )
    app = api.asgi()
    # Cinder answers a path with a trailing slash (``volumes/``: an empty
    # id) with 404, where Starlette would redirect to the collection.
    app.router.redirect_slashes = False
    return app
