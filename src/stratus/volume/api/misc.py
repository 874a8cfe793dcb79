"""Version discovery, extensions, limits, quotas, availability zones,
services, pools and user messages."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from stratus.common.api import ApiRequest, empty_response, json_response
from stratus.volume.api import params as p
from stratus.volume.api import views
from stratus.volume.errors import BadRequest, NotFound
from stratus.volume.service import VolumeService
from stratus.volume.service.hosts import agent_of

MIN_VERSION, MAX_VERSION = "3.0", "3.71"
UPDATED = "2024-09-01T00:00:00Z"
# (alias, name, description) of the API extensions Cinder lists.
EXTENSIONS = (
    ("OS-SCH-HNT", "SchedulerHints", "Pass arbitrary key/value pairs to the scheduler."),
    ("backups", "Backups", "Backups support."),
    ("os-admin-actions", "AdminActions", "Enable admin actions."),
    ("os-availability-zone", "AvailabilityZones", "Describe Availability Zones."),
    ("os-extended-services", "ExtendedServices", "Extended services support."),
    ("os-extended-snapshot-attributes", "ExtendedSnapshotAttributes",
     "Extended SnapshotAttributes support."),
    ("os-hosts", "Hosts", "Admin-only host administration."),
    ("os-quota-sets", "Quotas", "Quota management support."),
    ("os-services", "Services", "Services support."),
    ("os-snapshot-actions", "SnapshotActions", "Enable snapshot manager actions."),
    ("os-types-extra-specs", "TypesExtraSpecs", "Type extra specs support."),
    ("os-types-manage", "TypesManage", "Types manage support."),
    ("os-used-limits", "UsedLimits", "Provide data on limited resources that are being used."),
    ("os-vol-host-attr", "VolumeHostAttribute", "Expose host as an attribute of a volume."),
    ("os-vol-image-meta", "VolumeImageMetadata", "Show image metadata associated with the volume."),
    ("os-vol-mig-status-attr", "VolumeMigStatusAttribute",
     "Expose migration_status as an attribute of a volume."),
    ("os-vol-tenant-attr", "VolumeTenantAttribute",
     "Expose the internal project_id as an attribute of a volume."),
    ("os-volume-actions", "VolumeActions", "Enable volume actions."),
    ("os-volume-transfer", "VolumeTransfer", "Volume transfer management support."),
    ("os-volume-type-access", "VolumeTypeAccess", "Volume type access support."),
    ("qos-specs", "Qos_specs_manage", "QoS specs support."),
    ("scheduler-stats", "Scheduler_stats", "Scheduler stats support."),
)  # fmt: skip


def _version_doc(root: str) -> dict[str, Any]:
    return {
        "id": "v3.0",
        "status": "CURRENT",
        "version": MAX_VERSION,
        "min_version": MIN_VERSION,
        "updated": UPDATED,
        "links": [
            {"rel": "describedby", "type": "text/html", "href": "https://docs.openstack.org/"},
            {"rel": "self", "href": f"{root}/v3/"},
        ],
        "media-types": [
            {"base": "application/json", "type": "application/vnd.openstack.volume+json;version=3"}
        ],
    }


async def versions(req: ApiRequest[VolumeService]) -> Response:
    return json_response({"versions": [_version_doc(req.base_url)]}, 300)


async def version(req: ApiRequest[VolumeService]) -> Response:
    return json_response({"versions": [_version_doc(req.base_url)]})


async def extensions(req: ApiRequest[VolumeService]) -> Response:
    p.check_project(req)
    return json_response(
        {
            "extensions": [
                {"alias": alias, "name": name, "description": text, "links": [],
                 "updated": "2013-04-18T00:00:00+00:00"}
                for alias, name, text in EXTENSIONS
            ]
        }
    )  # fmt: skip


# -- limits and quotas ----------------------------------------------------------------------------


async def limits(req: ApiRequest[VolumeService]) -> Response:
    p.check_project(req)
    req.authorize("volume:limits")
    svc, project = p.svc(req), req.ctx.project_id or ""
    limit = await svc.quotas.limits(project)
    used = await svc.quotas.usage(project)
    absolute = {
        "maxTotalVolumes": limit["volumes"],
        "maxTotalSnapshots": limit["snapshots"],
        "maxTotalVolumeGigabytes": limit["gigabytes"],
        "maxTotalBackups": limit["backups"],
        "maxTotalBackupGigabytes": limit["backup_gigabytes"],
        "totalVolumesUsed": used.get("volumes", 0),
        "totalSnapshotsUsed": used.get("snapshots", 0),
        "totalGigabytesUsed": used.get("gigabytes", 0),
        "totalBackupsUsed": used.get("backups", 0),
        "totalBackupGigabytesUsed": used.get("backup_gigabytes", 0),
    }
    return json_response({"limits": {"rate": [], "absolute": absolute}})


async def quota_show(req: ApiRequest[VolumeService]) -> Response:
    p.check_project(req)
    project = req.params["target_project"]
    req.authorize("volume:quotas:show", {"project_id": project})
    svc = p.svc(req)
    limit = await svc.quotas.limits(project)
    body: dict[str, Any] = {"id": project}
    if p.truthy(req.query.usage):
        used = await svc.quotas.usage(project)
        for key, value in limit.items():
            body[key] = {"limit": value, "in_use": used.get(key, 0), "reserved": 0, "allocated": 0}
    else:
        body.update(limit)
    return json_response({"quota_set": body})


async def quota_defaults(req: ApiRequest[VolumeService]) -> Response:
    p.check_project(req)
    project = req.params["target_project"]
    req.authorize("volume:quotas:show", {"project_id": project})
    return json_response({"quota_set": {"id": project, **await p.svc(req).quotas.limits(None)}})


async def quota_update(req: ApiRequest[VolumeService]) -> Response:
    p.check_project(req)
    project = req.params["target_project"]
    req.authorize("volume:quotas:update", {"project_id": project})
    values = {k: v for k, v in req.body.quota_set.items() if k not in ("tenant_id", "id")}
    if not values:
        raise BadRequest("Missing required element 'quota_set' in request body.")
    await p.svc(req).quotas.set(project, values)
    return json_response({"quota_set": await p.svc(req).quotas.limits(project)})


async def quota_delete(req: ApiRequest[VolumeService]) -> Response:
    p.check_project(req)
    project = req.params["target_project"]
    req.authorize("volume:quotas:update", {"project_id": project})
    await p.svc(req).quotas.reset(project)
    return empty_response(200)


# -- zones, services, pools -----------------------------------------------------------------------


async def zones(req: ApiRequest[VolumeService]) -> Response:
    p.check_project(req)
    req.authorize("volume:zones")
    return json_response(
        {
            "availabilityZoneInfo": [
                {"zoneName": zone, "zoneState": {"available": up}}
                for zone, up in await p.svc(req).hosts.zones()
            ]
        }
    )


async def services(req: ApiRequest[VolumeService]) -> Response:
    p.check_project(req)
    req.authorize("volume:services")
    out: list[dict[str, Any]] = []
    version = p.version(req)
    for view in await p.svc(req).hosts.list_hosts():
        row = view.row
        for binary, host, disabled in (
            ("cinder-volume", row.host, row.disabled),
            ("cinder-backup", agent_of(row.host), row.backup_disabled),
        ):
            entry: dict[str, Any] = {
                "binary": binary,
                "host": host,
                "zone": row.availability_zone,
                "status": "disabled" if disabled else "enabled",
                "state": "up" if view.up else "down",
                "updated_at": views.ts(row.heartbeat),
                "disabled_reason": row.disabled_reason if binary == "cinder-volume" else None,
            }
            if binary == "cinder-volume":
                entry |= {"replication_status": "disabled", "active_backend_id": None,
                          "frozen": row.frozen}  # fmt: skip
                if version.at_least("3.49"):
                    entry["backend_state"] = "up" if view.up else "down"
            if version.at_least("3.7"):
                entry["cluster"] = None
            out.append(entry)
    q = req.query
    out = [
        s
        for s in out
        if (not q.host or s["host"] == q.host) and (not q.binary or s["binary"] == q.binary)
    ]
    return json_response({"services": out})


async def service_update(req: ApiRequest[VolumeService]) -> Response:
    p.check_project(req)
    req.authorize("volume:services")
    action, b = req.params["action"], req.body
    binary = b.binary or ("cinder-volume" if "@" in b.host else "")
    hosts = p.svc(req).hosts
    if action in ("enable", "disable", "disable-log-reason"):
        if action == "disable-log-reason" and not (b.disabled_reason or "").strip():
            raise BadRequest("Disabled reason contains invalid characters or is too long")
        disabled = action != "enable"
        await hosts.set_service(b.host, binary, disabled=disabled, reason=b.disabled_reason)
        body = {"host": b.host, "binary": binary, "status": "disabled" if disabled else "enabled",
                "disabled": disabled}  # fmt: skip
        if disabled:
            body["disabled_reason"] = b.disabled_reason
        return json_response(body)
    if action in ("freeze", "thaw"):
        await hosts.set_service(b.host, "cinder-volume", frozen=action == "freeze")
        return empty_response(200)
    raise NotFound(f"Unknown action {action}.")


async def hosts(req: ApiRequest[VolumeService]) -> Response:
    """os-hosts: every volume and backup service, Cinder's older view."""
    p.check_project(req)
    req.authorize("volume:services")
    out = []
    for view in await p.svc(req).hosts.list_hosts():
        row = view.row
        for service, host, disabled in (
            ("cinder-volume", row.host, row.disabled),
            ("cinder-backup", agent_of(row.host), row.backup_disabled),
        ):
            out.append(
                {
                    "service-status": "available" if view.up else "unavailable",
                    "service": service,
                    "zone": row.availability_zone,
                    "service-state": "disabled" if disabled else "enabled",
                    "host_name": host,
                    "last-update": views.ts(row.heartbeat),
                }
            )
    return json_response({"hosts": out})


async def host_show(req: ApiRequest[VolumeService]) -> Response:
    """What each project keeps on one volume host."""
    p.check_project(req)
    req.authorize("volume:services")
    host = req.params["host_name"]
    names = {v.row.host for v in await p.svc(req).hosts.list_hosts()}
    if host not in names:
        raise NotFound(f"Host {host} could not be found.")
    usage = await p.svc(req).hosts.usage(host)
    return json_response(
        {
            "host": [
                {"resource": {"host": host, "project": project, "volume_count": str(c[0]),
                              "total_volume_gb": str(c[1]), "snapshot_count": str(c[2]),
                              "total_snapshot_gb": str(c[3])}}
                for project, c in sorted(usage.items())
            ]
        }
    )  # fmt: skip


async def pools(req: ApiRequest[VolumeService]) -> Response:
    p.check_project(req)
    req.authorize("volume:pools")
    out = []
    for view in await p.svc(req).hosts.list_hosts():
        row = view.row
        pool: dict[str, Any] = {"name": f"{row.host}#{row.backend}"}
        if p.truthy(req.query.detail):
            pool["capabilities"] = {
                "volume_backend_name": row.backend,
                "pool_name": row.backend,
                "driver_version": "1.0",
                "storage_protocol": "file",
                "vendor_name": "Stratus",
                "total_capacity_gb": row.capacity_gb,
                "free_capacity_gb": row.free_gb,
                "timestamp": views.ts(row.heartbeat),
                **row.capabilities,
            }
        out.append(pool)
    return json_response({"pools": out})


# -- messages -----------------------------------------------------------------------------------


def _messages(req: ApiRequest[VolumeService]) -> None:
    p.check_project(req)
    if not p.version(req).at_least("3.3"):
        raise NotFound("User messages need microversion 3.3 or later.")


async def message_index(req: ApiRequest[VolumeService]) -> Response:
    _messages(req)
    req.authorize("volume:messages", {"project_id": req.ctx.project_id})
    rows = await p.svc(req).messages.list_messages(req.ctx)
    return json_response({"messages": [views.message(x, p.base(req)) for x in rows]})


async def message_show(req: ApiRequest[VolumeService]) -> Response:
    _messages(req)
    row = await p.svc(req).messages.get(req.ctx, req.params["message_id"])
    req.authorize("volume:messages", {"project_id": row.project_id})
    return json_response({"message": views.message(row, p.base(req))})


async def message_delete(req: ApiRequest[VolumeService]) -> Response:
    _messages(req)
    row = await p.svc(req).messages.get(req.ctx, req.params["message_id"])
    req.authorize("volume:messages:delete", {"project_id": row.project_id})
    await p.svc(req).messages.delete(req.ctx, row.id)
    return empty_response(204)
