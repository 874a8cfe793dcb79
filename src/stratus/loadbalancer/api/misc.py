"""Version discovery, a load balancer's status tree, statistics and
failover, quotas, providers, availability zones and flavors."""

from __future__ import annotations

from starlette.responses import Response

from stratus.common.api import ApiRequest, empty_response, json_response
from stratus.loadbalancer.api import views
from stratus.loadbalancer.api.resources import authorize, svc
from stratus.loadbalancer.service import LoadBalancerService

# Octavia's API versions: v2.0 and its minor versions (the same API).
MINORS = 27


async def versions(req: ApiRequest[LoadBalancerService]) -> Response:
    href = f"{req.base_url}/v2"
    items = [
        {
            "id": f"v2.{n}",
            "status": "CURRENT" if n == MINORS else "SUPPORTED",
            "updated": "2023-01-01T00:00:00Z",
            "links": [{"href": href, "rel": "self"}],
        }
        for n in range(MINORS + 1)
    ]
    return json_response({"versions": items})


async def version(req: ApiRequest[LoadBalancerService]) -> Response:
    return json_response(
        {
            "version": {
                "id": f"v2.{MINORS}",
                "status": "CURRENT",
                "links": [{"href": f"{req.base_url}/v2", "rel": "self"}],
            }
        }
    )


async def status(req: ApiRequest[LoadBalancerService]) -> Response:
    lb = await svc(req).loadbalancers.get(req.ctx, req.params["loadbalancer_id"])
    authorize(req, "get_status", lb.project_id)
    return json_response(await svc(req).status(req.ctx, lb.id))


async def lb_stats(req: ApiRequest[LoadBalancerService]) -> Response:
    lb = await svc(req).loadbalancers.get(req.ctx, req.params["loadbalancer_id"])
    authorize(req, "get_stats", lb.project_id)
    return json_response({"stats": await svc(req).stats(req.ctx, "loadbalancer", lb.id)})


async def listener_stats(req: ApiRequest[LoadBalancerService]) -> Response:
    x = await svc(req).objects.get(req.ctx, "listener", req.params["listener_id"])
    authorize(req, "get_stats", x.project_id)
    return json_response({"stats": await svc(req).stats(req.ctx, "listener", x.id)})


async def failover(req: ApiRequest[LoadBalancerService]) -> Response:
    lb = await svc(req).loadbalancers.get(req.ctx, req.params["loadbalancer_id"])
    authorize(req, "failover", lb.project_id)
    await svc(req).loadbalancers.failover(req.ctx, lb.id)
    return empty_response(202)


# -- quotas ---------------------------------------------------------------------------


async def quota_index(req: ApiRequest[LoadBalancerService]) -> Response:
    authorize(req, "list_quotas", None)
    items = [views.quota(pid, limits) for pid, limits in await svc(req).quotas()]
    return json_response({"quotas": items, "quotas_links": []})


async def quota_show(req: ApiRequest[LoadBalancerService]) -> Response:
    project = req.params["project_id"]
    authorize(req, "get_quota", project)
    return json_response({"quota": views.quota(project, await svc(req).quota(project))})


async def quota_defaults(req: ApiRequest[LoadBalancerService]) -> Response:
    authorize(req, "get_quota", req.params["project_id"])
    core = svc(req).core
    limits = {k: core.default_quota(k) for k in ("loadbalancer", "listener", "pool", "member",
                                                 "healthmonitor", "l7policy", "l7rule")}  # fmt: skip
    return json_response({"quota": views.quota(req.params["project_id"], limits)})


async def quota_update(req: ApiRequest[LoadBalancerService]) -> Response:
    project = req.params["project_id"]
    authorize(req, "update_quota", project)
    body = req.body.quota.model_dump(exclude_unset=True)
    for alias, name in (("load_balancer", "loadbalancer"), ("health_monitor", "healthmonitor")):
        if alias in body:
            body.setdefault(name, body.pop(alias))
    limits = await svc(req).set_quota(project, body)
    return json_response({"quota": views.quota(project, limits)}, 202)


async def quota_delete(req: ApiRequest[LoadBalancerService]) -> Response:
    authorize(req, "delete_quota", req.params["project_id"])
    await svc(req).reset_quota(req.params["project_id"])
    return empty_response(204)


# -- providers, availability zones, flavors ---------------------------------------------


async def providers(req: ApiRequest[LoadBalancerService]) -> Response:
    authorize(req, "get_provider", None)
    items = [{"name": "haproxy", "description": "HAProxy in a namespace on the lb agent's host"}]
    return json_response({"providers": items})


async def provider_capabilities(req: ApiRequest[LoadBalancerService]) -> Response:
    authorize(req, "get_provider", None)
    return json_response({"flavor_capabilities": [], "availability_zone_capabilities": []})


async def availability_zones(req: ApiRequest[LoadBalancerService]) -> Response:
    authorize(req, "get_availability_zone", None)
    zone = {"name": "nova", "description": "The cloud's one zone", "enabled": True,
            "availability_zone_profile_id": None}  # fmt: skip
    return json_response({"availability_zones": [zone], "availability_zones_links": []})
