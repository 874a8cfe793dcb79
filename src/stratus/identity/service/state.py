"""What an identity process keeps in memory: the revocation list and caches
of resolved identities, dropped whenever identity data changes.

Changes made in this process drop the caches at once.  Changes made by other
processes sharing the database are seen by ``sync``, which runs every
``[identity] sync_interval`` seconds: it reads the shared generation counter and
the revocation events added since the last look.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from stratus.common.db import Database, utcnow
from stratus.identity.models import IdentityState, RevocationEvent
from stratus.identity.service.tokens import TokenPayload

log = logging.getLogger(__name__)


class Revocations:
    def __init__(self) -> None:
        self.by_audit: set[str] = set()
        self.by_user: dict[str, float] = {}  # user id -> revoke tokens issued before
        self.last_id = 0

    def add(self, event: RevocationEvent) -> None:
        self.last_id = max(self.last_id, event.id or 0)
        if event.audit_id:
            self.by_audit.add(event.audit_id)
        if event.user_id:
            before = event.issued_before.timestamp()
            if before > self.by_user.get(event.user_id, 0.0):
                self.by_user[event.user_id] = before

    def revoked(self, p: TokenPayload) -> bool:
        if self.by_audit and any(a in self.by_audit for a in p.audit_ids):
            return True
        before = self.by_user.get(p.user_id)
        return before is not None and p.issued_at <= before


class State:
    def __init__(self) -> None:
        self.revocations = Revocations()
        self.generation = -1  # the shared counter as last seen
        self.caches: dict[str, dict[Any, Any]] = {}

    def cache(self, name: str) -> dict[Any, Any]:
        return self.caches.setdefault(name, {})

    def invalidate(self) -> None:
        for cache in self.caches.values():
            cache.clear()

    async def bump(self, session: AsyncSession) -> None:
        """Record an identity change in the open transaction."""
        row = await session.get(IdentityState, 1, with_for_update=True)
        if row is None:
            session.add(IdentityState(id=1, generation=1))
        else:
            row.generation += 1

    async def sync(self, db: Database) -> None:
        async with db.session() as session:
            generation = await session.scalar(
                select(IdentityState.generation).where(IdentityState.id == 1)
            )
            events = (
                await session.scalars(
                    select(RevocationEvent)
                    .where(RevocationEvent.id > self.revocations.last_id)
                    .order_by(RevocationEvent.id)
                )
            ).all()
        for event in events:
            self.revocations.add(event)
        generation = generation or 0
        if generation != self.generation:
            if self.generation != -1:
                log.debug(
                    "identity: generation %d -> %d, caches dropped", self.generation, generation
                )
            self.invalidate()
            self.generation = generation

    async def purge_expired(self, db: Database) -> int:
        async with db.transaction() as session:
            result = await session.execute(
                delete(RevocationEvent).where(RevocationEvent.expires_at < utcnow())
            )
        return int(getattr(result, "rowcount", 0) or 0)


def from_timestamp(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)
