"""conformance: identity credentials (/v3/credentials, OS-EC2)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 00:20:00.000000
"""

import sqlalchemy as sa
from alembic import op

import stratus.common.db

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "identity_credential",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("project_id", sa.String(length=64), nullable=True),
        sa.Column("type", sa.String(length=255), nullable=False),
        sa.Column("encrypted_blob", sa.Text(), nullable=False),
        sa.Column("extra", sa.JSON(), nullable=False),
        sa.Column("created_at", stratus.common.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["identity_project.id"],
            name=op.f("fk_identity_credential_project_id_identity_project"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["identity_user.id"],
            name=op.f("fk_identity_credential_user_id_identity_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_credential")),
    )
    with op.batch_alter_table("identity_credential", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_identity_credential_project_id"), ["project_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_identity_credential_user_id"), ["user_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("identity_credential", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_identity_credential_user_id"))
        batch_op.drop_index(batch_op.f("ix_identity_credential_project_id"))
    op.drop_table("identity_credential")
