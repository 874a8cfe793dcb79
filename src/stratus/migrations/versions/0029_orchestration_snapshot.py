"""orchestration: stack snapshots (orchestration_snapshot)

Revision ID: 0029
Revises: 0028
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import stratus.common.db

revision = "0029"
down_revision = "0028"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "orchestration_snapshot",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("stack_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("status_reason", sa.Text(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("created_at", stratus.common.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["stack_id"],
            ["orchestration_stack.id"],
            name=op.f("fk_orchestration_snapshot_stack_id_orchestration_stack"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orchestration_snapshot")),
    )
    with op.batch_alter_table("orchestration_snapshot", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_orchestration_snapshot_stack_id"), ["stack_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("orchestration_snapshot", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_orchestration_snapshot_stack_id"))
    op.drop_table("orchestration_snapshot")
