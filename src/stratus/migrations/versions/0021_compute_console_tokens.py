"""compute: one-time tokens of the servers' serial consoles

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-06 20:10:00.000000
"""

import sqlalchemy as sa
from alembic import op

from stratus.common.db import UTCDateTime

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "compute_console_token",
        sa.Column("token_hash", sa.String(length=64), primary_key=True),
        sa.Column("server_id", sa.String(length=36), nullable=False, index=True),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("protocol", sa.String(length=16), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False, index=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("compute_console_token")
