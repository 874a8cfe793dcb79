"""compute volumes: the volumes attached to servers

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 00:00:00
"""

import sqlalchemy as sa
from alembic import op

import stratus.common.db

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "compute_volume_attachment",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("server_id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.Column("volume_id", sa.String(length=36), nullable=False),
        sa.Column("device", sa.String(length=64), nullable=False),
        sa.Column("tag", sa.String(length=255), nullable=True),
        sa.Column("boot_index", sa.Integer(), nullable=True),
        sa.Column("delete_on_termination", sa.Boolean(), nullable=False),
        sa.Column("source_type", sa.String(length=16), nullable=False),
        sa.Column("source_id", sa.String(length=36), nullable=True),
        sa.Column("volume_size", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attachment_id", sa.String(length=36), nullable=True),
        sa.Column("connection_info", sa.JSON(), nullable=True),
        sa.Column("created_at", stratus.common.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", stratus.common.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_compute_volume_attachment")),
        sa.UniqueConstraint(
            "server_id", "volume_id", name=op.f("uq_compute_volume_attachment_server_id")
        ),
    )
    with op.batch_alter_table("compute_volume_attachment", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_compute_volume_attachment_server_id"), ["server_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_compute_volume_attachment_volume_id"), ["volume_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("compute_volume_attachment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_compute_volume_attachment_volume_id"))
        batch_op.drop_index(batch_op.f("ix_compute_volume_attachment_server_id"))
    op.drop_table("compute_volume_attachment")
