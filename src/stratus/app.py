"""The all-in-one: every enabled service in one ASGI app under its prefix."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route

from stratus.common.api import TokenValidator, json_response
from stratus.common.auth import RemoteValidator
from stratus.common.config import Config
from stratus.common.db import Database
from stratus.common.middleware import RequestIdMiddleware
from stratus.common.policy import Enforcer
from stratus.identity import app as identity_app
from stratus.identity import policies as identity_policies
from stratus.identity.service import IdentityService
from stratus.image import app as image_app
from stratus.image import policies as image_policies
from stratus.image.service import ImageService
from stratus.registry import SERVICES

log = logging.getLogger(__name__)


class Cloud:
    """The services of one process, their shared database and policy."""

    def __init__(self, cfg: Config):
        self.cfg = cfg
        self.db = Database(cfg.database_url, echo=cfg.database.echo)
        self.enforcer = Enforcer.from_file(
            {**identity_policies.RULES, **image_policies.RULES}, cfg.data_path(cfg.policy.file)
        )
        self.identity = IdentityService(cfg, self.db)
        self.image: ImageService | None = None
        if "image" in cfg.services.enabled:
            self.image = ImageService(cfg, self.db, limits=self._image_limit)
        self.remote: RemoteValidator | None = None
        if cfg.auth.mode == "remote":
            self.remote = RemoteValidator(cfg.auth)

    async def _image_limit(self, project_id: str, resource: str) -> int | None:
        return await self.identity.limits.effective(project_id, "image", resource)

    @property
    def validator(self) -> TokenValidator:
        return self.remote or self.identity

    async def start(self) -> None:
        await self.db.migrate()
        await self.identity.start()
        if self.image is not None:
            await self.image.start()

    async def stop(self) -> None:
        if self.image is not None:
            await self.image.stop()
        await self.identity.stop()
        if self.remote is not None:
            await self.remote.close()
        await self.db.close()

    def asgi(self) -> Any:
        mounts: list[Any] = [Route("/", self._root, methods=["GET"])]
        if "identity" in self.cfg.services.enabled:
            mounts.append(
                Mount(SERVICES["identity"].prefix, identity_app.build(self.identity, self.enforcer))
            )
        if self.image is not None:
            mounts.append(
                Mount(
                    SERVICES["image"].prefix,
                    image_app.build(self.image, self.enforcer, self.validator),
                )
            )

        @asynccontextmanager
        async def lifespan(_app: Starlette) -> AsyncIterator[None]:
            await self.start()
            try:
                yield
            finally:
                await self.stop()

        async def not_found(request: Request, exc: Exception) -> Response:
            return json_response(
                {"error": {"code": 404, "title": "Not Found", "message": "No service here."}}, 404
            )

        app = Starlette(routes=mounts, lifespan=lifespan, exception_handlers={404: not_found})
        return RequestIdMiddleware(app)

    async def _root(self, request: Request) -> Response:
        return json_response(
            {
                "services": {
                    name: SERVICES[name].endpoint_url(self.cfg.public_url)
                    for name in self.cfg.services.enabled
                    if name in SERVICES
                }
            }
        )
