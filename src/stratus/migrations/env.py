"""Alembic environment: migrations run on the connection Stratus hands over."""

from __future__ import annotations

from alembic import context

import stratus.models  # noqa: F401  (registers every service's tables)
from stratus.common.db import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through 'stratus db upgrade' or 'stratus up'")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
