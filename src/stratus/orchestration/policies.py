"""Orchestration policy defaults, as data.  Targets carry the stack's
``project_id`` (a new stack: the caller's)."""

RULES: dict[str, str] = {
    "orchestration:stacks:index": "role:reader or rule:admin_required",
    "orchestration:stacks:global_index": "rule:admin_required",
    "orchestration:stacks:show": "rule:admin_or_reader",
    "orchestration:stacks:create": "rule:admin_required or rule:project_member",
    "orchestration:stacks:update": "rule:admin_or_member",
    "orchestration:stacks:delete": "rule:admin_or_member",
    "orchestration:stacks:validate": "role:reader or rule:admin_required",
    "orchestration:resource_types": "role:reader or rule:admin_required",
}
