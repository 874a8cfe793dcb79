"""compute: the servers' access addresses (accessIPv4, accessIPv6)

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06 04:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("compute_server", schema=None) as batch_op:
        batch_op.add_column(sa.Column("access_ip_v4", sa.String(length=15), nullable=True))
        batch_op.add_column(sa.Column("access_ip_v6", sa.String(length=39), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("compute_server", schema=None) as batch_op:
        batch_op.drop_column("access_ip_v6")
        batch_op.drop_column("access_ip_v4")
