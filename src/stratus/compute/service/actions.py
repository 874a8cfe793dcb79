"""Instance actions and their events (``openstack server event list``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from stratus.common.db import Database, utcnow
from stratus.common.wakeups import Wakeups
from stratus.compute import models as m

# Rung with a server's id when an agent of this process has recorded the
# outcome of its task: an API call waiting for it looks at once.
FINISHED = Wakeups()


def start_action(
    s: AsyncSession,
    server_id: str,
    action: str,
    request_id: str,
    user_id: str | None,
    project_id: str | None,
) -> m.InstanceAction:
    row = m.InstanceAction(
        server_id=server_id,
        action=action,
        request_id=request_id,
        user_id=user_id,
        project_id=project_id,
    )
    s.add(row)
    return row


class Actions:
    def __init__(self, db: Database):
        self.db = db

    async def list_actions(self, server_id: str) -> list[m.InstanceAction]:
        async with self.db.session() as s:
            stmt = select(m.InstanceAction).where(m.InstanceAction.server_id == server_id)
            return list(
                (
                    await s.scalars(
                        stmt.order_by(
                            m.InstanceAction.start_time.desc(), m.InstanceAction.id.desc()
                        )
                    )
                ).all()
            )

    async def get(
        self, server_id: str, request_id: str
    ) -> tuple[m.InstanceAction, list[m.InstanceActionEvent]] | None:
        async with self.db.session() as s:
            action = await s.scalar(
                select(m.InstanceAction).where(
                    m.InstanceAction.server_id == server_id,
                    m.InstanceAction.request_id == request_id,
                )
            )
            if action is None:
                return None
            events = (
                await s.scalars(
                    select(m.InstanceActionEvent).where(
                        m.InstanceActionEvent.action_id == action.id
                    )
                )
            ).all()
        return action, list(events)

    async def request_id(self, server_id: str) -> str | None:
        """The id of the request behind the server's newest action: the API
        records the action with the task, so it names who asked for the
        work an agent is doing."""
        async with self.db.session() as s:
            found = await s.scalar(
                select(m.InstanceAction.request_id)
                .where(m.InstanceAction.server_id == server_id)
                .order_by(m.InstanceAction.id.desc())
                .limit(1)
            )
        return str(found) if found else None

    async def event(
        self, server_id: str, event: str, host: str | None, result: str, details: str | None = None
    ) -> None:
        """Record an agent's step on the server's newest unfinished action."""
        async with self.db.transaction() as s:
            await add_agent_event(s, server_id, event, host, result, details)


async def add_agent_event(
    s: AsyncSession,
    server_id: str,
    event: str,
    host: str | None,
    result: str,
    details: str | None = None,
) -> None:
    """An agent's step on the server's newest unfinished action, which it
    finishes (an Error marks the action so)."""
    action = await s.scalar(
        select(m.InstanceAction)
        .where(m.InstanceAction.server_id == server_id, m.InstanceAction.finish_time.is_(None))
        .order_by(m.InstanceAction.id.desc())
        .limit(1)
    )
    if action is None:
        return
    action.finish_time = add_event(s, action, event, host, result, details)
    if result == "Error":
        action.message = "Error"


def add_event(
    s: AsyncSession,
    action: m.InstanceAction,
    event: str,
    host: str | None,
    result: str,
    details: str | None,
) -> datetime:
    """One finished step (``server event show``) of ``action``; its time."""
    now = utcnow()
    s.add(
        m.InstanceActionEvent(
            action_id=action.id,
            event=event,
            result=result,
            host=host,
            details=details,
            start_time=now,
            finish_time=now,
        )
    )
    return now
