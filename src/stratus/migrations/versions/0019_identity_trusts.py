"""identity: trusts (OS-TRUST), endpoint groups and project endpoints
(OS-EP-FILTER), policies, domain configurations

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06 20:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

import stratus.common.db

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "identity_trust",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("trustor_user_id", sa.String(length=64), nullable=False),
        sa.Column("trustee_user_id", sa.String(length=64), nullable=False),
        sa.Column("project_id", sa.String(length=64), nullable=True),
        sa.Column("impersonation", sa.Boolean(), nullable=False),
        sa.Column("expires_at", stratus.common.db.UTCDateTime(), nullable=True),
        sa.Column("remaining_uses", sa.Integer(), nullable=True),
        sa.Column("role_ids", sa.JSON(), nullable=False),
        sa.Column("extra", sa.JSON(), nullable=False),
        sa.Column("created_at", stratus.common.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["trustor_user_id"], ["identity_user.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["trustee_user_id"], ["identity_user.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["project_id"], ["identity_project.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    for col in ("trustor_user_id", "trustee_user_id", "project_id"):
        op.create_index(f"ix_identity_trust_{col}", "identity_trust", [col])
    op.create_table(
        "identity_endpoint_group",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("filters", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "identity_project_endpoint_group",
        sa.Column("endpoint_group_id", sa.String(length=64), nullable=False),
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["endpoint_group_id"], ["identity_endpoint_group.id"], ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["project_id"], ["identity_project.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("endpoint_group_id", "project_id"),
    )
    op.create_index(
        "ix_identity_project_endpoint_group_project_id",
        "identity_project_endpoint_group",
        ["project_id"],
    )
    op.create_table(
        "identity_project_endpoint",
        sa.Column("endpoint_id", sa.String(length=64), nullable=False),
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["endpoint_id"], ["identity_endpoint.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["project_id"], ["identity_project.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("endpoint_id", "project_id"),
    )
    op.create_index(
        "ix_identity_project_endpoint_project_id", "identity_project_endpoint", ["project_id"]
    )
    op.create_table(
        "identity_policy",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("type", sa.String(length=255), nullable=False),
        sa.Column("blob", sa.Text(), nullable=False),
        sa.Column("extra", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "identity_domain_config",
        sa.Column("domain_id", sa.String(length=64), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("sensitive", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["domain_id"], ["identity_domain.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("domain_id"),
    )


def downgrade() -> None:
    op.drop_table("identity_domain_config")
    op.drop_table("identity_policy")
    op.drop_index("ix_identity_project_endpoint_project_id", "identity_project_endpoint")
    op.drop_table("identity_project_endpoint")
    op.drop_index(
        "ix_identity_project_endpoint_group_project_id", "identity_project_endpoint_group"
    )
    op.drop_table("identity_project_endpoint_group")
    op.drop_table("identity_endpoint_group")
    for col in ("trustor_user_id", "trustee_user_id", "project_id"):
        op.drop_index(f"ix_identity_trust_{col}", "identity_trust")
    op.drop_table("identity_trust")
