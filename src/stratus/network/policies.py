"""Network policy defaults, as data: Neutron's default rules.

Which rows a caller can see at all is decided by the service, as Neutron's
database queries do: an admin sees everything; anyone else sees their
project's resources, shared networks (and their subnets), external networks,
shared subnet pools, and the ports on networks their project owns.  A
resource the caller cannot see answers 404.  These rules then decide what a
caller who can see it may do.

Targets carry ``project_id`` (the resource's project) and, for ports and
subnets, ``network_project_id`` (the project that owns the network): the
"network owner" of Neutron's rules.
"""

_ADMIN = "rule:admin_required"
_READER = "rule:admin_required or role:reader"
_MEMBER_OWN = "rule:admin_required or (role:member and project_id:%(project_id)s)"
_NET_OWNER = "rule:admin_required or (role:member and project_id:%(network_project_id)s)"
_ADMIN_OR_SERVICE = "rule:admin_required or rule:service_role"

RULES: dict[str, str] = {
    # networks
    "network:get_network": _READER,
    "network:get_network:provider": _ADMIN,
    "network:create_network": _MEMBER_OWN,
    "network:create_network:shared": _ADMIN,
    "network:create_network:router:external": _ADMIN,
    "network:create_network:is_default": _ADMIN,
    "network:create_network:provider": _ADMIN,
    "network:update_network": _MEMBER_OWN,
    "network:update_network:shared": _ADMIN,
    "network:update_network:router:external": _ADMIN,
    "network:update_network:is_default": _ADMIN,
    "network:update_network:provider": _ADMIN,
    "network:delete_network": _MEMBER_OWN,
    # subnets (created on a network its owner holds)
    "network:get_subnet": _READER,
    "network:create_subnet": _NET_OWNER,
    "network:update_subnet": _NET_OWNER,
    "network:delete_subnet": _NET_OWNER,
    # subnet pools
    "network:get_subnetpool": _READER,
    "network:create_subnetpool": _MEMBER_OWN,
    "network:create_subnetpool:shared": _ADMIN,
    "network:create_subnetpool:is_default": _ADMIN,
    "network:update_subnetpool": _MEMBER_OWN,
    "network:update_subnetpool:is_default": _ADMIN,
    "network:delete_subnetpool": _MEMBER_OWN,
    # ports
    "network:get_port": _READER,
    "network:get_port:binding": _ADMIN_OR_SERVICE,
    "network:create_port": _MEMBER_OWN,
    "network:create_port:device_owner": _NET_OWNER,  # a network:* owner
    "network:create_port:mac_address": _NET_OWNER + " or rule:service_role",
    "network:create_port:fixed_ips:ip_address": _NET_OWNER + " or rule:service_role",
    "network:create_port:port_security_enabled": _NET_OWNER + " or rule:service_role",
    "network:create_port:allowed_address_pairs": _NET_OWNER + " or rule:service_role",
    "network:create_port:binding": _ADMIN_OR_SERVICE,
    "network:update_port": _MEMBER_OWN + " or rule:service_role",
    "network:update_port:device_owner": _NET_OWNER + " or rule:service_role",
    "network:update_port:mac_address": _ADMIN_OR_SERVICE,
    "network:update_port:fixed_ips:ip_address": _NET_OWNER + " or rule:service_role",
    "network:update_port:port_security_enabled": _NET_OWNER + " or rule:service_role",
    "network:update_port:allowed_address_pairs": _NET_OWNER + " or rule:service_role",
    "network:update_port:binding": _ADMIN_OR_SERVICE,
    "network:delete_port": _MEMBER_OWN + " or rule:service_role",
    # routers
    "network:get_router": _READER,
    "network:create_router": _MEMBER_OWN,
    "network:create_router:external_gateway_info:enable_snat": _ADMIN,
    "network:create_router:external_gateway_info:external_fixed_ips": _ADMIN,
    "network:update_router": _MEMBER_OWN,
    "network:update_router:external_gateway_info:enable_snat": _ADMIN,
    "network:update_router:external_gateway_info:external_fixed_ips": _ADMIN,
    "network:delete_router": _MEMBER_OWN,
    "network:add_router_interface": _MEMBER_OWN,
    "network:remove_router_interface": _MEMBER_OWN,
    # floating IPs
    "network:get_floatingip": _READER,
    "network:create_floatingip": _MEMBER_OWN,
    "network:create_floatingip:floating_ip_address": _ADMIN,
    "network:update_floatingip": _MEMBER_OWN,
    "network:delete_floatingip": _MEMBER_OWN,
    # security groups and their rules
    "network:get_security_group": _READER,
    "network:create_security_group": _MEMBER_OWN,
    "network:update_security_group": _MEMBER_OWN,
    "network:delete_security_group": _MEMBER_OWN,
    "network:get_security_group_rule": _READER,
    "network:create_security_group_rule": _MEMBER_OWN,
    "network:delete_security_group_rule": _MEMBER_OWN,
    # quotas
    "network:get_quota": "rule:admin_required or (role:reader and project_id:%(project_id)s)",
    "network:list_quotas": _ADMIN,
    "network:update_quota": _ADMIN,
    "network:delete_quota": _ADMIN,
    # agents (the data plane's hosts)
    "network:get_agent": _ADMIN,
    "network:update_agent": _ADMIN,
    "network:delete_agent": _ADMIN,
    # get-me-a-network
    "network:get_auto_allocated_topology": _MEMBER_OWN,
    "network:delete_auto_allocated_topology": _MEMBER_OWN,
}
