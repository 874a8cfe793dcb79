"""database: incremental backups (what the datastore's tool needs of a
parent, ``meta``) and instance logs (``database_log``)

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-07 03:10:00.000000
"""

import sqlalchemy as sa
from alembic import op

import stratus.common.db

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("database_backup") as batch:
        batch.add_column(sa.Column("meta", sa.JSON(), nullable=True))
        batch.create_index("ix_database_backup_parent_id", ["parent_id"])
    op.create_table(
        "database_log",
        sa.Column("instance_id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("published", sa.BigInteger(), nullable=False),
        sa.Column("pending", sa.BigInteger(), nullable=False),
        sa.Column("parts", sa.Integer(), nullable=False),
        sa.Column("wanted", sa.String(64), nullable=True),
        sa.Column("serial", sa.Integer(), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("fault", sa.Text(), nullable=True),
        sa.Column("updated_at", stratus.common.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["instance_id"], ["database_instance.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("instance_id", "name"),
    )


def downgrade() -> None:
    op.drop_table("database_log")
    with op.batch_alter_table("database_backup") as batch:
        batch.drop_index("ix_database_backup_parent_id")
        batch.drop_column("meta")
