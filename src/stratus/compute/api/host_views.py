"""Nova's JSON shapes of the cloud's hosts, per microversion: os-services,
os-hypervisors, os-aggregates, and a server's diagnostics (the host's
view of its guest)."""

from __future__ import annotations

from typing import Any

from stratus.common.microversion import Version
from stratus.compute.api.views import V, usgtime
from stratus.compute.drivers.base import Diagnostics
from stratus.compute.service.aggregates import AggregateView
from stratus.compute.service.hosts import HostView


def service(h: HostView, v: Version) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": h.host.uuid if v >= V("2.53") else h.host.id,
        "binary": "nova-compute",
        "host": h.host.host,
        "zone": h.host.availability_zone,
        "status": "disabled" if h.host.disabled else "enabled",
        "state": "up" if h.alive else "down",
        "updated_at": usgtime(h.host.heartbeat),
        "disabled_reason": h.host.disabled_reason,
    }
    if v >= V("2.11"):
        out["forced_down"] = h.host.forced_down
    return out


def hypervisor(h: HostView, v: Version, *, detail: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": h.host.uuid if v >= V("2.53") else h.host.id,
        "hypervisor_hostname": h.host.host,
        "state": "up" if h.alive else "down",
        "status": "disabled" if h.host.disabled else "enabled",
    }
    if not detail:
        return out
    out.update(
        {
            "hypervisor_type": h.host.hypervisor_type,
            "hypervisor_version": h.host.hypervisor_version,
            "host_ip": "127.0.0.1",
            "service": {
                "host": h.host.host,
                "id": h.host.uuid if v >= V("2.53") else h.host.id,
                "disabled_reason": h.host.disabled_reason,
            },
        }
    )
    if v < V("2.88"):
        out.update(
            {
                "vcpus": h.host.vcpus,
                "memory_mb": h.host.memory_mb,
                "local_gb": h.host.local_gb,
                "vcpus_used": h.used.vcpus,
                "memory_mb_used": h.used.memory_mb,
                "local_gb_used": h.used.disk_gb,
                "free_ram_mb": h.host.memory_mb - h.used.memory_mb,
                "free_disk_gb": h.host.local_gb - h.used.disk_gb,
                "current_workload": 0,
                "running_vms": h.used.servers,
                "disk_available_least": h.host.local_gb - h.used.disk_gb,
                "cpu_info": h.host.cpu_info,
            }
        )
    else:
        out["uptime"] = None
    return out


def aggregate(a: AggregateView, v: Version, *, created: bool = False) -> dict[str, Any]:
    """An aggregate as os-aggregates shows it (its create answer has neither
    hosts nor metadata, as Nova's)."""
    out: dict[str, Any] = {
        "availability_zone": a.zone,
        "created_at": usgtime(a.row.created_at),
        "deleted": False,
        "deleted_at": None,
        "id": a.row.id,
        "name": a.row.name,
        "updated_at": usgtime(a.row.updated_at),
    }
    if not created:
        out["hosts"] = list(a.hosts)
        out["metadata"] = dict(a.row.metadata_)
    if v >= V("2.41"):
        out["uuid"] = a.row.uuid
    return out


def diagnostics(d: Diagnostics, v: Version) -> dict[str, Any]:
    """A server's diagnostics: Nova's standard shape from 2.48, before it
    the flat dictionary Nova's libvirt driver answered."""
    if v < V("2.48"):
        flat: dict[str, Any] = {f"cpu{i}_time": t for i, t in enumerate(d.cpu_times)}
        flat["memory"] = d.memory_mb * 1024  # KiB
        for disk in d.disks:
            flat[f"{disk.name}_read"] = disk.read_bytes
            flat[f"{disk.name}_read_req"] = disk.read_requests
            flat[f"{disk.name}_write"] = disk.write_bytes
            flat[f"{disk.name}_write_req"] = disk.write_requests
            flat[f"{disk.name}_errors"] = disk.errors_count
        for i, nic in enumerate(d.nics):
            for key in ("rx_octets", "rx_packets", "rx_errors", "rx_drop"):
                flat[f"vnet{i}_{key.replace('_octets', '')}"] = getattr(nic, key)
            for key in ("tx_octets", "tx_packets", "tx_errors", "tx_drop"):
                flat[f"vnet{i}_{key.replace('_octets', '')}"] = getattr(nic, key)
        return flat
    return {
        "state": d.state,
        "driver": d.driver,
        "hypervisor": d.hypervisor,
        "hypervisor_os": d.hypervisor_os,
        "uptime": d.uptime,
        "config_drive": d.config_drive,
        "num_cpus": d.num_cpus,
        "num_disks": len(d.disks),
        "num_nics": len(d.nics),
        "memory_details": {"maximum": d.memory_mb, "used": None},
        "cpu_details": [
            {"id": i, "time": t, "utilisation": None} for i, t in enumerate(d.cpu_times)
        ],
        "disk_details": [
            {
                "read_bytes": disk.read_bytes,
                "read_requests": disk.read_requests,
                "write_bytes": disk.write_bytes,
                "write_requests": disk.write_requests,
                "errors_count": disk.errors_count,
            }
            for disk in d.disks
        ],
        "nic_details": [
            {
                "mac_address": nic.mac_address,
                "rx_octets": nic.rx_octets,
                "rx_errors": nic.rx_errors,
                "rx_drop": nic.rx_drop,
                "rx_packets": nic.rx_packets,
                "rx_rate": None,
                "tx_octets": nic.tx_octets,
                "tx_errors": nic.tx_errors,
                "tx_drop": nic.tx_drop,
                "tx_packets": nic.tx_packets,
                "tx_rate": None,
            }
            for nic in d.nics
        ],
    }
