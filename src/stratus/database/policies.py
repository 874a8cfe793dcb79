"""Database service policy defaults, as data.  Targets carry the resource's
``project_id`` (a new resource: the caller's)."""

RULES: dict[str, str] = {
    "database:datastores": "role:reader or rule:admin_required",
    "database:instance:index": "role:reader or rule:admin_required",
    "database:instance:show": "rule:admin_or_reader",
    "database:instance:create": "rule:admin_required or rule:project_member",
    "database:instance:update": "rule:admin_or_member",
    "database:instance:delete": "rule:admin_or_member",
    "database:instance:action": "rule:admin_or_member",
    "database:instance:all_projects": "rule:admin_required",
    "database:instance:databases": "rule:admin_or_member",
    "database:instance:users": "rule:admin_or_member",
    "database:instance:root": "rule:admin_or_member",
    "database:instance:logs": "rule:admin_or_reader",
    "database:instance:log_action": "rule:admin_or_member",
    "database:configuration:index": "role:reader or rule:admin_required",
    "database:configuration:manage": "rule:admin_required or rule:project_member",
    "database:backup:index": "role:reader or rule:admin_required",
    "database:backup:show": "rule:admin_or_reader",
    "database:backup:create": "rule:admin_or_member",
    "database:backup:delete": "rule:admin_or_member",
    "database:quota:show": "rule:admin_or_reader",
    "database:quota:update": "rule:admin_required",
}
