"""The load-balancing routes table (all under /load-balancer), at /v2.0
and /v2 alike, as Octavia serves them."""

from __future__ import annotations

from pydantic import BaseModel

from stratus.common.api import NoBody, NoQuery, Route
from stratus.loadbalancer.api import flavors, misc
from stratus.loadbalancer.api import schemas as s
from stratus.loadbalancer.api.resources import (
    create_of,
    delete_of,
    index_of,
    replace_members,
    show_of,
    update_of,
)

Q = s.FilterQuery


def _crud(
    base: str, name: str, ident: str, create: type[BaseModel], update: type[BaseModel]
) -> list[Route]:
    one = f"{base}/{{{ident}}}"
    return [
        Route("GET", base, index_of(name), body=NoBody, query=Q),
        Route("POST", base, create_of(name), body=create, query=NoQuery),
        Route("GET", one, show_of(name), body=NoBody, query=Q),
        Route("PUT", one, update_of(name), body=update, query=NoQuery),
        Route(
            "DELETE",
            one,
            delete_of(name),
            body=NoBody,
            query=s.CascadeQuery if name == "loadbalancer" else NoQuery,
        ),
    ]


def _version(v: str) -> list[Route]:
    lbaas = f"{v}/lbaas"
    lbs = f"{lbaas}/loadbalancers"
    quotas = f"{lbaas}/quotas"
    return [
        Route("GET", v, misc.version, public=True, body=NoBody, query=NoQuery),
        *_crud(lbs, "loadbalancer", "loadbalancer_id", s.LoadBalancerCreateBody,
               s.LoadBalancerUpdateBody),
        Route("GET", f"{lbs}/{{loadbalancer_id}}/status", misc.status, body=NoBody, query=NoQuery),
        Route("GET", f"{lbs}/{{loadbalancer_id}}/stats", misc.lb_stats, body=NoBody, query=NoQuery),
        Route("PUT", f"{lbs}/{{loadbalancer_id}}/failover", misc.failover, body=NoBody,
              query=NoQuery),
        *_crud(f"{lbaas}/listeners", "listener", "listener_id", s.ListenerCreateBody,
               s.ListenerUpdateBody),
        Route("GET", f"{lbaas}/listeners/{{listener_id}}/stats", misc.listener_stats, body=NoBody,
              query=NoQuery),
        *_crud(f"{lbaas}/pools", "pool", "pool_id", s.PoolCreateBody, s.PoolUpdateBody),
        *_crud(f"{lbaas}/pools/{{pool_id}}/members", "member", "member_id", s.MemberCreateBody,
               s.MemberUpdateBody),
        Route("PUT", f"{lbaas}/pools/{{pool_id}}/members", replace_members,
              body=s.MembersReplaceBody, query=s.MembersQuery),
        *_crud(f"{lbaas}/healthmonitors", "healthmonitor", "healthmonitor_id",
               s.MonitorCreateBody, s.MonitorUpdateBody),
        *_crud(f"{lbaas}/l7policies", "l7policy", "l7policy_id", s.PolicyCreateBody,
               s.PolicyUpdateBody),
        *_crud(f"{lbaas}/l7policies/{{l7policy_id}}/rules", "l7rule", "l7rule_id",
               s.RuleCreateBody, s.RuleUpdateBody),
        Route("GET", quotas, misc.quota_index, body=NoBody, query=NoQuery),
        Route("GET", f"{quotas}/{{project_id}}", misc.quota_show, body=NoBody, query=NoQuery),
        Route("GET", f"{quotas}/{{project_id}}/default", misc.quota_defaults, body=NoBody,
              query=NoQuery),
        Route("PUT", f"{quotas}/{{project_id}}", misc.quota_update, body=s.QuotaUpdateBody,
              query=NoQuery),
        Route("DELETE", f"{quotas}/{{project_id}}", misc.quota_delete, body=NoBody, query=NoQuery),
        Route("GET", f"{lbaas}/providers", misc.providers, body=NoBody, query=NoQuery),
        Route("GET", f"{lbaas}/providers/{{provider}}/flavor_capabilities",
              misc.provider_capabilities, body=NoBody, query=NoQuery),
        Route("GET", f"{lbaas}/availabilityzones", misc.availability_zones, body=NoBody,
              query=NoQuery),
        *_flavors(f"{lbaas}/flavors", "flavor", s.FlavorCreateBody, s.FlavorUpdateBody),
        *_flavors(f"{lbaas}/flavorprofiles", "flavorprofile", s.FlavorProfileCreateBody,
                  s.FlavorProfileUpdateBody),
    ]  # fmt: skip


def _flavors(
    base: str, name: str, create: type[BaseModel], update: type[BaseModel]
) -> list[Route]:
    h = flavors.handlers(name)
    one = f"{base}/{{{name}_id}}"
    return [
        Route("GET", base, h["index"], body=NoBody, query=Q),
        Route("POST", base, h["create"], body=create, query=NoQuery),
        Route("GET", one, h["show"], body=NoBody, query=Q),
        Route("PUT", one, h["update"], body=update, query=NoQuery),
        Route("DELETE", one, h["delete"], body=NoBody, query=NoQuery),
    ]


ROUTES: list[Route] = [
    Route("GET", "/", misc.versions, public=True, body=NoBody, query=NoQuery),
    *_version("/v2.0"),
    *_version("/v2"),
]
