"""Objects as Octavia v2 renders them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from stratus.loadbalancer import models as m


def _time(value: datetime | None) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%S") if value else None


def _common(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "description": row.description,
        "admin_state_up": row.admin_state_up,
        "provisioning_status": row.provisioning_status,
        "operating_status": row.operating_status,
        "project_id": row.project_id,
        "tenant_id": row.project_id,
        "created_at": _time(row.created_at),
        "updated_at": _time(row.updated_at),
        "tags": list(row.tags or []),
    }


def _ids(ids: list[str]) -> list[dict[str, str]]:
    return [{"id": i} for i in ids]


def loadbalancer(lb: m.LoadBalancer, listeners: list[str], pools: list[str]) -> dict[str, Any]:
    return {
        **_common(lb),
        "vip_address": lb.vip_address,
        "vip_port_id": lb.vip_port_id,
        "vip_subnet_id": lb.vip_subnet_id,
        "vip_network_id": lb.vip_network_id,
        "vip_qos_policy_id": None,
        "vip_vnic_type": "normal",
        "additional_vips": [],
        "listeners": _ids(listeners),
        "pools": _ids(pools),
        "provider": lb.provider,
        "flavor_id": lb.flavor_id,
        "availability_zone": lb.availability_zone,
    }


def listener(x: m.Listener, policies: list[str]) -> dict[str, Any]:
    return {
        **_common(x),
        "protocol": x.protocol,
        "protocol_port": x.protocol_port,
        "connection_limit": x.connection_limit,
        "default_pool_id": x.default_pool_id,
        "default_tls_container_ref": None,
        "sni_container_refs": [],
        "loadbalancers": _ids([x.loadbalancer_id]),
        "l7policies": _ids(policies),
        "insert_headers": dict(x.insert_headers or {}),
        "timeout_client_data": x.timeout_client_data,
        "timeout_member_connect": x.timeout_member_connect,
        "timeout_member_data": x.timeout_member_data,
        "timeout_tcp_inspect": x.timeout_tcp_inspect,
        "allowed_cidrs": list(x.allowed_cidrs) if x.allowed_cidrs else None,
        "client_ca_tls_container_ref": None,
        "client_authentication": "NONE",
        "client_crl_container_ref": None,
        "tls_ciphers": None,
        "tls_versions": None,
        "alpn_protocols": None,
        "hsts_include_subdomains": False,
        "hsts_max_age": None,
        "hsts_preload": False,
    }


def pool(
    p: m.Pool, listeners: list[str], members: list[str], monitor: str | None
) -> dict[str, Any]:
    sp = p.session_persistence
    return {
        **_common(p),
        "protocol": p.protocol,
        "lb_algorithm": p.lb_algorithm,
        "session_persistence": ({k: v for k, v in sp.items() if v is not None} if sp else None),
        "loadbalancers": _ids([p.loadbalancer_id]),
        "listeners": _ids(listeners),
        "members": _ids(members),
        "healthmonitor_id": monitor,
        "tls_container_ref": None,
        "ca_tls_container_ref": None,
        "crl_container_ref": None,
        "tls_enabled": False,
        "tls_ciphers": None,
        "tls_versions": None,
        "alpn_protocols": None,
    }


def member(x: m.Member) -> dict[str, Any]:
    out = _common(x)
    out.pop("description", None)
    return {
        **out,
        "address": x.address,
        "protocol_port": x.protocol_port,
        "weight": x.weight,
        "backup": x.backup,
        "subnet_id": x.subnet_id,
        "monitor_address": x.monitor_address,
        "monitor_port": x.monitor_port,
        "vnic_type": "normal",
    }


def healthmonitor(h: m.HealthMonitor) -> dict[str, Any]:
    out = _common(h)
    out.pop("description", None)
    return {
        **out,
        "type": h.type,
        "delay": h.delay,
        "timeout": h.timeout,
        "max_retries": h.max_retries,
        "max_retries_down": h.max_retries_down,
        "http_method": h.http_method,
        "url_path": h.url_path,
        "expected_codes": h.expected_codes,
        "http_version": h.http_version,
        "domain_name": h.domain_name,
        "pools": _ids([h.pool_id]),
    }


def l7policy(p: m.L7Policy, rules: list[str]) -> dict[str, Any]:
    return {
        **_common(p),
        "listener_id": p.listener_id,
        "action": p.action,
        "position": p.position,
        "redirect_pool_id": p.redirect_pool_id,
        "redirect_url": p.redirect_url,
        "redirect_prefix": p.redirect_prefix,
        "redirect_http_code": p.redirect_http_code,
        "rules": _ids(rules),
    }


def l7rule(r: m.L7Rule) -> dict[str, Any]:
    out = _common(r)
    out.pop("name", None)
    out.pop("description", None)
    return {
        **out,
        "type": r.type,
        "compare_type": r.compare_type,
        "key": r.key,
        "value": r.value,
        "invert": r.invert,
    }


def quota(project_id: str, limits: dict[str, int]) -> dict[str, Any]:
    return {
        "project_id": project_id,
        "load_balancer": limits["loadbalancer"],
        "loadbalancer": limits["loadbalancer"],
        "listener": limits["listener"],
        "pool": limits["pool"],
        "member": limits["member"],
        "health_monitor": limits["healthmonitor"],
        "healthmonitor": limits["healthmonitor"],
        "l7policy": limits["l7policy"],
        "l7rule": limits["l7rule"],
    }
