"""database: per-project quotas (/mgmt/quotas)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 04:20:00.000000
"""

import sqlalchemy as sa
from alembic import op

import stratus.common.db

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "database_quota",
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.Column("resource", sa.String(length=32), nullable=False),
        sa.Column("hard_limit", sa.Integer(), nullable=False),
        sa.Column("updated_at", stratus.common.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("project_id", "resource", name=op.f("pk_database_quota")),
    )


def downgrade() -> None:
    op.drop_table("database_quota")
