"""os-simple-tenant-usage (what each project's servers used over a period)
and os-instance_usage_audit_log (Stratus runs no usage audit: every host is
reported as not having run it)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from pydantic import Field
from starlette.responses import Response

from stratus.common.api import ApiRequest, Query, json_response
from stratus.common.db import utcnow
from stratus.common.microversion import Version
from stratus.compute.api import views
from stratus.compute.errors import BadRequest
from stratus.compute.service import ComputeService
from stratus.compute.service.usage import TenantUsage

V240 = Version.parse("2.40")
TRUE = frozenset({"1", "t", "true", "on", "y", "yes"})
# What Nova parses (its own three), then any ISO 8601 time.
FORMATS = ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S.%f", "%Y-%m-%d %H:%M:%S.%f")


class UsageQuery(Query):
    start: str | None = None
    end: str | None = None
    detailed: str | None = None
    limit: int | None = Field(default=None, ge=0)
    marker: str | None = None


def _v(req: ApiRequest[ComputeService]) -> Version:
    assert req.version is not None
    return req.version


def parse_time(value: str | None, formats: tuple[str, ...] = FORMATS) -> datetime:
    """A time of a query (UTC when it names no zone); None is now."""
    if value is None:
        return utcnow()
    for fmt in formats:
        try:
            return datetime.strptime(value, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise BadRequest(f"Datetime is in invalid format: {value!r}") from exc
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _period(req: ApiRequest[ComputeService]) -> tuple[datetime, datetime]:
    q = req.query
    start = parse_time(q.start if q is not None else None)
    stop = parse_time(q.end if q is not None else None)
    if start > stop:
        raise BadRequest("Invalid start time. The start time cannot occur after the end time.")
    return start, stop


def _paging(req: ApiRequest[ComputeService]) -> tuple[int | None, str | None]:
    q = req.query
    if _v(req) < V240 or q is None:
        return None, None
    return q.limit, q.marker


def _tenant(u: TenantUsage, detailed: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "tenant_id": u.tenant_id,
        "total_local_gb_usage": u.total("local_gb"),
        "total_vcpus_usage": u.total("vcpus"),
        "total_memory_mb_usage": u.total("memory_mb"),
        "total_hours": u.total_hours,
        "start": views.usgtime(u.start),
        "stop": views.usgtime(u.stop),
    }
    if detailed:
        out["server_usages"] = [
            {
                "instance_id": s.server.id,
                "name": s.server.name,
                "hours": s.hours,
                "memory_mb": s.memory_mb,
                "local_gb": s.local_gb,
                "vcpus": s.vcpus,
                "tenant_id": s.server.project_id,
                "flavor": s.flavor,
                "started_at": views.usgtime(s.server.launched_at),
                "ended_at": views.usgtime(s.server.terminated_at),
                "state": s.state,
                "uptime": s.uptime,
            }
            for s in u.servers
        ]
    return out


def _links(req: ApiRequest[ComputeService], key: str, marker: str | None) -> dict[str, Any]:
    if marker is None:
        return {}
    query = [(k, v) for k, v in req.raw.query_params.multi_items() if k != "marker"]
    query.append(("marker", marker))
    path = req.raw.url.path.split("/v2.1", 1)[-1]
    return {key: [{"rel": "next", "href": f"{req.base_url}{path}?{urlencode(query)}"}]}


async def index(req: ApiRequest[ComputeService]) -> Response:
    req.authorize("compute:usage:list")
    start, stop = _period(req)
    limit, marker = _paging(req)
    # Nova's "1"; also the "True" openstacksdk sends (so `usage list` counts servers)
    detailed = req.query is not None and (req.query.detailed or "").lower() in TRUE
    rows, more = await req.service.usages.by_tenant(start, stop, None, limit, marker)
    return json_response(
        {
            "tenant_usages": [_tenant(u, detailed) for u in rows],
            **_links(req, "tenant_usages_links", more),
        }
    )


async def show(req: ApiRequest[ComputeService]) -> Response:
    project = req.params["tenant_id"]
    req.authorize("compute:usage:show", {"project_id": project})
    start, stop = _period(req)
    limit, marker = _paging(req)
    rows, more = await req.service.usages.by_tenant(start, stop, project, limit, marker)
    body = _tenant(rows[0], True) if rows else {}
    return json_response({"tenant_usage": body, **_links(req, "tenant_usage_links", more)})


# -- os-instance_usage_audit_log -------------------------------------------------------------


def _month_before(t: datetime) -> tuple[datetime, datetime]:
    """The last whole month before ``t`` (Nova's default audit period)."""
    end = t.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    year, month = (end.year, end.month - 1) if end.month > 1 else (end.year - 1, 12)
    return end.replace(year=year, month=month), end


async def _audit(req: ApiRequest[ComputeService], before: datetime) -> dict[str, Any]:
    begin, end = _month_before(before)
    hosts = [h.host.host for h in await req.service.hosts.list_hosts()]
    return {
        "hosts_not_run": hosts,
        "log": {},
        "num_hosts": len(hosts),
        "num_hosts_done": 0,
        "num_hosts_not_run": len(hosts),
        "num_hosts_running": 0,
        "overall_status": f"0 of {len(hosts)} hosts done. 0 errors.",
        "period_beginning": begin.strftime("%Y-%m-%d %H:%M:%S"),
        "period_ending": end.strftime("%Y-%m-%d %H:%M:%S"),
        "total_errors": 0,
        "total_instances": 0,
    }


async def audit_index(req: ApiRequest[ComputeService]) -> Response:
    req.authorize("compute:instance_usage_audit_log")
    return json_response({"instance_usage_audit_logs": await _audit(req, utcnow())})


async def audit_show(req: ApiRequest[ComputeService]) -> Response:
    req.authorize("compute:instance_usage_audit_log")
    text = req.params["before_timestamp"]
    try:
        before = parse_time(text, ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M:%S.%f"))
    except BadRequest as exc:
        raise BadRequest(f"Invalid timestamp for date {text}") from exc
    return json_response({"instance_usage_audit_log": await _audit(req, before)})
