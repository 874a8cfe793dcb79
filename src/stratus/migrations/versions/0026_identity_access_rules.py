"""identity: application credentials' access rules

Revision ID: 0026
Revises: 0024
Create Date: 2026-12-07 00:10:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0026"
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "identity_access_rule",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("service", sa.String(length=64), nullable=False),
        sa.Column("path", sa.String(length=255), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["identity_user.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("user_id", "service", "path", "method"),
    )
    op.create_index("ix_identity_access_rule_user_id", "identity_access_rule", ["user_id"])
    op.create_table(
        "identity_app_cred_access_rule",
        sa.Column("application_credential_id", sa.String(length=64), nullable=False),
        sa.Column("access_rule_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["application_credential_id"],
            ["identity_application_credential.id"],
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(["access_rule_id"], ["identity_access_rule.id"]),
        sa.PrimaryKeyConstraint("application_credential_id", "access_rule_id"),
    )
    op.create_index(
        "ix_identity_app_cred_access_rule_access_rule_id",
        "identity_app_cred_access_rule",
        ["access_rule_id"],
    )


def downgrade() -> None:
    op.drop_index(
        "ix_identity_app_cred_access_rule_access_rule_id", "identity_app_cred_access_rule"
    )
    op.drop_table("identity_app_cred_access_rule")
    op.drop_index("ix_identity_access_rule_user_id", "identity_access_rule")
    op.drop_table("identity_access_rule")
