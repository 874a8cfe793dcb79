"""database: replicas (an instance following another by the datastore's
own replication)

Revision ID: 0024
Revises: 0022
Create Date: 2026-12-06 23:50:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("database_instance") as batch:
        batch.add_column(sa.Column("replica_of_id", sa.String(36), nullable=True))
        batch.create_index("ix_database_instance_replica_of_id", ["replica_of_id"])


def downgrade() -> None:
    with op.batch_alter_table("database_instance") as batch:
        batch.drop_index("ix_database_instance_replica_of_id")
        batch.drop_column("replica_of_id")
