"""Discovery, server groups, limits, quota sets, services and zones."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from stratus.common.api import ApiRequest, empty_response, json_response
from stratus.common.microversion import Version
from stratus.compute.api import host_views, views
from stratus.compute.errors import BadRequest
from stratus.compute.service import ComputeService
from stratus.compute.service.quotas import DEFAULT_CLASS, LEGACY, RESOURCES

MIN_VERSION, MAX_VERSION = "2.1", "2.96"
UPDATED = "2013-07-23T11:33:21Z"
LEGACY_UPDATED = "2011-01-21T11:33:21Z"


def _v(req: ApiRequest[ComputeService]) -> Version:
    assert req.version is not None
    return req.version


def _version(base: str) -> dict[str, Any]:
    return {
        "id": "v2.1",
        "status": "CURRENT",
        "version": MAX_VERSION,
        "min_version": MIN_VERSION,
        "updated": UPDATED,
        "links": [{"rel": "self", "href": f"{base}/"}],
        "media-types": [
            {
                "base": "application/json",
                "type": "application/vnd.openstack.compute+json;version=2.1",
            }
        ],
    }


def _legacy_version(root: str) -> dict[str, Any]:
    """v2.0: Nova still lists it first (the v2.1 API without microversions)."""
    return {
        "id": "v2.0",
        "status": "SUPPORTED",
        "version": "",
        "min_version": "",
        "updated": LEGACY_UPDATED,
        "links": [{"rel": "self", "href": f"{root}/v2/"}],
        "media-types": [
            {
                "base": "application/json",
                "type": "application/vnd.openstack.compute+json;version=2",
            }
        ],
    }


def _root(req: ApiRequest[ComputeService]) -> str:
    return req.base_url.rsplit("/v2.1", 1)[0]


async def versions(req: ApiRequest[ComputeService]) -> Response:
    """The version list, v2.0 first as Nova has it (media types only in
    the single version's document)."""
    listed = [_legacy_version(_root(req)), _version(req.base_url)]
    for v in listed:
        del v["media-types"]
    return json_response({"versions": listed})


async def version(req: ApiRequest[ComputeService]) -> Response:
    return json_response({"version": _version(req.base_url)})


async def legacy_version(req: ApiRequest[ComputeService]) -> Response:
    return json_response({"version": _legacy_version(_root(req))})


# -- server groups ----------------------------------------------------------------------------


async def group_index(req: ApiRequest[ComputeService]) -> Response:
    req.authorize("compute:server_groups:index")
    all_projects = req.query.all_projects is not None and req.ctx.is_admin
    svc = req.service
    rows = await svc.groups.list_groups(req.ctx, all_projects)
    members = await svc.groups.members([g.id for g in rows])
    return json_response({"server_groups": [views.group(g, members[g.id], _v(req)) for g in rows]})


async def group_show(req: ApiRequest[ComputeService]) -> Response:
    req.authorize("compute:server_groups:index")
    svc = req.service
    group = await svc.groups.get(req.ctx, req.params["group_id"])
    members = await svc.groups.members([group.id])
    return json_response({"server_group": views.group(group, members[group.id], _v(req))})


async def group_create(req: ApiRequest[ComputeService]) -> Response:
    req.authorize("compute:server_groups:create", {"project_id": req.ctx.project_id})
    b = req.body.server_group
    v = _v(req)
    if v >= Version.parse("2.64"):
        if b.policies is not None or not b.policy:
            raise BadRequest(
                "Since microversion 2.64 a server group takes one 'policy' (and 'rules')."
            )
        policy, rules = b.policy, b.rules or {}
    else:
        if b.policy is not None or b.rules is not None or not b.policies or len(b.policies) != 1:
            raise BadRequest(
                "A server group takes 'policies' with exactly one policy before microversion 2.64."
            )
        policy, rules = b.policies[0], {}
        if policy.startswith("soft") and v < Version.parse("2.15"):
            raise BadRequest("Soft affinity policies need microversion 2.15.")
    group = await req.service.groups.create(req.ctx, b.name, policy, rules)
    return json_response({"server_group": views.group(group, [], v)})


async def group_delete(req: ApiRequest[ComputeService]) -> Response:
    req.authorize("compute:server_groups:delete")
    await req.service.groups.delete(req.ctx, req.params["group_id"])
    return empty_response()


# -- limits and quotas ----------------------------------------------------------------------------


async def limits(req: ApiRequest[ComputeService]) -> Response:
    svc = req.service
    project = req.ctx.project_id or ""
    lim = await svc.quotas.limits(project)
    used = await svc.quotas.usage(project)
    absolute = {
        "maxTotalInstances": lim["instances"],
        "maxTotalCores": lim["cores"],
        "maxTotalRAMSize": lim["ram"],
        "maxTotalKeypairs": lim["key_pairs"],
        "maxServerMeta": lim["metadata_items"],
        "maxServerGroups": lim["server_groups"],
        "maxServerGroupMembers": lim["server_group_members"],
        "totalInstancesUsed": used["instances"],
        "totalCoresUsed": used["cores"],
        "totalRAMUsed": used["ram"],
        "totalServerGroupsUsed": used["server_groups"],
    }
    if _v(req) < Version.parse("2.57"):
        absolute.update({"maxPersonality": -1, "maxPersonalitySize": -1, "maxImageMeta": 128})
    if _v(req) < Version.parse("2.36"):
        absolute.update(
            {
                "maxSecurityGroups": -1,
                "maxSecurityGroupRules": -1,
                "maxTotalFloatingIps": -1,
                "totalFloatingIpsUsed": 0,
                "totalSecurityGroupsUsed": 0,
            }
        )
    return json_response({"limits": {"rate": [], "absolute": absolute}})


def _quota_body(project_id: str, values: dict[str, int], v: Version) -> dict[str, Any]:
    body: dict[str, Any] = {"id": project_id, **{r: values[r] for r in RESOURCES}}
    if v < Version.parse("2.57"):
        body.update({k: val for k, val in LEGACY.items() if k.startswith("injected")})
    if v < Version.parse("2.36"):
        body.update({k: val for k, val in LEGACY.items() if not k.startswith("injected")})
    return body


async def quota_show(req: ApiRequest[ComputeService]) -> Response:
    project = req.params["project_id"]
    req.authorize("compute:quotas:show", {"project_id": project})
    values = await req.service.quotas.limits(project)
    return json_response({"quota_set": _quota_body(project, values, _v(req))})


async def quota_detail(req: ApiRequest[ComputeService]) -> Response:
    project = req.params["project_id"]
    req.authorize("compute:quotas:show", {"project_id": project})
    svc = req.service
    limits = await svc.quotas.limits(project)
    used = await svc.quotas.usage(project)
    key_pairs = len(await svc.keypairs.list_keypairs(req.ctx.user_id or ""))
    used["key_pairs"] = key_pairs if project == req.ctx.project_id else 0
    body: dict[str, Any] = {"id": project}
    for resource in RESOURCES:
        body[resource] = {"limit": limits[resource], "in_use": used.get(resource, 0), "reserved": 0}
    return json_response({"quota_set": body})


async def quota_defaults(req: ApiRequest[ComputeService]) -> Response:
    project = req.params["project_id"]
    req.authorize("compute:quotas:show", {"project_id": project})
    values = await req.service.quotas.class_limits(DEFAULT_CLASS)
    return json_response({"quota_set": _quota_body(project, values, _v(req))})


async def quota_update(req: ApiRequest[ComputeService]) -> Response:
    project = req.params["project_id"]
    req.authorize("compute:quotas:update")
    raw = dict(req.body.quota_set.model_extra or {})
    values: dict[str, int] = {}
    for key, value in raw.items():
        if key in LEGACY:
            continue
        if key not in RESOURCES:
            raise BadRequest(f"Bad key(s) {key} in quota_set")
        try:
            number = int(value)
        except (TypeError, ValueError) as exc:
            raise BadRequest(f"Invalid input for field/attribute {key}. Value: {value}.") from exc
        if number < -1:
            raise BadRequest(f"Invalid input for field/attribute {key}: -1 (unlimited) or more.")
        values[key] = number
    result = await req.service.quotas.set(project, values)
    body = _quota_body(project, result, _v(req))
    body.pop("id")
    return json_response({"quota_set": body})


async def quota_delete(req: ApiRequest[ComputeService]) -> Response:
    req.authorize("compute:quotas:update")
    await req.service.quotas.reset(req.params["project_id"])
    return empty_response(202)


# -- services and zones ------------------------------------------------------------------------


async def service_index(req: ApiRequest[ComputeService]) -> Response:
    req.authorize("compute:services")
    rows = await req.service.hosts.list_hosts()
    q = req.query
    if q is not None and q.host:
        rows = [h for h in rows if h.host.host == q.host]
    if q is not None and q.binary and q.binary != "nova-compute":
        rows = []
    return json_response({"services": [host_views.service(h, _v(req)) for h in rows]})


async def service_update(req: ApiRequest[ComputeService]) -> Response:
    req.authorize("compute:services")
    if _v(req) < Version.parse("2.53"):
        raise BadRequest("Updating a service by id needs microversion 2.53.")
    b = req.body
    disabled = None
    if b.status is not None:
        if b.status not in ("enabled", "disabled"):
            raise BadRequest("Invalid status: enabled or disabled.")
        disabled = b.status == "disabled"
    if b.disabled_reason is not None and b.status != "disabled":
        raise BadRequest("disabled_reason goes with status 'disabled'.")
    view = await req.service.hosts.set_state(
        req.params["service_id"],
        disabled=disabled,
        reason=b.disabled_reason,
        forced_down=b.forced_down,
    )
    return json_response({"service": host_views.service(view, _v(req))})


def _zone_hosts(hosts: list[Any]) -> dict[str, list[Any]]:
    """The compute hosts by zone; the default zone while there is no host."""
    zones: dict[str, list[Any]] = {} if hosts else {"nova": []}
    for h in hosts:
        zones.setdefault(h.host.availability_zone or "nova", []).append(h)
    return zones


async def zones(req: ApiRequest[ComputeService]) -> Response:
    """The zones; one is available while an enabled host in it is up."""
    by_zone = _zone_hosts(await req.service.hosts.list_hosts())
    return json_response(
        {
            "availabilityZoneInfo": [
                {
                    "zoneName": zone,
                    "zoneState": {"available": _available(hosts)},
                    "hosts": None,
                }
                for zone, hosts in sorted(by_zone.items())
            ]
        }
    )


def _available(hosts: list[Any]) -> bool:
    return not hosts or any(h.alive and not h.host.disabled for h in hosts)


async def zones_detail(req: ApiRequest[ComputeService]) -> Response:
    """The zones with their hosts and each host's service (admin, as Nova)."""
    req.authorize("compute:availability_zones:detail")
    by_zone = _zone_hosts(await req.service.hosts.list_hosts())
    info = []
    for zone, hosts in sorted(by_zone.items()):
        services = {
            h.host.host: {
                "nova-compute": {
                    "available": h.alive,
                    "active": not h.host.disabled,
                    "updated_at": views.usgtime(h.host.heartbeat),
                }
            }
            for h in hosts
        }
        info.append(
            {"zoneName": zone, "zoneState": {"available": _available(hosts)}, "hosts": services}
        )
    return json_response({"availabilityZoneInfo": info})
