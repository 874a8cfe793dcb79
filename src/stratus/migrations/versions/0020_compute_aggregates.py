"""compute: host aggregates (os-aggregates) and quota classes (os-quota-class-sets)

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06 20:10:00.000000
"""

import sqlalchemy as sa
from alembic import op

import stratus.common.db

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "compute_aggregate",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("created_at", stratus.common.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", stratus.common.db.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_compute_aggregate")),
        sa.UniqueConstraint("name", name=op.f("uq_compute_aggregate_name")),
        sa.UniqueConstraint("uuid", name=op.f("uq_compute_aggregate_uuid")),
    )
    op.create_table(
        "compute_aggregate_host",
        sa.Column("aggregate_id", sa.Integer(), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(
            ["aggregate_id"],
            ["compute_aggregate.id"],
            name=op.f("fk_compute_aggregate_host_aggregate_id_compute_aggregate"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("aggregate_id", "host", name=op.f("pk_compute_aggregate_host")),
    )
    with op.batch_alter_table("compute_aggregate_host", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_compute_aggregate_host_host"), ["host"], unique=False)
    op.create_table(
        "compute_quota_class",
        sa.Column("class_name", sa.String(length=255), nullable=False),
        sa.Column("resource", sa.String(length=64), nullable=False),
        sa.Column("hard_limit", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("class_name", "resource", name=op.f("pk_compute_quota_class")),
    )


def downgrade() -> None:
    op.drop_table("compute_quota_class")
    with op.batch_alter_table("compute_aggregate_host", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_compute_aggregate_host_host"))
    op.drop_table("compute_aggregate_host")
    op.drop_table("compute_aggregate")
