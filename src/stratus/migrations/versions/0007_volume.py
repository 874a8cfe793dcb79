"""volume

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05 16:21:16.559213
"""

import sqlalchemy as sa
from alembic import op

import stratus.common.db

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "volume_attachment",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("volume_id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.Column("instance_uuid", sa.String(length=36), nullable=True),
        sa.Column("attached_host", sa.String(length=255), nullable=True),
        sa.Column("mountpoint", sa.String(length=255), nullable=True),
        sa.Column("attach_mode", sa.String(length=4), nullable=False),
        sa.Column("attach_status", sa.String(length=32), nullable=False),
        sa.Column("connector", sa.JSON(), nullable=True),
        sa.Column("connection_info", sa.JSON(), nullable=True),
        sa.Column("attach_time", stratus.common.db.UTCDateTime(), nullable=True),
        sa.Column("detach_time", stratus.common.db.UTCDateTime(), nullable=True),
        sa.Column("created_at", stratus.common.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", stratus.common.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_volume_attachment")),
    )
    with op.batch_alter_table("volume_attachment", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_volume_attachment_instance_uuid"), ["instance_uuid"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_volume_attachment_volume_id"), ["volume_id"], unique=False
        )

    op.create_table(
        "volume_backup",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("volume_id", sa.String(length=36), nullable=False),
        sa.Column("snapshot_id", sa.String(length=36), nullable=True),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("fail_reason", sa.Text(), nullable=True),
        sa.Column("availability_zone", sa.String(length=255), nullable=False),
        sa.Column("container", sa.String(length=255), nullable=True),
        sa.Column("host", sa.String(length=255), nullable=True),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("object_count", sa.Integer(), nullable=False),
        sa.Column("is_incremental", sa.Boolean(), nullable=False),
        sa.Column("parent_id", sa.String(length=36), nullable=True),
        sa.Column("service_metadata", sa.String(length=255), nullable=True),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("task", sa.String(length=32), nullable=True),
        sa.Column("task_args", sa.JSON(), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("data_timestamp", stratus.common.db.UTCDateTime(), nullable=False),
        sa.Column("created_at", stratus.common.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", stratus.common.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_volume_backup")),
    )
    with op.batch_alter_table("volume_backup", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_volume_backup_host"), ["host"], unique=False)
        batch_op.create_index(batch_op.f("ix_volume_backup_parent_id"), ["parent_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_volume_backup_project_id"), ["project_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_volume_backup_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_volume_backup_task"), ["task"], unique=False)
        batch_op.create_index(batch_op.f("ix_volume_backup_volume_id"), ["volume_id"], unique=False)

    op.create_table(
        "volume_host",
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("backend", sa.String(length=255), nullable=False),
        sa.Column("driver", sa.String(length=32), nullable=False),
        sa.Column("availability_zone", sa.String(length=255), nullable=False),
        sa.Column("capacity_gb", sa.Integer(), nullable=False),
        sa.Column("free_gb", sa.Integer(), nullable=False),
        sa.Column("capabilities", sa.JSON(), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("disabled_reason", sa.Text(), nullable=True),
        sa.Column("backup_disabled", sa.Boolean(), nullable=False),
        sa.Column("frozen", sa.Boolean(), nullable=False),
        sa.Column("heartbeat", stratus.common.db.UTCDateTime(), nullable=True),
        sa.Column("created_at", stratus.common.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", stratus.common.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("host", name=op.f("pk_volume_host")),
    )
    op.create_table(
        "volume_message",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.Column("resource_type", sa.String(length=32), nullable=False),
        sa.Column("resource_uuid", sa.String(length=36), nullable=True),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("message_level", sa.String(length=16), nullable=False),
        sa.Column("user_message", sa.Text(), nullable=False),
        sa.Column("created_at", stratus.common.db.UTCDateTime(), nullable=False),
        sa.Column("expires_at", stratus.common.db.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_volume_message")),
    )
    with op.batch_alter_table("volume_message", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_volume_message_project_id"), ["project_id"], unique=False
        )

    op.create_table(
        "volume_qos_specs",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("consumer", sa.String(length=16), nullable=False),
        sa.Column("specs", sa.JSON(), nullable=False),
        sa.Column("created_at", stratus.common.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_volume_qos_specs")),
        sa.UniqueConstraint("name", name=op.f("uq_volume_qos_specs_name")),
    )
    op.create_table(
        "volume_quota",
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.Column("resource", sa.String(length=255), nullable=False),
        sa.Column("hard_limit", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("project_id", "resource", name=op.f("pk_volume_quota")),
    )
    op.create_table(
        "volume_snapshot",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("volume_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("progress", sa.String(length=8), nullable=False),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("volume_type_id", sa.String(length=36), nullable=True),
        sa.Column("task", sa.String(length=32), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("consumes_quota", sa.Boolean(), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("created_at", stratus.common.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", stratus.common.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_volume_snapshot")),
    )
    with op.batch_alter_table("volume_snapshot", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_volume_snapshot_project_id"), ["project_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_volume_snapshot_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_volume_snapshot_task"), ["task"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_volume_snapshot_volume_id"), ["volume_id"], unique=False
        )

    op.create_table(
        "volume_transfer",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("volume_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.Column("salt", sa.String(length=64), nullable=False),
        sa.Column("crypt_hash", sa.String(length=255), nullable=False),
        sa.Column("no_snapshots", sa.Boolean(), nullable=False),
        sa.Column("created_at", stratus.common.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_volume_transfer")),
    )
    with op.batch_alter_table("volume_transfer", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_volume_transfer_project_id"), ["project_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_volume_transfer_volume_id"), ["volume_id"], unique=False
        )

    op.create_table(
        "volume_type",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("is_public", sa.Boolean(), nullable=False),
        sa.Column("extra_specs", sa.JSON(), nullable=False),
        sa.Column("qos_specs_id", sa.String(length=36), nullable=True),
        sa.Column("created_at", stratus.common.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", stratus.common.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_volume_type")),
        sa.UniqueConstraint("name", name=op.f("uq_volume_type_name")),
    )
    op.create_table(
        "volume_volume",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("attach_status", sa.String(length=16), nullable=False),
        sa.Column("migration_status", sa.String(length=32), nullable=True),
        sa.Column("availability_zone", sa.String(length=255), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=True),
        sa.Column("volume_type_id", sa.String(length=36), nullable=True),
        sa.Column("bootable", sa.Boolean(), nullable=False),
        sa.Column("multiattach", sa.Boolean(), nullable=False),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("admin_metadata", sa.JSON(), nullable=False),
        sa.Column("image_metadata", sa.JSON(), nullable=False),
        sa.Column("snapshot_id", sa.String(length=36), nullable=True),
        sa.Column("source_volid", sa.String(length=36), nullable=True),
        sa.Column("provider_location", sa.JSON(), nullable=True),
        sa.Column("task", sa.String(length=32), nullable=True),
        sa.Column("task_args", sa.JSON(), nullable=False),
        sa.Column("previous_status", sa.String(length=32), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("consumes_quota", sa.Boolean(), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("launched_at", stratus.common.db.UTCDateTime(), nullable=True),
        sa.Column("created_at", stratus.common.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", stratus.common.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_volume_volume")),
    )
    with op.batch_alter_table("volume_volume", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_volume_volume_host"), ["host"], unique=False)
        batch_op.create_index(batch_op.f("ix_volume_volume_name"), ["name"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_volume_volume_project_id"), ["project_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_volume_volume_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_volume_volume_task"), ["task"], unique=False)

    op.create_table(
        "volume_type_access",
        sa.Column("volume_type_id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["volume_type_id"],
            ["volume_type.id"],
            name=op.f("fk_volume_type_access_volume_type_id_volume_type"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("volume_type_id", "project_id", name=op.f("pk_volume_type_access")),
    )


def downgrade() -> None:
    op.drop_table("volume_type_access")
    with op.batch_alter_table("volume_volume", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_volume_volume_task"))
        batch_op.drop_index(batch_op.f("ix_volume_volume_status"))
        batch_op.drop_index(batch_op.f("ix_volume_volume_project_id"))
        batch_op.drop_index(batch_op.f("ix_volume_volume_name"))
        batch_op.drop_index(batch_op.f("ix_volume_volume_host"))

    op.drop_table("volume_volume")
    op.drop_table("volume_type")
    with op.batch_alter_table("volume_transfer", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_volume_transfer_volume_id"))
        batch_op.drop_index(batch_op.f("ix_volume_transfer_project_id"))

    op.drop_table("volume_transfer")
    with op.batch_alter_table("volume_snapshot", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_volume_snapshot_volume_id"))
        batch_op.drop_index(batch_op.f("ix_volume_snapshot_task"))
        batch_op.drop_index(batch_op.f("ix_volume_snapshot_status"))
        batch_op.drop_index(batch_op.f("ix_volume_snapshot_project_id"))

    op.drop_table("volume_snapshot")
    op.drop_table("volume_quota")
    op.drop_table("volume_qos_specs")
    with op.batch_alter_table("volume_message", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_volume_message_project_id"))

    op.drop_table("volume_message")
    op.drop_table("volume_host")
    with op.batch_alter_table("volume_backup", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_volume_backup_volume_id"))
        batch_op.drop_index(batch_op.f("ix_volume_backup_task"))
        batch_op.drop_index(batch_op.f("ix_volume_backup_status"))
        batch_op.drop_index(batch_op.f("ix_volume_backup_project_id"))
        batch_op.drop_index(batch_op.f("ix_volume_backup_parent_id"))
        batch_op.drop_index(batch_op.f("ix_volume_backup_host"))

    op.drop_table("volume_backup")
    with op.batch_alter_table("volume_attachment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_volume_attachment_volume_id"))
        batch_op.drop_index(batch_op.f("ix_volume_attachment_instance_uuid"))

    op.drop_table("volume_attachment")
