"""loadbalancer: flavor profiles and flavors

Revision ID: 0016
Revises: 0014
Create Date: 2026-12-06 04:20:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "lb_flavor_profile",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("provider_name", sa.String(length=64), nullable=False),
        sa.Column("flavor_data", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lb_flavor_profile")),
    )
    op.create_table(
        "lb_flavor",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.String(length=255), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("flavor_profile_id", sa.String(length=36), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lb_flavor")),
        sa.UniqueConstraint("name", name=op.f("uq_lb_flavor_name")),
    )
    op.create_index(
        op.f("ix_lb_flavor_flavor_profile_id"), "lb_flavor", ["flavor_profile_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_lb_flavor_flavor_profile_id"), table_name="lb_flavor")
    op.drop_table("lb_flavor")
    op.drop_table("lb_flavor_profile")
