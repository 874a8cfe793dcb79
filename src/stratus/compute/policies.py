"""Compute policy defaults, as data.  Targets carry the server's (or the
resource's) ``project_id``; key pairs carry ``user_id``."""

RULES: dict[str, str] = {
    "compute:servers:index": "role:reader",
    "compute:servers:index:all_tenants": "rule:admin_required",
    "compute:servers:show": "rule:admin_or_reader",
    "compute:servers:show:admin_fields": "rule:admin_required",
    "compute:servers:create": "rule:admin_required or rule:project_member",
    "compute:servers:create:forced_host": "rule:admin_required",
    "compute:servers:update": "rule:admin_or_member",
    "compute:servers:delete": "rule:admin_or_member",
    "compute:servers:action": "rule:admin_or_member",
    "compute:servers:console_output": "rule:admin_or_member",
    "compute:servers:migrate_live": "rule:admin_required",
    "compute:server_migrations": "rule:admin_required",
    "compute:flavors:index": "@",
    "compute:flavors:manage": "rule:admin_required",
    "compute:keypairs": "rule:admin_required or user_id:%(user_id)s",
    "compute:server_groups:index": "role:reader",
    "compute:server_groups:create": "rule:admin_required or rule:project_member",
    "compute:server_groups:delete": "rule:admin_required or role:member",
    "compute:quotas:show": "rule:admin_or_reader",
    "compute:quotas:update": "rule:admin_required",
    "compute:services": "rule:admin_required",
    "compute:hypervisors": "rule:admin_required",
}
