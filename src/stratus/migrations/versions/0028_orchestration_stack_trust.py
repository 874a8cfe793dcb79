"""orchestration: the trust a stack's engine acts with (orchestration_stack.trust_id)

Revision ID: 0028
Revises: 0027
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("orchestration_stack") as batch:
        batch.add_column(sa.Column("trust_id", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("orchestration_stack") as batch:
        batch.drop_column("trust_id")
