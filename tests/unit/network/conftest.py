"""A network service over a fresh SQLite database, bootstrapped (the
``public`` network and the default subnet pool), for the unit tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import stratus.models  # noqa: F401  (every table)
from stratus.common.config import load
from stratus.common.context import RequestContext
from stratus.common.db import Base, Database
from stratus.network.service import NetworkService


def context(project: str, *, admin: bool = False) -> RequestContext:
    roles = ("admin", "member", "reader") if admin else ("member", "reader")
    return RequestContext(
        request_id="req-test", user_id="u-" + project, project_id=project, roles=roles
    )


@pytest.fixture
async def network(tmp_path: Path) -> AsyncIterator[NetworkService]:
    cfg = load(tmp_path, {"network": {"host": "nethost"}}, environ={})
    db = Database(cfg.database_url)
    async with db.engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    service = NetworkService(cfg, db)
    await service.start()
    yield service
    await service.stop()
    await db.close()
