"""os-hypervisors: the compute hosts as hypervisors, their servers and
uptime, and hostname searches (before 2.53 as paths, since as a query)."""

from __future__ import annotations

import os
import time
from typing import Any

from starlette.responses import Response

from stratus.common.api import ApiRequest, Query, json_response
from stratus.common.microversion import Version
from stratus.compute.api import host_views, views
from stratus.compute.errors import BadRequest, NotFound, NotImplementedHere
from stratus.compute.service import ComputeService
from stratus.compute.service.hosts import HostView

V253, V275, V288 = Version.parse("2.53"), Version.parse("2.75"), Version.parse("2.88")
TRUE = frozenset({"1", "t", "true", "on", "y", "yes"})
FALSE = frozenset({"0", "f", "false", "off", "n", "no"})


class HypervisorQuery(Query):
    hypervisor_hostname_pattern: str | None = None
    with_servers: str | None = None


def _v(req: ApiRequest[ComputeService]) -> Version:
    assert req.version is not None
    return req.version


def _with_servers(req: ApiRequest[ComputeService]) -> bool:
    q = req.query
    if _v(req) < V253 or q is None or q.with_servers is None:
        return False
    value = q.with_servers.strip().lower()
    if value not in TRUE | FALSE:
        raise BadRequest(f"Invalid input for query parameters with_servers. Value: {value}.")
    return value in TRUE


async def _hosts(req: ApiRequest[ComputeService]) -> list[HostView]:
    q = req.query
    if _v(req) >= V253 and q is not None and q.hypervisor_hostname_pattern is not None:
        return await req.service.hosts.matching(q.hypervisor_hostname_pattern)
    return await req.service.hosts.list_hosts()


async def _render(
    req: ApiRequest[ComputeService], rows: list[HostView], *, detail: bool, servers: bool
) -> list[dict[str, Any]]:
    out = [host_views.hypervisor(h, _v(req), detail=detail) for h in rows]
    if servers:
        on = await req.service.hosts.servers_on([h.host.host for h in rows])
        for body, h in zip(out, rows, strict=True):
            listed = [{"name": views.instance_name(s), "uuid": s.id} for s in on[h.host.host]]
            if listed or _v(req) >= V275:  # since 2.75 even when empty
                body["servers"] = listed
    return out


async def index(req: ApiRequest[ComputeService]) -> Response:
    req.authorize("compute:hypervisors")
    rows = await _hosts(req)
    body = await _render(req, rows, detail=False, servers=_with_servers(req))
    return json_response({"hypervisors": body})


async def detail(req: ApiRequest[ComputeService]) -> Response:
    req.authorize("compute:hypervisors")
    rows = await _hosts(req)
    body = await _render(req, rows, detail=True, servers=_with_servers(req))
    return json_response({"hypervisors": body})


async def show(req: ApiRequest[ComputeService]) -> Response:
    req.authorize("compute:hypervisors")
    view = await req.service.hosts.find(req.params["hypervisor_id"])
    (body,) = await _render(req, [view], detail=True, servers=_with_servers(req))
    if _v(req) >= V288 and view.host.host in req.service.agents:  # 2.88: in the show
        body["uptime"] = _uptime_line()
    return json_response({"hypervisor": body})


async def search(req: ApiRequest[ComputeService]) -> Response:
    """GET /os-hypervisors/{pattern}/search, before 2.53."""
    req.authorize("compute:hypervisors")
    if _v(req) >= V253:
        raise NotFound("Hypervisor search moved to ?hypervisor_hostname_pattern in 2.53.")
    rows = await req.service.hosts.matching(req.params["hypervisor_id"])
    return json_response({"hypervisors": await _render(req, rows, detail=False, servers=False)})


async def servers(req: ApiRequest[ComputeService]) -> Response:
    """GET /os-hypervisors/{pattern}/servers, before 2.53."""
    req.authorize("compute:hypervisors")
    if _v(req) >= V253:
        raise NotFound("A hypervisor's servers moved to ?with_servers=true in 2.53.")
    rows = await req.service.hosts.matching(req.params["hypervisor_id"])
    return json_response({"hypervisors": await _render(req, rows, detail=False, servers=True)})


def _uptime_line() -> str:
    """This machine's ``uptime`` as the command prints it."""
    with open("/proc/uptime") as f:
        seconds = int(float(f.read().split()[0]))
    days, rest = divmod(seconds, 86400)
    hours, minutes = divmod(rest // 60, 60)
    since = f"{days} day{'s' if days != 1 else ''}, " if days else ""
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    now = time.strftime("%H:%M:%S", time.gmtime())
    return f" {now} up {since}{hours:2d}:{minutes:02d},  0 users,  load average: {load}"


async def uptime(req: ApiRequest[ComputeService]) -> Response:
    """GET /os-hypervisors/{id}/uptime, before 2.88 (since, in the show)."""
    req.authorize("compute:hypervisors")
    if _v(req) >= V288:
        raise NotFound("A hypervisor's uptime is in its show since microversion 2.88.")
    view = await req.service.hosts.find(req.params["hypervisor_id"])
    if view.host.host not in req.service.agents:
        raise NotImplementedHere(
            f"The uptime of hypervisor {view.host.host} is known to its own process only."
        )
    body = host_views.hypervisor(view, _v(req), detail=False)
    body["uptime"] = _uptime_line()
    return json_response({"hypervisor": body})


async def statistics(req: ApiRequest[ComputeService]) -> Response:
    req.authorize("compute:hypervisors")
    if _v(req) >= V288:
        raise NotFound("Hypervisor statistics are gone since microversion 2.88.")
    rows = await req.service.hosts.list_hosts()
    stats = {
        "count": len(rows),
        "vcpus": sum(h.host.vcpus for h in rows),
        "memory_mb": sum(h.host.memory_mb for h in rows),
        "local_gb": sum(h.host.local_gb for h in rows),
        "vcpus_used": sum(h.used.vcpus for h in rows),
        "memory_mb_used": sum(h.used.memory_mb for h in rows),
        "local_gb_used": sum(h.used.disk_gb for h in rows),
        "free_ram_mb": sum(h.host.memory_mb - h.used.memory_mb for h in rows),
        "free_disk_gb": sum(h.host.local_gb - h.used.disk_gb for h in rows),
        "current_workload": 0,
        "running_vms": sum(h.used.servers for h in rows),
        "disk_available_least": sum(h.host.local_gb - h.used.disk_gb for h in rows),
    }
    return json_response({"hypervisor_statistics": stats})
