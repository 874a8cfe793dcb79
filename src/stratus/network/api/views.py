"""Response shapes: Neutron's attributes of each resource, and how each is
filtered (``listing.Kinds``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from stratus.network import models as m
from stratus.network.service import records
from stratus.network.service.agents import Agents
from stratus.network.service.hoststate import hostname

DNS_DOMAIN = "openstacklocal."


def ts(value: datetime) -> str:
    """Neutron's timestamps: 2026-01-02T03:04:05Z (UTC)."""
    return value.isoformat(timespec="seconds")[:19] + "Z"


def _standard(row: Any, tags: list[str]) -> dict[str, Any]:
    return {
        "id": row.id,
        "tenant_id": row.project_id,
        "project_id": row.project_id,
        "description": row.description,
        "tags": tags,
        "created_at": ts(row.created_at),
        "updated_at": ts(row.updated_at),
        "revision_number": row.revision_number,
    }


_STANDARD_KINDS = {
    "id": "str",
    "tenant_id": "str",
    "project_id": "str",
    "description": "str",
    "tags": "none",
    "created_at": "str",
    "updated_at": "str",
    "revision_number": "int",
}


def network(rec: records.NetworkRecord) -> dict[str, Any]:
    n = rec.row
    return {
        **_standard(n, rec.tags),
        "name": n.name,
        "admin_state_up": n.admin_state_up,
        "status": n.status,
        "subnets": rec.subnets,
        "shared": n.shared,
        "router:external": n.external,
        "is_default": n.is_default,
        "mtu": n.mtu,
        "port_security_enabled": n.port_security_enabled,
        "dns_domain": n.dns_domain,
        "provider:network_type": n.network_type,
        "provider:physical_network": None,
        "provider:segmentation_id": n.segmentation_id,
    }


NETWORK_KINDS = {
    **_STANDARD_KINDS,
    "name": "str",
    "admin_state_up": "bool",
    "status": "str",
    "subnets": "list",
    "shared": "bool",
    "router:external": "bool",
    "is_default": "bool",
    "mtu": "int",
    "port_security_enabled": "bool",
    "dns_domain": "str",
    "provider:network_type": "str",
    "provider:physical_network": "str",
    "provider:segmentation_id": "int",
}
NETWORK_PROVIDER = {
    "provider:network_type",
    "provider:physical_network",
    "provider:segmentation_id",
}


def subnet(rec: records.SubnetRecord) -> dict[str, Any]:
    sn = rec.row
    return {
        **_standard(sn, rec.tags),
        "name": sn.name,
        "network_id": sn.network_id,
        "ip_version": sn.ip_version,
        "cidr": sn.cidr,
        "gateway_ip": sn.gateway_ip,
        "allocation_pools": sn.allocation_pools,
        "dns_nameservers": sn.dns_nameservers,
        "host_routes": sn.host_routes,
        "enable_dhcp": sn.enable_dhcp,
        "ipv6_ra_mode": sn.ipv6_ra_mode,
        "ipv6_address_mode": sn.ipv6_address_mode,
        "subnetpool_id": sn.subnetpool_id,
    }


SUBNET_KINDS = {
    **_STANDARD_KINDS,
    "name": "str",
    "network_id": "str",
    "ip_version": "int",
    "cidr": "str",
    "gateway_ip": "str",
    "allocation_pools": "none",
    "dns_nameservers": "list",
    "host_routes": "none",
    "enable_dhcp": "bool",
    "ipv6_ra_mode": "str",
    "ipv6_address_mode": "str",
    "subnetpool_id": "str",
}


def port(rec: records.PortRecord) -> dict[str, Any]:
    p = rec.row
    domain = rec.dns_domain or DNS_DOMAIN
    mac = p.mac_address
    fixed = [{"subnet_id": sid, "ip_address": ip} for sid, ip in rec.fixed_ips]
    return {
        **_standard(p, rec.tags),
        "name": p.name,
        "network_id": p.network_id,
        "mac_address": mac,
        "admin_state_up": p.admin_state_up,
        "status": p.status,
        "device_id": p.device_id,
        "device_owner": p.device_owner,
        "fixed_ips": fixed,
        "security_groups": rec.security_groups,
        "port_security_enabled": p.port_security_enabled,
        "allowed_address_pairs": [
            {"ip_address": a["ip_address"], "mac_address": a.get("mac_address") or mac}
            for a in p.allowed_address_pairs
        ],
        "binding:host_id": p.binding_host,
        "binding:vif_type": p.binding_vif_type,
        "binding:vif_details": p.binding_vif_details,
        "binding:vnic_type": p.binding_vnic_type,
        "binding:profile": p.binding_profile,
        "dns_name": p.dns_name,
        "dns_assignment": [_dns(p, ip, domain) for _sid, ip in rec.fixed_ips],
    }


def _dns(port: Any, ip: str, domain: str) -> dict[str, str]:
    name = hostname(port, ip)
    return {"hostname": name, "ip_address": ip, "fqdn": f"{name}.{domain.rstrip('.')}."}


PORT_KINDS = {
    **_STANDARD_KINDS,
    "name": "str",
    "network_id": "str",
    "mac_address": "str",
    "admin_state_up": "bool",
    "status": "str",
    "device_id": "str",
    "device_owner": "str",
    "fixed_ips": "fixed_ips",
    "security_groups": "list",
    "port_security_enabled": "bool",
    "allowed_address_pairs": "none",
    "binding:host_id": "str",
    "binding:vif_type": "str",
    "binding:vif_details": "none",
    "binding:vnic_type": "str",
    "binding:profile": "none",
    "dns_name": "str",
    "dns_assignment": "none",
}
PORT_BINDING = {
    "binding:host_id",
    "binding:vif_type",
    "binding:vif_details",
    "binding:vnic_type",
    "binding:profile",
}


def router(rec: records.RouterRecord) -> dict[str, Any]:
    r = rec.row
    gateway = None
    if rec.gateway is not None:
        gateway = {
            "network_id": rec.gateway.network_id,
            "enable_snat": r.enable_snat,
            "external_fixed_ips": [
                {"subnet_id": sid, "ip_address": ip} for sid, ip in rec.gateway.fixed_ips
            ],
        }
    return {
        **_standard(r, rec.tags),
        "name": r.name,
        "admin_state_up": r.admin_state_up,
        "status": r.status,
        "external_gateway_info": gateway,
        "routes": r.routes,
    }


ROUTER_KINDS = {
    **_STANDARD_KINDS,
    "name": "str",
    "admin_state_up": "bool",
    "status": "str",
    "external_gateway_info": "none",
    "routes": "none",
}


def floatingip(rec: records.FloatingIPRecord) -> dict[str, Any]:
    f = rec.row
    details = None
    if rec.port is not None:
        p = rec.port
        details = {
            "name": p.name,
            "network_id": p.network_id,
            "mac_address": p.mac_address,
            "admin_state_up": p.admin_state_up,
            "status": p.status,
            "device_id": p.device_id,
            "device_owner": p.device_owner,
        }
    return {
        **_standard(f, rec.tags),
        "floating_network_id": f.floating_network_id,
        "floating_ip_address": f.floating_ip_address,
        "router_id": f.router_id,
        "port_id": f.fixed_port_id,
        "fixed_ip_address": f.fixed_ip_address,
        "status": f.status,
        "dns_name": f.dns_name,
        "dns_domain": f.dns_domain,
        "port_details": details,
    }


FLOATINGIP_KINDS = {
    **_STANDARD_KINDS,
    "floating_network_id": "str",
    "floating_ip_address": "str",
    "router_id": "str",
    "port_id": "str",
    "fixed_ip_address": "str",
    "status": "str",
    "dns_name": "str",
    "dns_domain": "str",
    "port_details": "none",
}


def security_group_rule(r: m.SecurityGroupRule) -> dict[str, Any]:
    return {
        "id": r.id,
        "tenant_id": r.project_id,
        "project_id": r.project_id,
        "security_group_id": r.security_group_id,
        "direction": r.direction,
        "ethertype": r.ethertype,
        "protocol": r.protocol,
        "port_range_min": r.port_range_min,
        "port_range_max": r.port_range_max,
        "remote_ip_prefix": r.remote_ip_prefix,
        "remote_group_id": r.remote_group_id,
        "description": r.description,
        "created_at": ts(r.created_at),
        "updated_at": ts(r.updated_at),
        "revision_number": r.revision_number,
    }


RULE_KINDS = {
    **{k: v for k, v in _STANDARD_KINDS.items() if k != "tags"},
    "security_group_id": "str",
    "direction": "str",
    "ethertype": "str",
    "protocol": "str",
    "port_range_min": "int",
    "port_range_max": "int",
    "remote_ip_prefix": "str",
    "remote_group_id": "str",
}


def security_group(rec: records.SecurityGroupRecord) -> dict[str, Any]:
    g = rec.row
    return {
        **_standard(g, rec.tags),
        "name": g.name,
        "security_group_rules": [security_group_rule(r) for r in rec.rules],
    }


SECURITY_GROUP_KINDS = {**_STANDARD_KINDS, "name": "str", "security_group_rules": "none"}


def subnetpool(rec: records.SubnetPoolRecord) -> dict[str, Any]:
    p = rec.row
    return {
        **_standard(p, rec.tags),
        "name": p.name,
        "ip_version": p.ip_version,
        "prefixes": p.prefixes,
        "default_prefixlen": p.default_prefixlen,
        "min_prefixlen": p.min_prefixlen,
        "max_prefixlen": p.max_prefixlen,
        "shared": p.shared,
        "is_default": p.is_default,
        "default_quota": p.default_quota,
    }


SUBNETPOOL_KINDS = {
    **_STANDARD_KINDS,
    "name": "str",
    "ip_version": "int",
    "prefixes": "list",
    "default_prefixlen": "int",
    "min_prefixlen": "int",
    "max_prefixlen": "int",
    "shared": "bool",
    "is_default": "bool",
    "default_quota": "int",
}


def _agent_time(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S")


def agent(a: m.Agent, agents: Agents) -> dict[str, Any]:
    return {
        "id": a.id,
        "agent_type": a.agent_type,
        "binary": a.binary,
        "host": a.host,
        "topic": a.topic,
        "admin_state_up": a.admin_state_up,
        "alive": agents.alive(a),
        "availability_zone": a.availability_zone,
        "configurations": a.configurations,
        "description": a.description,
        "created_at": _agent_time(a.created_at),
        "started_at": _agent_time(a.started_at),
        "heartbeat_timestamp": _agent_time(a.heartbeat_at),
        "resources_synced": None,
    }


AGENT_KINDS = {
    "id": "str",
    "agent_type": "str",
    "binary": "str",
    "host": "str",
    "topic": "str",
    "admin_state_up": "bool",
    "alive": "bool",
    "availability_zone": "str",
    "configurations": "none",
    "description": "str",
    "created_at": "str",
    "started_at": "str",
    "heartbeat_timestamp": "str",
    "resources_synced": "none",
}
