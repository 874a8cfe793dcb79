"""compute: external events about servers (os-server-external-events)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 04:05:00.000000
"""

import sqlalchemy as sa
from alembic import op

import stratus.common.db

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "compute_server_event",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("server_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("tag", sa.String(length=255), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", stratus.common.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_compute_server_event")),
    )
    with op.batch_alter_table("compute_server_event", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_compute_server_event_server_id"), ["server_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("compute_server_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_compute_server_event_server_id"))
    op.drop_table("compute_server_event")
