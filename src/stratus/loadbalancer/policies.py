"""Load-balancing policy rules (Octavia's ``os_load-balancer_api`` rules,
simplified to the cloud's admin / member / reader roles).

A caller sees only its project's objects (an admin sees all); an object
another project owns answers 404.  These rules decide what a caller who can
see it may do.  Targets carry ``project_id``: the object's project."""

_ADMIN = "rule:admin_required"
_READ_OWN = "rule:admin_required or (role:reader and project_id:%(project_id)s)"
_WRITE_OWN = "rule:admin_required or (role:member and project_id:%(project_id)s)"

RESOURCES = ("loadbalancer", "listener", "pool", "member", "healthmonitor", "l7policy", "l7rule")

RULES: dict[str, str] = {
    **{f"load-balancer:get_{r}": _READ_OWN for r in RESOURCES},
    **{f"load-balancer:create_{r}": _WRITE_OWN for r in RESOURCES},
    **{f"load-balancer:update_{r}": _WRITE_OWN for r in RESOURCES},
    **{f"load-balancer:delete_{r}": _WRITE_OWN for r in RESOURCES},
    "load-balancer:get_stats": _READ_OWN,
    "load-balancer:get_status": _READ_OWN,
    "load-balancer:failover": _ADMIN,
    "load-balancer:get_quota": _READ_OWN,
    "load-balancer:list_quotas": _ADMIN,
    "load-balancer:update_quota": _ADMIN,
    "load-balancer:delete_quota": _ADMIN,
    "load-balancer:get_provider": "rule:admin_required or role:reader",
    "load-balancer:get_availability_zone": "rule:admin_required or role:reader",
    "load-balancer:get_flavor": "rule:admin_required or role:reader",
    "load-balancer:manage_flavor": _ADMIN,
}
