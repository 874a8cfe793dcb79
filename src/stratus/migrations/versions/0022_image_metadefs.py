"""image: metadata definitions (namespaces, resource type associations,
objects, properties, tags)

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-06 20:10:00.000000
"""

import sqlalchemy as sa
from alembic import op

import stratus.common.db

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

NS = "image_metadef_namespace"


def _times() -> list[sa.Column]:
    return [
        sa.Column("created_at", stratus.common.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", stratus.common.db.UTCDateTime(), nullable=False),
    ]


def _child(table: str, *columns: sa.Column, name_length: int) -> None:
    op.create_table(
        table,
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("namespace_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=name_length), nullable=False),
        *columns,
        *_times(),
        sa.ForeignKeyConstraint(
            ["namespace_id"],
            [f"{NS}.id"],
            name=op.f(f"fk_{table}_namespace_id_{NS}"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
        sa.UniqueConstraint("namespace_id", "name", name=op.f(f"uq_{table}_namespace_id")),
    )
    with op.batch_alter_table(table, schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f(f"ix_{table}_namespace_id"), ["namespace_id"], unique=False
        )


def upgrade() -> None:
    op.create_table(
        NS,
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("namespace", sa.String(length=80), nullable=False),
        sa.Column("display_name", sa.String(length=80), nullable=True),
        sa.Column("description", sa.String(length=500), nullable=True),
        sa.Column("visibility", sa.String(length=32), nullable=False),
        sa.Column("protected", sa.Boolean(), nullable=False),
        sa.Column("owner", sa.String(length=255), nullable=True),
        *_times(),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{NS}")),
        sa.UniqueConstraint("namespace", name=op.f(f"uq_{NS}_namespace")),
    )
    with op.batch_alter_table(NS, schema=None) as batch_op:
        batch_op.create_index(batch_op.f(f"ix_{NS}_owner"), ["owner"], unique=False)
    op.create_table(
        "image_metadef_resource_type",
        sa.Column("namespace_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("prefix", sa.String(length=80), nullable=True),
        sa.Column("properties_target", sa.String(length=80), nullable=True),
        *_times(),
        sa.ForeignKeyConstraint(
            ["namespace_id"],
            [f"{NS}.id"],
            name=op.f(f"fk_image_metadef_resource_type_namespace_id_{NS}"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "namespace_id", "name", name=op.f("pk_image_metadef_resource_type")
        ),
    )
    _child(
        "image_metadef_object",
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("required", sa.JSON(), nullable=False),
        sa.Column("properties", sa.JSON(), nullable=False),
        name_length=80,
    )
    _child(
        "image_metadef_property",
        sa.Column("schema", sa.JSON(), nullable=False),
        name_length=255,
    )
    _child("image_metadef_tag", name_length=255)


def downgrade() -> None:
    for table in ("image_metadef_tag", "image_metadef_property", "image_metadef_object"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(batch_op.f(f"ix_{table}_namespace_id"))
        op.drop_table(table)
    op.drop_table("image_metadef_resource_type")
    with op.batch_alter_table(NS, schema=None) as batch_op:
        batch_op.drop_index(batch_op.f(f"ix_{NS}_owner"))
    op.drop_table(NS)
