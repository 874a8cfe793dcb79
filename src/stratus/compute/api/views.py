"""Nova's JSON shapes, per microversion: a request without a version header
gets exactly the 2.1 fields (strict clients check for extras).  Here the
servers, flavors, key pairs and server groups, and the helpers every view
shares; the hosts' shapes are ``host_views.py``, the instance actions' and
migrations' ``history_views.py``."""

from __future__ import annotations

import functools
import hashlib
from datetime import datetime
from typing import Any

from stratus.common.microversion import Version
from stratus.compute import models as m
from stratus.compute.service.network import VifPort

# Parsed once: views compare against these for every server rendered.
V = functools.lru_cache(maxsize=None)(Version.parse)
GUEST_ADDR, GUEST_MAC = "10.0.2.15", "52:54:00:12:34:56"


def isotime(t: datetime | None) -> str | None:
    """``2026-12-07T04:16:07Z`` (what strftime's ``%Y-%m-%dT%H:%M:%SZ``
    gives, at a fraction of its cost: a server list formats thousands)."""
    return t.replace(tzinfo=None).isoformat(timespec="seconds") + "Z" if t else None


def usgtime(t: datetime | None) -> str | None:
    """``2026-12-07T04:16:07.000123`` (strftime's ``...%S.%f``)."""
    return t.replace(tzinfo=None).isoformat(timespec="microseconds") if t else None


def links(base: str, kind: str, ident: str) -> list[dict[str, str]]:
    bookmark = base.rsplit("/v2.1", 1)[0]
    return [
        {"rel": "self", "href": f"{base}/{kind}/{ident}"},
        {"rel": "bookmark", "href": f"{bookmark}/{kind}/{ident}"},
    ]


RESIZING = frozenset({"resize_prep", "resize_migrating", "resize_migrated", "resize_finish"})


def status(server: m.Server) -> str:
    if server.task_state in RESIZING and server.vm_state in (m.ACTIVE, m.STOPPED):
        return "RESIZE"
    if server.vm_state == m.RESIZED:
        reverting = server.task_state in ("resize_reverting", "resize_revert_finish")
        return "REVERT_RESIZE" if reverting else "VERIFY_RESIZE"
    if server.vm_state == m.ACTIVE:
        return {
            "reboot_started": "REBOOT",
            "reboot_started_hard": "HARD_REBOOT",
            "rebuilding": "REBUILD",
            "rebuild_spawning": "REBUILD",
            "migrating": "MIGRATING",
        }.get(server.task_state or "", "ACTIVE")
    if server.vm_state == m.PAUSED and server.task_state == "migrating":
        return "MIGRATING"
    return {
        m.BUILDING: "BUILD",
        m.STOPPED: "SHUTOFF",
        m.PAUSED: "PAUSED",
        m.SUSPENDED: "SUSPENDED",
        m.ERROR: "ERROR",
        m.DELETED: "DELETED",
        m.SHELVED: "SHELVED",
        m.SHELVED_OFFLOADED: "SHELVED_OFFLOADED",
        m.RESCUED: "RESCUE",
    }.get(server.vm_state, "UNKNOWN")


# Stored vm_state -> the name Nova shows, where they differ (the column is short).
VM_STATE_NAMES = {m.SHELVED_OFFLOADED: "shelved_offloaded"}


def port_addresses(ports: list[VifPort]) -> dict[str, list[dict[str, Any]]]:
    """The server's addresses by network name, from its ports: each fixed
    IP, then the floating IPs pointing at the port."""
    out: dict[str, list[dict[str, Any]]] = {}
    for port in ports:
        entries = out.setdefault(port.network_name or port.network_id, [])
        for fixed in port.fixed_ips:
            entries.append(
                {
                    "version": fixed.version,
                    "addr": fixed.ip_address,
                    "OS-EXT-IPS:type": "fixed",
                    "OS-EXT-IPS-MAC:mac_addr": port.mac_address,
                }
            )
        for address in port.floating_ips:
            entries.append(
                {
                    "version": 6 if ":" in address else 4,
                    "addr": address,
                    "OS-EXT-IPS:type": "floating",
                    "OS-EXT-IPS-MAC:mac_addr": port.mac_address,
                }
            )
    return out


def addresses(
    server: m.Server, ports: list[VifPort] | None = None
) -> dict[str, list[dict[str, Any]]]:
    """From the server's ports when there is a network service (``ports``
    not None), else the user-mode network's (the guest's QEMU address and
    its forwarded SSH port)."""
    if ports is not None:
        return port_addresses(ports)
    if server.networks == "none" or server.vm_state == m.BUILDING and server.host_port is None:
        return {}
    fixed = {
        "version": 4,
        "addr": GUEST_ADDR,
        "OS-EXT-IPS:type": "fixed",
        "OS-EXT-IPS-MAC:mac_addr": GUEST_MAC,
    }
    if not server.host_port:
        return {"user": [fixed]}
    # Until there is a network service, a guest is reached through a port of
    # the host forwarded to its port 22; the network's label says which.
    forwarded = {
        "version": 4,
        "addr": "127.0.0.1",
        "OS-EXT-IPS:type": "floating",
        "OS-EXT-IPS-MAC:mac_addr": GUEST_MAC,
    }
    return {f"user-hostfwd-127.0.0.1-{server.host_port}": [fixed, forwarded]}


PROGRESS_STATUSES = frozenset(
    {"ACTIVE", "BUILD", "REBUILD", "RESIZE", "VERIFY_RESIZE", "MIGRATING"}
)


def server(
    s: m.Server,
    v: Version,
    base: str,
    *,
    admin: bool,
    image_base: str,
    host_status: str | None = None,
    ports: list[VifPort] | None = None,
    volumes: list[m.VolumeAttachment] | None = None,
) -> dict[str, Any]:
    host_id = hashlib.sha224(f"{s.project_id}{s.host}".encode()).hexdigest() if s.host else ""
    out: dict[str, Any] = {
        "id": s.id,
        "name": s.name,
        "status": status(s),
        "tenant_id": s.project_id,
        "user_id": s.user_id,
        "metadata": dict(s.metadata_),
        "hostId": host_id,
        "image": {
            "id": s.image_ref,
            "links": [{"rel": "bookmark", "href": f"{image_base}/images/{s.image_ref}"}],
        }
        if s.image_ref
        else "",
        "created": isotime(s.created_at),
        "updated": isotime(s.updated_at),
        "addresses": addresses(s, ports),
        "accessIPv4": s.access_ip_v4 or "",
        "accessIPv6": s.access_ip_v6 or "",
        "links": links(base, "servers", s.id),
        "key_name": s.key_name,
        "config_drive": "True" if s.config_drive else "",
        "OS-DCF:diskConfig": "MANUAL",
        "OS-EXT-AZ:availability_zone": s.availability_zone or "",
        "OS-EXT-STS:task_state": s.task_state,
        "OS-EXT-STS:vm_state": VM_STATE_NAMES.get(s.vm_state, s.vm_state),
        "OS-EXT-STS:power_state": s.power_state,
        "os-extended-volumes:volumes_attached": _volumes_attached(volumes or [], v),
        "OS-SRV-USG:launched_at": usgtime(s.launched_at),
        "OS-SRV-USG:terminated_at": usgtime(s.terminated_at),
        "flavor": _server_flavor(s, v, base),
    }
    if out["status"] in PROGRESS_STATUSES:  # Nova shows progress only then
        out["progress"] = s.progress if s.vm_state in (m.BUILDING, m.ACTIVE) else 0
    groups = sorted({g for p in ports or [] for g in p.security_groups})
    if groups:
        out["security_groups"] = [{"name": g} for g in groups]
    elif s.networks != "none" and not ports:
        out["security_groups"] = [{"name": "default"}]
    if admin:
        out.update(_admin_attributes(s, v))
    elif v >= V("2.90"):
        out["OS-EXT-SRV-ATTR:hostname"] = s.hostname
    if s.vm_state == m.ERROR and s.fault:
        out["fault"] = _fault(s.fault, admin)
    out.update(_later_fields(s, v, admin, host_status))
    return out


def _volumes_attached(volumes: list[m.VolumeAttachment], v: Version) -> list[dict[str, Any]]:
    with_flag = v >= V("2.3")
    return [
        {
            "id": a.volume_id,
            **({"delete_on_termination": a.delete_on_termination} if with_flag else {}),
        }
        for a in volumes
    ]


def _server_flavor(s: m.Server, v: Version, base: str) -> dict[str, Any]:
    """The flavor as 2.47 embeds it, or a link to it before."""
    if v >= V("2.47"):
        f = s.flavor
        return {
            "vcpus": f["vcpus"],
            "ram": f["ram"],
            "disk": f["disk"],
            "ephemeral": f["ephemeral"],
            "swap": f["swap"],
            "original_name": f["name"],
            "extra_specs": dict(f.get("extra_specs", {})),
        }
    return {
        "id": s.flavor_id,
        "links": [
            {"rel": "bookmark", "href": f"{base.rsplit('/v2.1', 1)[0]}/flavors/{s.flavor_id}"}
        ],
    }


def _admin_attributes(s: m.Server, v: Version) -> dict[str, Any]:
    """OS-EXT-SRV-ATTR, which only admins see (all of it from 2.3)."""
    out: dict[str, Any] = {
        "OS-EXT-SRV-ATTR:host": s.host,
        "OS-EXT-SRV-ATTR:hypervisor_hostname": s.host,
        "OS-EXT-SRV-ATTR:instance_name": instance_name(s),
    }
    if v >= V("2.3"):
        out.update(
            {
                "OS-EXT-SRV-ATTR:reservation_id": f"r-{s.id[:8]}",
                "OS-EXT-SRV-ATTR:launch_index": 0,
                "OS-EXT-SRV-ATTR:hostname": s.hostname,
                "OS-EXT-SRV-ATTR:kernel_id": "",
                "OS-EXT-SRV-ATTR:ramdisk_id": "",
                "OS-EXT-SRV-ATTR:root_device_name": "/dev/vda",
                "OS-EXT-SRV-ATTR:user_data": s.user_data,
            }
        )
    return out


def _fault(stored: dict[str, Any], admin: bool) -> dict[str, Any]:
    fault = {
        "code": stored.get("code", 500),
        "created": stored.get("created"),
        "message": stored.get("message", ""),
    }
    if admin:
        fault["details"] = stored.get("details", "")
    return fault


def _later_fields(s: m.Server, v: Version, admin: bool, host_status: str | None) -> dict[str, Any]:
    """The fields later microversions added, each from its own."""
    out: dict[str, Any] = {}
    if v >= V("2.9"):
        out["locked"] = s.locked
    if v >= V("2.16") and admin and host_status is not None:
        out["host_status"] = host_status
    if v >= V("2.19"):
        out["description"] = s.description
    if v >= V("2.26"):
        out["tags"] = list(s.tags)
    if v >= V("2.63"):
        out["trusted_image_certificates"] = None
    if v >= V("2.71"):
        out["server_groups"] = [s.group_id] if s.group_id else []
    if v >= V("2.73"):
        out["locked_reason"] = s.locked_reason
    if v >= V("2.96"):
        out["pinned_availability_zone"] = (
            s.requested_zone.split(":")[0] if s.requested_zone else None
        )
    return out


# What the answers of PUT /servers/{id} and rebuild leave out before 2.75
# (Nova's view without its extensions; 2.75 made them the full view).
UPDATE_LEAVES_OUT = (
    "key_name",
    "config_drive",
    "security_groups",
    "os-extended-volumes:volumes_attached",
)
UPDATE_LEAVES_OUT_PREFIXES = ("OS-EXT-AZ:", "OS-EXT-STS:", "OS-EXT-SRV-ATTR:", "OS-SRV-USG:")


def updated_server(view: dict[str, Any], v: Version) -> dict[str, Any]:
    """The server as the answer to an update or a rebuild shows it at ``v``."""
    if v >= V("2.75"):
        return view
    out = {
        k: value
        for k, value in view.items()
        if k not in UPDATE_LEAVES_OUT and not k.startswith(UPDATE_LEAVES_OUT_PREFIXES)
    }
    out["addresses"] = {
        net: [{"version": a["version"], "addr": a["addr"]} for a in addrs]
        for net, addrs in view["addresses"].items()
    }
    return out


def server_brief(s: m.Server, base: str) -> dict[str, Any]:
    return {"id": s.id, "name": s.name, "links": links(base, "servers", s.id)}


def flavor(
    f: m.Flavor, v: Version, base: str, *, detail: bool = True, show_specs: bool = True
) -> dict[str, Any]:
    out: dict[str, Any] = {"id": f.id, "name": f.name, "links": links(base, "flavors", f.id)}
    if v >= V("2.55"):
        out["description"] = f.description
    if not detail:
        return out
    out.update(
        {
            "ram": f.memory_mb,
            "disk": f.root_gb,
            "vcpus": f.vcpus,
            "OS-FLV-EXT-DATA:ephemeral": f.ephemeral_gb,
            "OS-FLV-DISABLED:disabled": f.disabled,
            "os-flavor-access:is_public": f.is_public,
            "swap": f.swap if v >= V("2.75") else (f.swap or ""),
            "rxtx_factor": f.rxtx_factor,
        }
    )
    if v >= V("2.61") and show_specs:
        out["extra_specs"] = dict(f.extra_specs)
    return out


def keypair(
    k: m.KeyPair, v: Version, *, full: bool = False, private_key: str | None = None
) -> dict[str, Any]:
    out: dict[str, Any] = {"name": k.name, "public_key": k.public_key, "fingerprint": k.fingerprint}
    if v >= V("2.2"):
        out["type"] = k.type
    if full:
        out.update(
            {
                "user_id": k.user_id,
                "created_at": usgtime(k.created_at),
                "deleted": False,
                "deleted_at": None,
                "updated_at": None,
                "id": k.id,
            }
        )
    if private_key is not None:
        out["private_key"] = private_key
        out["user_id"] = k.user_id
    return out


def group(g: m.ServerGroup, members: list[str], v: Version) -> dict[str, Any]:
    out: dict[str, Any] = {"id": g.id, "name": g.name, "members": members}
    if v >= V("2.64"):
        out.update({"policy": g.policy, "rules": dict(g.rules)})
    else:
        out.update({"policies": [g.policy], "metadata": {}})
    if v >= V("2.13"):
        out.update({"project_id": g.project_id, "user_id": g.user_id})
    return out


def instance_name(s: m.Server) -> str:
    return f"instance-{int(s.id[:8], 16):08x}"
