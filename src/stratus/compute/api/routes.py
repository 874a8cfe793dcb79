"""The compute routes table (all under /compute): the versions, the
servers' routes (``server_routes.py``), images, flavors, key pairs, server
groups, quotas, services, hypervisors, aggregates, usage and zones."""

from __future__ import annotations

from stratus.common.api import NoBody, NoQuery, Route
from stratus.compute.api import (
    aggregates,
    flavors,
    hosts,
    hypervisors,
    images,
    keypairs,
    misc,
    quota_classes,
    usage,
)
from stratus.compute.api import schemas as s
from stratus.compute.api.server_routes import SERVER_ROUTES

HYPERVISORS = "/v2.1/os-hypervisors"
hv = hypervisors
HYPERVISOR_ROUTES = [
    Route("GET", HYPERVISORS, hv.index, body=NoBody, query=hv.HypervisorQuery),
    Route("GET", HYPERVISORS + "/detail", hv.detail, body=NoBody, query=hv.HypervisorQuery),
    Route("GET", HYPERVISORS + "/statistics", hv.statistics, body=NoBody, query=NoQuery),
    Route("GET", HYPERVISORS + "/{hypervisor_id}", hv.show, body=NoBody, query=hv.HypervisorQuery),
    Route("GET", HYPERVISORS + "/{hypervisor_id}/uptime", hv.uptime, body=NoBody, query=NoQuery),
    # before 2.53 the id is a hostname pattern here
    Route("GET", HYPERVISORS + "/{hypervisor_id}/search", hv.search, body=NoBody, query=NoQuery),
    Route("GET", HYPERVISORS + "/{hypervisor_id}/servers", hv.servers, body=NoBody, query=NoQuery),
    # os-hosts, up to 2.42 (api/hosts.py)
    Route("GET", "/v2.1/os-hosts", hosts.index, body=NoBody, query=hosts.HostListQuery),
    Route("GET", "/v2.1/os-hosts/{host_name}", hosts.show, body=NoBody, query=NoQuery),
]

AGGREGATES = "/v2.1/os-aggregates"
ag = aggregates
AGGREGATE_ROUTES = [
    Route("GET", AGGREGATES, ag.index, body=NoBody, query=NoQuery),
    Route("POST", AGGREGATES, ag.create, body=ag.AggregateCreateBody, query=NoQuery),
    Route("GET", AGGREGATES + "/{aggregate_id}", ag.show, body=NoBody, query=NoQuery),
    Route(
        "PUT", AGGREGATES + "/{aggregate_id}", ag.update, body=ag.AggregateUpdateBody, query=NoQuery
    ),
    Route("DELETE", AGGREGATES + "/{aggregate_id}", ag.delete, body=NoBody, query=NoQuery),
    *[
        Route("POST", AGGREGATES + "/{aggregate_id}/action", h, body=b, query=NoQuery, action=k)
        for k, h, b in (
            ("add_host", ag.add_host, ag.AddHostAction),
            ("remove_host", ag.remove_host, ag.RemoveHostAction),
            ("set_metadata", ag.set_metadata, ag.SetMetadataAction),
        )
    ],
]

USAGE_ROUTES = [
    Route("GET", "/v2.1/os-simple-tenant-usage", usage.index, body=NoBody, query=usage.UsageQuery),
    Route(
        "GET",
        "/v2.1/os-simple-tenant-usage/{tenant_id}",
        usage.show,
        body=NoBody,
        query=usage.UsageQuery,
    ),
    Route(
        "GET", "/v2.1/os-instance_usage_audit_log", usage.audit_index, body=NoBody, query=NoQuery
    ),
    Route(
        "GET",
        "/v2.1/os-instance_usage_audit_log/{before_timestamp}",
        usage.audit_show,
        body=NoBody,
        query=NoQuery,
    ),
    Route(
        "GET",
        "/v2.1/os-quota-class-sets/{class_name}",
        quota_classes.show,
        body=NoBody,
        query=NoQuery,
    ),
    Route(
        "PUT",
        "/v2.1/os-quota-class-sets/{class_name}",
        quota_classes.update,
        body=quota_classes.QuotaClassBody,
        query=NoQuery,
    ),
]

ROUTES: list[Route] = [
    Route("GET", "/", misc.versions, body=NoBody, query=NoQuery, public=True),
    Route("GET", "/v2.1", misc.version, body=NoBody, query=NoQuery, public=True),
    Route("GET", "/v2.1/", misc.version, body=NoBody, query=NoQuery, public=True),
    Route("GET", "/v2", misc.legacy_version, body=NoBody, query=NoQuery, public=True),
    Route("GET", "/v2/", misc.legacy_version, body=NoBody, query=NoQuery, public=True),
    *SERVER_ROUTES,  # api/server_routes.py
    # the image proxy, up to 2.35 (api/images.py)
    Route("GET", "/v2.1/images", images.index, body=NoBody, query=images.ImageListQuery),
    Route(
        "GET", "/v2.1/images/detail", images.index_detail, body=NoBody, query=images.ImageListQuery
    ),
    Route("GET", "/v2.1/images/{image_id}", images.show, body=NoBody, query=NoQuery),
    Route("DELETE", "/v2.1/images/{image_id}", images.delete, body=NoBody, query=NoQuery),
    # flavors
    Route("GET", "/v2.1/flavors", flavors.index, body=NoBody, query=s.FlavorListQuery),
    Route("GET", "/v2.1/flavors/detail", flavors.detail, body=NoBody, query=s.FlavorListQuery),
    Route("POST", "/v2.1/flavors", flavors.create, query=NoQuery, body=s.FlavorCreateBody),
    Route("GET", "/v2.1/flavors/{flavor_id}", flavors.show, body=NoBody, query=NoQuery),
    Route(
        "PUT", "/v2.1/flavors/{flavor_id}", flavors.update, query=NoQuery, body=s.FlavorUpdateBody
    ),
    Route("DELETE", "/v2.1/flavors/{flavor_id}", flavors.delete, body=NoBody, query=NoQuery),
    Route(
        "GET",
        "/v2.1/flavors/{flavor_id}/os-extra_specs",
        flavors.specs_index,
        body=NoBody,
        query=NoQuery,
    ),
    Route(
        "POST",
        "/v2.1/flavors/{flavor_id}/os-extra_specs",
        flavors.specs_create,
        query=NoQuery,
        body=s.ExtraSpecsBody,
    ),
    Route(
        "GET",
        "/v2.1/flavors/{flavor_id}/os-extra_specs/{key}",
        flavors.spec_show,
        body=NoBody,
        query=NoQuery,
    ),
    Route(
        "PUT",
        "/v2.1/flavors/{flavor_id}/os-extra_specs/{key}",
        flavors.spec_update,
        query=NoQuery,
        body=s.ExtraSpecBody,
    ),
    Route(
        "DELETE",
        "/v2.1/flavors/{flavor_id}/os-extra_specs/{key}",
        flavors.spec_delete,
        body=NoBody,
        query=NoQuery,
    ),
    Route(
        "GET",
        "/v2.1/flavors/{flavor_id}/os-flavor-access",
        flavors.access_index,
        body=NoBody,
        query=NoQuery,
    ),
    Route(
        "POST",
        "/v2.1/flavors/{flavor_id}/action",
        flavors.action,
        query=NoQuery,
        body=s.FlavorActionBody,
    ),
    # key pairs
    Route("GET", "/v2.1/os-keypairs", keypairs.index, body=NoBody, query=s.AllProjectsQuery),
    Route("POST", "/v2.1/os-keypairs", keypairs.create, query=NoQuery, body=s.KeypairCreateBody),
    Route("GET", "/v2.1/os-keypairs/{name}", keypairs.show, body=NoBody, query=s.AllProjectsQuery),
    Route(
        "DELETE", "/v2.1/os-keypairs/{name}", keypairs.delete, body=NoBody, query=s.AllProjectsQuery
    ),
    # server groups
    Route("GET", "/v2.1/os-server-groups", misc.group_index, body=NoBody, query=s.AllProjectsQuery),
    Route(
        "POST", "/v2.1/os-server-groups", misc.group_create, query=NoQuery, body=s.GroupCreateBody
    ),
    Route("GET", "/v2.1/os-server-groups/{group_id}", misc.group_show, body=NoBody, query=NoQuery),
    Route(
        "DELETE", "/v2.1/os-server-groups/{group_id}", misc.group_delete, body=NoBody, query=NoQuery
    ),
    # limits and quotas
    Route("GET", "/v2.1/limits", misc.limits, body=NoBody, query=NoQuery),
    Route("GET", "/v2.1/os-quota-sets/{project_id}", misc.quota_show, body=NoBody, query=NoQuery),
    Route(
        "GET",
        "/v2.1/os-quota-sets/{project_id}/defaults",
        misc.quota_defaults,
        body=NoBody,
        query=NoQuery,
    ),
    Route(
        "GET",
        "/v2.1/os-quota-sets/{project_id}/detail",
        misc.quota_detail,
        body=NoBody,
        query=NoQuery,
    ),
    Route(
        "PUT",
        "/v2.1/os-quota-sets/{project_id}",
        misc.quota_update,
        query=NoQuery,
        body=s.QuotaUpdateBody,
    ),
    Route(
        "DELETE", "/v2.1/os-quota-sets/{project_id}", misc.quota_delete, body=NoBody, query=NoQuery
    ),
    # hosts
    Route("GET", "/v2.1/os-services", misc.service_index, body=NoBody, query=s.ServiceListQuery),
    Route(
        "PUT",
        "/v2.1/os-services/{service_id}",
        misc.service_update,
        query=NoQuery,
        body=s.ServiceUpdate,
    ),
    *HYPERVISOR_ROUTES,
    *AGGREGATE_ROUTES,
    *USAGE_ROUTES,
    Route("GET", "/v2.1/os-availability-zone", misc.zones, body=NoBody, query=NoQuery),
    Route(
        "GET", "/v2.1/os-availability-zone/detail", misc.zones_detail, body=NoBody, query=NoQuery
    ),
]
