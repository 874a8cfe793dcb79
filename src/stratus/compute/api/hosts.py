"""os-hosts: Nova's deprecated view of hosts (up to microversion 2.42; a
404 above, as Nova): the list, and each host's resources and their use
per project."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from stratus.common.api import ApiRequest, Query, json_response
from stratus.common.microversion import Version
from stratus.compute.errors import NotFound
from stratus.compute.service import ComputeService

MAX = Version.parse("2.42")


class HostListQuery(Query):
    zone: str | None = None


def _check_version(req: ApiRequest[ComputeService]) -> None:
    assert req.version is not None
    if req.version > MAX:
        raise NotFound("os-hosts is gone since microversion 2.43: see os-hypervisors.")


async def index(req: ApiRequest[ComputeService]) -> Response:
    _check_version(req)
    req.authorize("compute:hosts")
    zone = req.query.zone if req.query is not None else None
    hosts = [
        {"host_name": h.host.host, "service": "compute", "zone": h.host.availability_zone}
        for h in await req.service.hosts.list_hosts()
    ]
    return json_response({"hosts": [h for h in hosts if zone is None or h["zone"] == zone]})


def _resource(host: str, project: str, cpu: int, memory_mb: int, disk_gb: int) -> dict[str, Any]:
    return {
        "resource": {
            "host": host,
            "project": project,
            "cpu": cpu,
            "memory_mb": memory_mb,
            "disk_gb": disk_gb,
        }
    }


async def show(req: ApiRequest[ComputeService]) -> Response:
    """The host's total resources, what its servers use now (and at most:
    the same here), and each project's share."""
    _check_version(req)
    req.authorize("compute:hosts")
    name = req.params["host_name"]
    views = [h for h in await req.service.hosts.list_hosts() if h.host.host == name]
    if not views:
        raise NotFound(f"Compute host {name} could not be found.")
    h = views[0]
    servers = (await req.service.hosts.servers_on([name]))[name]
    projects: dict[str, list[int]] = {}
    for s in servers:
        use = projects.setdefault(s.project_id, [0, 0, 0])
        flavor = s.flavor or {}
        use[0] += int(flavor.get("vcpus", 0))
        use[1] += int(flavor.get("ram", 0))
        use[2] += int(flavor.get("disk", 0)) + int(flavor.get("ephemeral", 0))
    used = [sum(p[i] for p in projects.values()) for i in range(3)]
    rows = [
        _resource(name, "(total)", h.host.vcpus, h.host.memory_mb, h.host.local_gb),
        _resource(name, "(used_now)", *used),
        _resource(name, "(used_max)", *used),
        *(_resource(name, p, *use) for p, use in sorted(projects.items())),
    ]
    return json_response({"host": rows})
