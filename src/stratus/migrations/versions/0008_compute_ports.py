"""compute ports: the network service's ports each server holds

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 23:59:00.000000
"""

import sqlalchemy as sa
from alembic import op

import stratus.common.db

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "compute_server_port",
        sa.Column("server_id", sa.String(length=36), nullable=False),
        sa.Column("port_id", sa.String(length=36), nullable=False),
        sa.Column("network_id", sa.String(length=36), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("preserve_on_delete", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("tag", sa.String(length=60), nullable=True),
        sa.Column("created_at", stratus.common.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("server_id", "port_id", name=op.f("pk_compute_server_port")),
    )
    with op.batch_alter_table("compute_server_port", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_compute_server_port_port_id"), ["port_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("compute_server_port", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_compute_server_port_port_id"))
    op.drop_table("compute_server_port")
