"""network: Neutron v2.0 tables (networks, subnets, ports and their addresses,
security groups, routers, floating IPs, subnet pools, tags, quotas, agents,
auto-allocated topologies); JSON attributes are kept as text

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

import stratus.common.db

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "network_agent",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("agent_type", sa.String(length=64), nullable=False),
        sa.Column("binary", sa.String(length=255), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("topic", sa.String(length=255), nullable=False),
        sa.Column("tunnel_ip", sa.String(length=64), nullable=True),
        sa.Column("admin_state_up", sa.Boolean(), nullable=False),
        sa.Column("description", sa.String(length=255), nullable=False),
        sa.Column("availability_zone", sa.String(length=255), nullable=True),
        sa.Column("configurations", sa.Text(), nullable=False),
        sa.Column("created_at", stratus.common.db.UTCDateTime(), nullable=False),
        sa.Column("started_at", stratus.common.db.UTCDateTime(), nullable=False),
        sa.Column("heartbeat_at", stratus.common.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_network_agent")),
        sa.UniqueConstraint("agent_type", "host", name=op.f("uq_network_agent_agent_type")),
    )
    op.create_table(
        "network_network",
        sa.Column("admin_state_up", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("shared", sa.Boolean(), nullable=False),
        sa.Column("external", sa.Boolean(), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("mtu", sa.Integer(), nullable=False),
        sa.Column("port_security_enabled", sa.Boolean(), nullable=False),
        sa.Column("network_type", sa.String(length=16), nullable=False),
        sa.Column("segmentation_id", sa.Integer(), nullable=False),
        sa.Column("dns_domain", sa.String(length=255), nullable=False),
        sa.Column("dhcp_host", sa.String(length=255), nullable=True),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.String(length=255), nullable=False),
        sa.Column("revision_number", sa.Integer(), nullable=False),
        sa.Column("created_at", stratus.common.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", stratus.common.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_network_network")),
        sa.UniqueConstraint("segmentation_id", name=op.f("uq_network_network_segmentation_id")),
    )
    with op.batch_alter_table("network_network", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_network_network_dhcp_host"), ["dhcp_host"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_network_network_external"), ["external"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_network_network_project_id"), ["project_id"], unique=False
        )

    op.create_table(
        "network_quota",
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.Column("resource", sa.String(length=64), nullable=False),
        sa.Column("hard_limit", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("project_id", "resource", name=op.f("pk_network_quota")),
    )
    op.create_table(
        "network_security_group",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.String(length=255), nullable=False),
        sa.Column("revision_number", sa.Integer(), nullable=False),
        sa.Column("created_at", stratus.common.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", stratus.common.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_network_security_group")),
    )
    with op.batch_alter_table("network_security_group", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_network_security_group_project_id"), ["project_id"], unique=False
        )

    op.create_table(
        "network_subnet_pool",
        sa.Column("ip_version", sa.Integer(), nullable=False),
        sa.Column("prefixes", sa.Text(), nullable=False),
        sa.Column("default_prefixlen", sa.Integer(), nullable=False),
        sa.Column("min_prefixlen", sa.Integer(), nullable=False),
        sa.Column("max_prefixlen", sa.Integer(), nullable=False),
        sa.Column("shared", sa.Boolean(), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("default_quota", sa.Integer(), nullable=True),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.String(length=255), nullable=False),
        sa.Column("revision_number", sa.Integer(), nullable=False),
        sa.Column("created_at", stratus.common.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", stratus.common.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_network_subnet_pool")),
    )
    with op.batch_alter_table("network_subnet_pool", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_network_subnet_pool_project_id"), ["project_id"], unique=False
        )

    op.create_table(
        "network_tag",
        sa.Column("resource_id", sa.String(length=36), nullable=False),
        sa.Column("tag", sa.String(length=255), nullable=False),
        sa.PrimaryKeyConstraint("resource_id", "tag", name=op.f("pk_network_tag")),
    )
    with op.batch_alter_table("network_tag", schema=None) as batch_op:
        batch_op.create_index("ix_network_tag_tag", ["tag"], unique=False)

    op.create_table(
        "network_default_security_group",
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.Column("security_group_id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["security_group_id"],
            ["network_security_group.id"],
            name=op.f("fk_network_default_security_group_security_group_id_network_security_group"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("project_id", name=op.f("pk_network_default_security_group")),
        sa.UniqueConstraint(
            "security_group_id", name=op.f("uq_network_default_security_group_security_group_id")
        ),
    )
    op.create_table(
        "network_port",
        sa.Column("network_id", sa.String(length=36), nullable=False),
        sa.Column("mac_address", sa.String(length=32), nullable=False),
        sa.Column("admin_state_up", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("device_id", sa.String(length=255), nullable=False),
        sa.Column("device_owner", sa.String(length=255), nullable=False),
        sa.Column("binding_host", sa.String(length=255), nullable=False),
        sa.Column("binding_vnic_type", sa.String(length=64), nullable=False),
        sa.Column("binding_profile", sa.Text(), nullable=False),
        sa.Column("binding_vif_type", sa.String(length=64), nullable=False),
        sa.Column("binding_vif_details", sa.Text(), nullable=False),
        sa.Column("port_security_enabled", sa.Boolean(), nullable=False),
        sa.Column("allowed_address_pairs", sa.Text(), nullable=False),
        sa.Column("dns_name", sa.String(length=255), nullable=False),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.String(length=255), nullable=False),
        sa.Column("revision_number", sa.Integer(), nullable=False),
        sa.Column("created_at", stratus.common.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", stratus.common.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["network_id"],
            ["network_network.id"],
            name=op.f("fk_network_port_network_id_network_network"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_network_port")),
        sa.UniqueConstraint("network_id", "mac_address", name=op.f("uq_network_port_network_id")),
    )
    with op.batch_alter_table("network_port", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_network_port_binding_host"), ["binding_host"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_network_port_device_id"), ["device_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_network_port_device_owner"), ["device_owner"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_network_port_network_id"), ["network_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_network_port_project_id"), ["project_id"], unique=False
        )

    op.create_table(
        "network_security_group_rule",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.Column("security_group_id", sa.String(length=36), nullable=False),
        sa.Column("direction", sa.String(length=16), nullable=False),
        sa.Column("ethertype", sa.String(length=16), nullable=False),
        sa.Column("protocol", sa.String(length=40), nullable=True),
        sa.Column("port_range_min", sa.Integer(), nullable=True),
        sa.Column("port_range_max", sa.Integer(), nullable=True),
        sa.Column("remote_ip_prefix", sa.String(length=64), nullable=True),
        sa.Column("remote_group_id", sa.String(length=36), nullable=True),
        sa.Column("description", sa.String(length=255), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("revision_number", sa.Integer(), nullable=False),
        sa.Column("created_at", stratus.common.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", stratus.common.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["remote_group_id"],
            ["network_security_group.id"],
            name=op.f("fk_network_security_group_rule_remote_group_id_network_security_group"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["security_group_id"],
            ["network_security_group.id"],
            name=op.f("fk_network_security_group_rule_security_group_id_network_security_group"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_network_security_group_rule")),
        sa.UniqueConstraint(
            "security_group_id",
            "fingerprint",
            name=op.f("uq_network_security_group_rule_security_group_id"),
        ),
    )
    with op.batch_alter_table("network_security_group_rule", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_network_security_group_rule_project_id"), ["project_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_network_security_group_rule_remote_group_id"),
            ["remote_group_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_network_security_group_rule_security_group_id"),
            ["security_group_id"],
            unique=False,
        )

    op.create_table(
        "network_subnet",
        sa.Column("network_id", sa.String(length=36), nullable=False),
        sa.Column("ip_version", sa.Integer(), nullable=False),
        sa.Column("cidr", sa.String(length=64), nullable=False),
        sa.Column("gateway_ip", sa.String(length=64), nullable=True),
        sa.Column("enable_dhcp", sa.Boolean(), nullable=False),
        sa.Column("ipv6_ra_mode", sa.String(length=32), nullable=True),
        sa.Column("ipv6_address_mode", sa.String(length=32), nullable=True),
        sa.Column("subnetpool_id", sa.String(length=36), nullable=True),
        sa.Column("allocation_pools", sa.Text(), nullable=False),
        sa.Column("dns_nameservers", sa.Text(), nullable=False),
        sa.Column("host_routes", sa.Text(), nullable=False),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.String(length=255), nullable=False),
        sa.Column("revision_number", sa.Integer(), nullable=False),
        sa.Column("created_at", stratus.common.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", stratus.common.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["network_id"],
            ["network_network.id"],
            name=op.f("fk_network_subnet_network_id_network_network"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_network_subnet")),
    )
    with op.batch_alter_table("network_subnet", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_network_subnet_network_id"), ["network_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_network_subnet_project_id"), ["project_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_network_subnet_subnetpool_id"), ["subnetpool_id"], unique=False
        )

    op.create_table(
        "network_ip_allocation",
        sa.Column("network_id", sa.String(length=36), nullable=False),
        sa.Column("ip_address", sa.String(length=64), nullable=False),
        sa.Column("subnet_id", sa.String(length=36), nullable=False),
        sa.Column("port_id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["network_id"],
            ["network_network.id"],
            name=op.f("fk_network_ip_allocation_network_id_network_network"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["port_id"],
            ["network_port.id"],
            name=op.f("fk_network_ip_allocation_port_id_network_port"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["subnet_id"],
            ["network_subnet.id"],
            name=op.f("fk_network_ip_allocation_subnet_id_network_subnet"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("network_id", "ip_address", name=op.f("pk_network_ip_allocation")),
    )
    with op.batch_alter_table("network_ip_allocation", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_network_ip_allocation_port_id"), ["port_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_network_ip_allocation_subnet_id"), ["subnet_id"], unique=False
        )

    op.create_table(
        "network_port_security_group",
        sa.Column("port_id", sa.String(length=36), nullable=False),
        sa.Column("security_group_id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["port_id"],
            ["network_port.id"],
            name=op.f("fk_network_port_security_group_port_id_network_port"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["security_group_id"],
            ["network_security_group.id"],
            name=op.f("fk_network_port_security_group_security_group_id_network_security_group"),
        ),
        sa.PrimaryKeyConstraint(
            "port_id", "security_group_id", name=op.f("pk_network_port_security_group")
        ),
    )
    with op.batch_alter_table("network_port_security_group", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_network_port_security_group_security_group_id"),
            ["security_group_id"],
            unique=False,
        )

    op.create_table(
        "network_router",
        sa.Column("admin_state_up", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("enable_snat", sa.Boolean(), nullable=False),
        sa.Column("gw_port_id", sa.String(length=36), nullable=True),
        sa.Column("routes", sa.Text(), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=True),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.String(length=255), nullable=False),
        sa.Column("revision_number", sa.Integer(), nullable=False),
        sa.Column("created_at", stratus.common.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", stratus.common.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["gw_port_id"],
            ["network_port.id"],
            name=op.f("fk_network_router_gw_port_id_network_port"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_network_router")),
    )
    with op.batch_alter_table("network_router", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_network_router_host"), ["host"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_network_router_project_id"), ["project_id"], unique=False
        )

    op.create_table(
        "network_auto_allocated_topology",
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.Column("network_id", sa.String(length=36), nullable=False),
        sa.Column("router_id", sa.String(length=36), nullable=True),
        sa.ForeignKeyConstraint(
            ["network_id"],
            ["network_network.id"],
            name=op.f("fk_network_auto_allocated_topology_network_id_network_network"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["router_id"],
            ["network_router.id"],
            name=op.f("fk_network_auto_allocated_topology_router_id_network_router"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("project_id", name=op.f("pk_network_auto_allocated_topology")),
        sa.UniqueConstraint(
            "network_id", name=op.f("uq_network_auto_allocated_topology_network_id")
        ),
    )
    op.create_table(
        "network_floating_ip",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.Column("description", sa.String(length=255), nullable=False),
        sa.Column("floating_network_id", sa.String(length=36), nullable=False),
        sa.Column("floating_port_id", sa.String(length=36), nullable=False),
        sa.Column("floating_ip_address", sa.String(length=64), nullable=False),
        sa.Column("fixed_port_id", sa.String(length=36), nullable=True),
        sa.Column("fixed_ip_address", sa.String(length=64), nullable=True),
        sa.Column("router_id", sa.String(length=36), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("dns_name", sa.String(length=255), nullable=False),
        sa.Column("dns_domain", sa.String(length=255), nullable=False),
        sa.Column("revision_number", sa.Integer(), nullable=False),
        sa.Column("created_at", stratus.common.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", stratus.common.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["fixed_port_id"],
            ["network_port.id"],
            name=op.f("fk_network_floating_ip_fixed_port_id_network_port"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["floating_network_id"],
            ["network_network.id"],
            name=op.f("fk_network_floating_ip_floating_network_id_network_network"),
        ),
        sa.ForeignKeyConstraint(
            ["floating_port_id"],
            ["network_port.id"],
            name=op.f("fk_network_floating_ip_floating_port_id_network_port"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["router_id"],
            ["network_router.id"],
            name=op.f("fk_network_floating_ip_router_id_network_router"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_network_floating_ip")),
        sa.UniqueConstraint(
            "floating_network_id",
            "fixed_port_id",
            "fixed_ip_address",
            name=op.f("uq_network_floating_ip_floating_network_id"),
        ),
        sa.UniqueConstraint(
            "floating_port_id", name=op.f("uq_network_floating_ip_floating_port_id")
        ),
    )
    with op.batch_alter_table("network_floating_ip", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_network_floating_ip_fixed_port_id"), ["fixed_port_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_network_floating_ip_floating_network_id"),
            ["floating_network_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_network_floating_ip_project_id"), ["project_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_network_floating_ip_router_id"), ["router_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("network_floating_ip", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_network_floating_ip_router_id"))
        batch_op.drop_index(batch_op.f("ix_network_floating_ip_project_id"))
        batch_op.drop_index(batch_op.f("ix_network_floating_ip_floating_network_id"))
        batch_op.drop_index(batch_op.f("ix_network_floating_ip_fixed_port_id"))

    op.drop_table("network_floating_ip")
    op.drop_table("network_auto_allocated_topology")
    with op.batch_alter_table("network_router", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_network_router_project_id"))
        batch_op.drop_index(batch_op.f("ix_network_router_host"))

    op.drop_table("network_router")
    with op.batch_alter_table("network_port_security_group", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_network_port_security_group_security_group_id"))

    op.drop_table("network_port_security_group")
    with op.batch_alter_table("network_ip_allocation", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_network_ip_allocation_subnet_id"))
        batch_op.drop_index(batch_op.f("ix_network_ip_allocation_port_id"))

    op.drop_table("network_ip_allocation")
    with op.batch_alter_table("network_subnet", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_network_subnet_subnetpool_id"))
        batch_op.drop_index(batch_op.f("ix_network_subnet_project_id"))
        batch_op.drop_index(batch_op.f("ix_network_subnet_network_id"))

    op.drop_table("network_subnet")
    with op.batch_alter_table("network_security_group_rule", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_network_security_group_rule_security_group_id"))
        batch_op.drop_index(batch_op.f("ix_network_security_group_rule_remote_group_id"))
        batch_op.drop_index(batch_op.f("ix_network_security_group_rule_project_id"))

    op.drop_table("network_security_group_rule")
    with op.batch_alter_table("network_port", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_network_port_project_id"))
        batch_op.drop_index(batch_op.f("ix_network_port_network_id"))
        batch_op.drop_index(batch_op.f("ix_network_port_device_owner"))
        batch_op.drop_index(batch_op.f("ix_network_port_device_id"))
        batch_op.drop_index(batch_op.f("ix_network_port_binding_host"))

    op.drop_table("network_port")
    op.drop_table("network_default_security_group")
    with op.batch_alter_table("network_tag", schema=None) as batch_op:
        batch_op.drop_index("ix_network_tag_tag")

    op.drop_table("network_tag")
    with op.batch_alter_table("network_subnet_pool", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_network_subnet_pool_project_id"))

    op.drop_table("network_subnet_pool")
    with op.batch_alter_table("network_security_group", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_network_security_group_project_id"))

    op.drop_table("network_security_group")
    op.drop_table("network_quota")
    with op.batch_alter_table("network_network", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_network_network_project_id"))
        batch_op.drop_index(batch_op.f("ix_network_network_external"))
        batch_op.drop_index(batch_op.f("ix_network_network_dhcp_host"))

    op.drop_table("network_network")
    op.drop_table("network_agent")
