"""The compute routes table (all under /compute)."""

from __future__ import annotations

from stratus.common.api import Route
from stratus.compute.api import flavors, keypairs, migrations, misc, server_migrations, servers
from stratus.compute.api import schemas as s

ROUTES: list[Route] = [
    Route("GET", "/", misc.versions, public=True),
    Route("GET", "/v2.1", misc.version, public=True),
    Route("GET", "/v2.1/", misc.version, public=True),
    # servers
    Route("GET", "/v2.1/servers", servers.index, query=s.ServerListQuery),
    Route("GET", "/v2.1/servers/detail", servers.detail, query=s.ServerListQuery),
    Route("POST", "/v2.1/servers", servers.create, body=s.ServerCreateBody),
    Route("GET", "/v2.1/servers/{server_id}", servers.show),
    Route("PUT", "/v2.1/servers/{server_id}", servers.update, body=s.ServerUpdateBody),
    Route("DELETE", "/v2.1/servers/{server_id}", servers.delete),
    Route("POST", "/v2.1/servers/{server_id}/action", servers.action, body=s.ActionBody),
    Route("GET", "/v2.1/servers/{server_id}/metadata", servers.metadata_index),
    Route(
        "PUT", "/v2.1/servers/{server_id}/metadata", servers.metadata_replace, body=s.MetadataBody
    ),
    Route(
        "POST", "/v2.1/servers/{server_id}/metadata", servers.metadata_update, body=s.MetadataBody
    ),
    Route("GET", "/v2.1/servers/{server_id}/metadata/{key}", servers.metadata_show),
    Route(
        "PUT", "/v2.1/servers/{server_id}/metadata/{key}", servers.metadata_set, body=s.MetaItemBody
    ),
    Route("DELETE", "/v2.1/servers/{server_id}/metadata/{key}", servers.metadata_delete),
    Route("GET", "/v2.1/servers/{server_id}/os-instance-actions", servers.actions_index),
    Route(
        "GET", "/v2.1/servers/{server_id}/os-instance-actions/{request_id}", servers.actions_show
    ),
    Route("GET", "/v2.1/os-migrations", migrations.index, query=s.MigrationListQuery),
    # live migrations of a server (api/server_migrations.py)
    Route("GET", "/v2.1/servers/{server_id}/migrations", server_migrations.index),
    Route("GET", "/v2.1/servers/{server_id}/migrations/{migration_id}", server_migrations.show),
    Route(
        "DELETE", "/v2.1/servers/{server_id}/migrations/{migration_id}", server_migrations.delete
    ),
    Route(
        "POST",
        "/v2.1/servers/{server_id}/migrations/{migration_id}/action",
        server_migrations.action,
        body=s.ForceCompleteBody,
    ),
    # flavors
    Route("GET", "/v2.1/flavors", flavors.index, query=s.FlavorListQuery),
    Route("GET", "/v2.1/flavors/detail", flavors.detail, query=s.FlavorListQuery),
    Route("POST", "/v2.1/flavors", flavors.create, body=s.FlavorCreateBody),
    Route("GET", "/v2.1/flavors/{flavor_id}", flavors.show),
    Route("PUT", "/v2.1/flavors/{flavor_id}", flavors.update, body=s.FlavorUpdateBody),
    Route("DELETE", "/v2.1/flavors/{flavor_id}", flavors.delete),
    Route("GET", "/v2.1/flavors/{flavor_id}/os-extra_specs", flavors.specs_index),
    Route(
        "POST",
        "/v2.1/flavors/{flavor_id}/os-extra_specs",
        flavors.specs_create,
        body=s.ExtraSpecsBody,
    ),
    Route("GET", "/v2.1/flavors/{flavor_id}/os-extra_specs/{key}", flavors.spec_show),
    Route(
        "PUT",
        "/v2.1/flavors/{flavor_id}/os-extra_specs/{key}",
        flavors.spec_update,
        body=s.ExtraSpecBody,
    ),
    Route("DELETE", "/v2.1/flavors/{flavor_id}/os-extra_specs/{key}", flavors.spec_delete),
    Route("GET", "/v2.1/flavors/{flavor_id}/os-flavor-access", flavors.access_index),
    Route("POST", "/v2.1/flavors/{flavor_id}/action", flavors.action, body=s.FlavorActionBody),
    # key pairs
    Route("GET", "/v2.1/os-keypairs", keypairs.index, query=s.AllProjectsQuery),
    Route("POST", "/v2.1/os-keypairs", keypairs.create, body=s.KeypairCreateBody),
    Route("GET", "/v2.1/os-keypairs/{name}", keypairs.show, query=s.AllProjectsQuery),
    Route("DELETE", "/v2.1/os-keypairs/{name}", keypairs.delete, query=s.AllProjectsQuery),
    # server groups
    Route("GET", "/v2.1/os-server-groups", misc.group_index, query=s.AllProjectsQuery),
    Route("POST", "/v2.1/os-server-groups", misc.group_create, body=s.GroupCreateBody),
    Route("GET", "/v2.1/os-server-groups/{group_id}", misc.group_show),
    Route("DELETE", "/v2.1/os-server-groups/{group_id}", misc.group_delete),
    # limits and quotas
    Route("GET", "/v2.1/limits", misc.limits),
    Route("GET", "/v2.1/os-quota-sets/{project_id}", misc.quota_show),
    Route("GET", "/v2.1/os-quota-sets/{project_id}/defaults", misc.quota_defaults),
    Route("GET", "/v2.1/os-quota-sets/{project_id}/detail", misc.quota_detail),
    Route("PUT", "/v2.1/os-quota-sets/{project_id}", misc.quota_update, body=s.QuotaUpdateBody),
    Route("DELETE", "/v2.1/os-quota-sets/{project_id}", misc.quota_delete),
    # hosts
    Route("GET", "/v2.1/os-services", misc.service_index, query=s.ServiceListQuery),
    Route("PUT", "/v2.1/os-services/{service_id}", misc.service_update, body=s.ServiceUpdate),
    Route("GET", "/v2.1/os-hypervisors", misc.hypervisor_index),
    Route("GET", "/v2.1/os-hypervisors/detail", misc.hypervisor_detail),
    Route("GET", "/v2.1/os-hypervisors/statistics", misc.hypervisor_statistics),
    Route("GET", "/v2.1/os-hypervisors/{hypervisor_id}", misc.hypervisor_show),
    Route("GET", "/v2.1/os-availability-zone", misc.zones),
]
