"""The identity service layer: one facade over its parts."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging

from stratus.common.config import Config
from stratus.common.context import RequestContext
from stratus.common.db import Database
from stratus.identity.service.assignments import Assignments
from stratus.identity.service.auth import Auth
from stratus.identity.service.bootstrap import bootstrap
from stratus.identity.service.catalog import Catalog
from stratus.identity.service.core import Core
from stratus.identity.service.credential_store import CredentialStore
from stratus.identity.service.credentials import Credentials
from stratus.identity.service.domain_configs import DomainConfigs
from stratus.identity.service.endpoint_filter import EndpointFilter
from stratus.identity.service.grants import Grants
from stratus.identity.service.limits import Limits
from stratus.identity.service.policy_store import PolicyStore
from stratus.identity.service.projects import Projects
from stratus.identity.service.roles import Roles
from stratus.identity.service.trusts import Trusts
from stratus.identity.service.users import Users

log = logging.getLogger(__name__)

PURGE_EVERY = 600.0


class IdentityService:
    def __init__(self, cfg: Config, db: Database):
        self.core = Core(cfg, db)
        self.projects = Projects(self.core)
        self.users = Users(self.core)
        self.roles = Roles(self.core)
        self.grants = Grants(self.core, self.roles)
        self.assignments = Assignments(self.core, self.roles)
        self.endpoint_filter = EndpointFilter(self.core)
        self.catalog = Catalog(self.core, self.endpoint_filter)
        self.policies = PolicyStore(self.core)
        self.domain_configs = DomainConfigs(self.core)
        self.credentials = Credentials(self.core)
        self.stored_credentials = CredentialStore(self.core)
        self.limits = Limits(self.core)
        self.trusts = Trusts(self.core, self.roles)
        self.auth = Auth(self.core, self.roles, self.catalog, self.trusts)
        self._sync_task: asyncio.Task[None] | None = None

    async def start(self, *, bootstrap_cloud: bool = True) -> None:
        if bootstrap_cloud:
            await bootstrap(self.core)
        await self.core.state.sync(self.core.db)
        self._sync_task = asyncio.create_task(self._sync_loop(), name="identity-sync")

    async def _sync_loop(self) -> None:
        interval = self.core.cfg.identity.sync_interval
        since_purge = 0.0
        while True:
            await asyncio.sleep(interval)
            try:
                await self.core.state.sync(self.core.db)
                since_purge += interval
                if since_purge >= PURGE_EVERY:
                    since_purge = 0.0
                    await self.core.state.purge_expired(self.core.db)
            except Exception:
                log.exception("identity: sync with the database failed; retrying")

    async def stop(self) -> None:
        if self._sync_task is not None:
            self._sync_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sync_task
        self.core.hasher.close()

    @functools.cached_property
    def shared(self) -> bool:
        """Whether other processes may change identity data under this one
        (several API workers, or a database other servers use). Asked on every
        token validation, so worked out once: the configuration is fixed."""
        cfg = self.core.cfg
        return cfg.server_workers > 1 or not cfg.database_url.startswith("sqlite")

    async def catch_up(self) -> None:
        """Read what other processes changed (revocations, roles) now rather
        than at the next sync: before an answer that must be exact, as the
        identity API's own validation of a token is (a token revoked through
        another worker is gone at once, as in Keystone)."""
        if self.shared:
            await self.core.state.sync(self.core.db)

    async def validate(self, token: str, request_id: str) -> RequestContext:
        """The local token validator every service's middleware may use."""
        return await self.auth.context(token, request_id)
