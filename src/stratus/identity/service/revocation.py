"""Recording token revocations."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from stratus.common.db import utcnow
from stratus.identity import models as m
from stratus.identity.service.core import Core


async def _record(core: Core, session: AsyncSession, event: m.RevocationEvent) -> None:
    session.add(event)
    await session.flush()
    # Known here at once; other processes learn it at their next sync.
    core.state.revocations.add(event)


async def revoke_user(core: Core, session: AsyncSession, user_id: str) -> None:
    """Revoke every token the user holds now."""
    now = utcnow()
    expiry = now + timedelta(seconds=core.cfg.identity.token_expiration)
    await _record(
        core, session, m.RevocationEvent(user_id=user_id, issued_before=now, expires_at=expiry)
    )


async def revoke_audit_id(
    core: Core, session: AsyncSession, audit_id: str, expires_at: float
) -> None:
    """Revoke one token (and the tokens re-scoped from it) by audit id."""
    from stratus.identity.service.state import from_timestamp

    await _record(
        core,
        session,
        m.RevocationEvent(
            audit_id=audit_id, issued_before=utcnow(), expires_at=from_timestamp(expires_at)
        ),
    )
