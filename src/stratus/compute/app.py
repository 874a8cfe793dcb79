"""The compute service's ASGI app."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.routing import WebSocketRoute

from stratus.common.api import ServiceAPI, TokenValidator
from stratus.common.microversion import Microversions, Version
from stratus.common.policy import Enforcer
from stratus.compute import errors
from stratus.compute.api.consoles import PATH, websocket_endpoint
from stratus.compute.api.misc import MAX_VERSION, MIN_VERSION
from stratus.compute.api.routes import ROUTES
from stratus.compute.service import ComputeService
from stratus.registry import SERVICES

MICROVERSIONS = Microversions(
    service="compute",
    minimum=Version.parse(MIN_VERSION),
    maximum=Version.parse(MAX_VERSION),
    legacy_header="x-openstack-nova-api-version",
)


def build(service: ComputeService, enforcer: Enforcer, validator: TokenValidator) -> Starlette:
    info = SERVICES["compute"]
    api = ServiceAPI(
        name="compute",
        routes=ROUTES,
        service=service,
        renderer=errors.render,
        validator=validator,
        enforcer=enforcer,
        translations=errors.DATABASE_ERRORS,
        base_url=info.endpoint_url(service.cfg.public_url),
        microversions=MICROVERSIONS,
        request_id_header="x-compute-request-id",
    )
    app = api.asgi()
    # The serial console's websocket: the one-time token is its credential.
    app.router.routes.append(WebSocketRoute(PATH, websocket_endpoint(service)))
    return app
