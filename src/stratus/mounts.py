"""What the all-in-one serves: each enabled service's app under its prefix,
the Swift paths at the root, the cloud's root document, and the answer to a
path no service serves."""

from __future__ import annotations

from typing import Any, Protocol

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route

from stratus.common import logs
from stratus.common.api import TokenValidator, json_response
from stratus.common.config import Config
from stratus.common.context import RequestContext
from stratus.common.policy import Enforcer
from stratus.common.s3 import is_s3, s3_error
from stratus.compute import app as compute_app
from stratus.compute.service import ComputeService
from stratus.identity import app as identity_app
from stratus.identity.service import IdentityService
from stratus.image import app as image_app
from stratus.image.service import ImageService
from stratus.network.service import NetworkService
from stratus.registry import SERVICES


class NotingValidator:
    """A token validator that tells the access log who called (for apps
    that validate tokens themselves rather than through ``common.api``)."""

    def __init__(self, inner: TokenValidator) -> None:
        self.inner = inner

    async def validate(self, token: str, request_id: str) -> RequestContext:
        ctx = await self.inner.validate(token, request_id)
        logs.note_caller(ctx.project_id, ctx.user_id)
        return ctx


class Services(Protocol):
    """The services of one process (``app.Cloud``), as the mounts see them:
    None (or absent) where a service is not enabled."""

    cfg: Config
    enforcer: Enforcer
    identity: IdentityService
    image: ImageService | None
    compute: ComputeService | None
    network: NetworkService | None
    volume: Any
    loadbalancer: Any
    database: Any
    orchestration: Any
    objectstore: Any

    @property
    def validator(self) -> TokenValidator: ...


def service_mounts(cloud: Services) -> list[Any]:
    """Each enabled service's app under its prefix.  A service's API
    package is imported only when the service runs (start time)."""
    enforcer, validator = cloud.enforcer, cloud.validator

    def at(service: str, app: Any) -> Any:
        return Mount(SERVICES[service].prefix, app)

    mounts: list[Any] = []
    if "identity" in cloud.cfg.services.enabled:
        mounts.append(at("identity", identity_app.build(cloud.identity, enforcer)))
    if cloud.image is not None:
        mounts.append(at("image", image_app.build(cloud.image, enforcer, validator)))
    if cloud.compute is not None:
        mounts.extend(_compute_mounts(cloud.cfg, cloud.compute, enforcer, validator))
    if cloud.volume is not None:
        from stratus.volume.app import build as build_volume

        mounts.append(at("volume", build_volume(cloud.volume, enforcer, validator)))
    if cloud.network is not None:
        from stratus.network.app import build as build_network

        mounts.append(at("network", build_network(cloud.network, enforcer, validator)))
    if cloud.loadbalancer is not None:
        from stratus.loadbalancer.app import build as build_lb

        mounts.append(at("load-balancer", build_lb(cloud.loadbalancer, enforcer, validator)))
    if cloud.database is not None:
        from stratus.database.app import build as build_database

        mounts.append(at("database", build_database(cloud.database, enforcer, validator)))
    if cloud.orchestration is not None:
        from stratus.orchestration.app import build as build_heat

        mounts.append(at("orchestration", build_heat(cloud.orchestration, enforcer, validator)))
    if cloud.objectstore is not None:
        mounts.extend(_swift_mounts(cloud))
    return mounts


def _compute_mounts(
    cfg: Config, compute: ComputeService, enforcer: Enforcer, validator: TokenValidator
) -> list[Any]:
    from stratus.compute.api.metadata_server import MetadataServer
    from stratus.network.agent.runner import metadata_secret

    metadata = MetadataServer(compute, lambda: metadata_secret(cfg))
    prefix = SERVICES["compute"].prefix
    return [
        # Before compute's own mount, which would take the path.
        Mount(prefix + "/metadata", metadata.app()),
        Mount(prefix, compute_app.build(compute, enforcer, validator)),
    ]


def _swift_mounts(cloud: Services) -> list[Any]:
    from stratus.objectstore.app import AtRoot, cors_policy, sync_realms
    from stratus.objectstore.app import build as build_objectstore

    swift = build_objectstore(
        cloud.objectstore,
        cloud.enforcer,
        NotingValidator(cloud.validator),
        cors_policy(cloud.cfg),
        sync_realms(cloud.cfg),
    )
    return [
        Mount(SERVICES["object-store"].prefix, swift),
        # Where Swift's tools look: /v1/<account>... (the catalog's) and /info.
        Mount("/v1", AtRoot(swift)),
        Mount("/v1.0", AtRoot(swift)),
        Route("/info", AtRoot(swift)),
    ]


def services_by_segment() -> dict[str, str]:
    """The service each first path segment belongs to (metrics' labels)."""
    out = {info.prefix.strip("/"): name for name, info in SERVICES.items()}
    out.update({"metrics": "metrics", "": "root"})
    out.update({"v1": "object-store", "v1.0": "object-store", "info": "object-store"})
    return out


def _s3_refusal(request: Request) -> Response:
    return s3_error("NotImplemented", "This cloud does not serve the S3 API (yet).", 501, request)


def not_found(cfg: Config, request: Request) -> Response:
    """A path no service serves: S3's XML error to an S3 client, else
    Keystone's format naming what this cloud serves."""
    if is_s3(request):
        return _s3_refusal(request)
    segment = request.url.path.strip("/").split("/", 1)[0]
    named = [n for n, info in SERVICES.items() if info.prefix.strip("/") == segment]
    if named and named[0] not in cfg.services.enabled:
        message = f"The {named[0]} service is not enabled in this cloud."
    else:
        served = ", ".join(SERVICES[n].prefix for n in cfg.services.enabled if n in SERVICES)
        message = f"No service at /{segment}: this cloud serves {served}."
    return json_response({"error": {"code": 404, "title": "Not Found", "message": message}}, 404)


def root(cfg: Config, request: Request) -> Response:
    """The cloud's root: the endpoint of every enabled service."""
    if is_s3(request):
        return _s3_refusal(request)
    return json_response(
        {
            "services": {
                name: SERVICES[name].endpoint_url(cfg.public_url)
                for name in cfg.services.enabled
                if name in SERVICES
            }
        }
    )


_SWIFT_PREFIX = SERVICES["object-store"].prefix.encode()
_SWIFT_LEVELS = ("/v1/{account}", "/v1/{account}/{container}", "/v1/{account}/{container}/{object}")


def swift_route(scope: Any) -> str | None:
    """The object store's route template (its Swift paths: account,
    container or object; /info, /healthcheck), from the raw path."""
    raw: bytes = scope.get("raw_path") or str(scope["path"]).encode()
    raw = raw.split(b"?", 1)[0]
    if raw.startswith(_SWIFT_PREFIX):
        raw = raw[len(_SWIFT_PREFIX) :]
    if raw in (b"/info", b"/healthcheck", b"/crossdomain.xml"):
        return raw.decode()
    parts = [p for p in raw[1:].split(b"/", 3) if p]
    if len(parts) < 2 or parts[0] not in (b"v1", b"v1.0"):
        return None
    return _SWIFT_LEVELS[len(parts) - 2]
