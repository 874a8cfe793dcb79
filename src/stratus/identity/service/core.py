"""What every identity service module shares: configuration, database,
keys, hashing and the in-memory state."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from stratus.common.config import Config
from stratus.common.db import Database
from stratus.identity.errors import Conflict
from stratus.identity.service.keys import KeyRepository
from stratus.identity.service.passwords import Hasher
from stratus.identity.service.state import State
from stratus.identity.service.tokens import TokenFormatter


class Core:
    def __init__(self, cfg: Config, db: Database):
        self.cfg = cfg
        self.db = db
        self.keys = KeyRepository(cfg.data_dir / "fernet-keys", cfg.identity.max_active_keys)
        self.keys.ensure()
        self.tokens = TokenFormatter(self.keys.load())
        # Stored credentials' blobs are encrypted with keys of their own, as
        # Keystone's credential repository (copy it with fernet-keys).
        self.credential_keys = KeyRepository(cfg.data_dir / "credential-keys", 3)
        self.credential_keys.ensure()
        self.hasher = Hasher(cfg.identity)
        self.state = State()

    def reload_keys(self) -> None:
        self.tokens = TokenFormatter(self.keys.load())

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """A transaction that changes identity data.

        It first locks the shared generation row, so identity writes run one
        at a time (read-check-write stays consistent on PostgreSQL too), and
        caches everywhere are dropped once it commits.  A uniqueness race lost
        anyway is a 409, never a 500."""
        try:
            async with self.db.transaction() as session:
                await self.state.bump(session)
                yield session
        except IntegrityError as exc:
            raise Conflict("The request conflicts with data stored meanwhile; try again.") from exc
        finally:
            self.state.invalidate()

    @property
    def list_limit(self) -> int:
        return self.cfg.identity.list_limit
