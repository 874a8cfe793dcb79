"""The compute routes table (all under /compute)."""

from __future__ import annotations

from pydantic import BaseModel

from stratus.common.api import Handler, NoBody, NoQuery, Route
from stratus.compute.api import action_schemas as a
from stratus.compute.api import (
    aggregates,
    consoles,
    external_events,
    flavors,
    hosts,
    hypervisors,
    images,
    interfaces,
    keypairs,
    migrations,
    misc,
    quota_classes,
    server_actions,
    server_images,
    server_migrations,
    servers,
    usage,
    volume_attachments,
)
from stratus.compute.api import move_schemas as mv
from stratus.compute.api import schemas as s

ACTION = "/v2.1/servers/{server_id}/action"
# The body's key, the handler, the request schema.
SERVER_ACTIONS: list[tuple[str, Handler, type[BaseModel]]] = [
    ("os-stop", server_actions.stop, a.StopAction),
    ("os-start", server_actions.start, a.StartAction),
    ("reboot", server_actions.reboot, a.RebootAction),
    ("pause", server_actions.pause, a.PauseAction),
    ("unpause", server_actions.unpause, a.UnpauseAction),
    ("suspend", server_actions.suspend, a.SuspendAction),
    ("resume", server_actions.resume, a.ResumeAction),
    ("rebuild", server_actions.rebuild, a.RebuildAction),
    ("lock", server_actions.lock, a.LockAction),
    ("unlock", server_actions.unlock, a.UnlockAction),
    ("os-getConsoleOutput", server_actions.console_output, a.ConsoleAction),
    ("os-getSerialConsole", consoles.serial_action, consoles.SerialConsoleAction),
    ("trigger_crash_dump", server_actions.trigger_crash_dump, a.TriggerCrashDumpAction),
    ("os-resetState", server_actions.reset_state, a.ResetStateAction),
    ("restore", server_actions.restore, a.RestoreAction),
    ("forceDelete", server_actions.force_delete, a.ForceDeleteAction),
    ("createImage", server_images.create_image, a.CreateImageAction),
    ("createBackup", server_images.create_backup, a.CreateBackupAction),
    ("shelve", server_images.shelve, a.ShelveAction),
    ("shelveOffload", server_images.shelve_offload, a.ShelveOffloadAction),
    ("unshelve", server_images.unshelve, a.UnshelveAction),
    ("rescue", server_images.rescue, a.RescueAction),
    ("unrescue", server_images.unrescue, a.UnrescueAction),
    ("migrate", migrations.migrate, mv.MigrateAction),
    ("resize", migrations.resize, mv.ResizeAction),
    ("confirmResize", migrations.confirm_resize, mv.ConfirmResizeAction),
    ("revertResize", migrations.revert_resize, mv.RevertResizeAction),
    ("evacuate", migrations.evacuate, mv.EvacuateAction),
    ("os-migrateLive", server_migrations.migrate_live, mv.MigrateLiveAction),
    ("addSecurityGroup", interfaces.add_security_group, a.AddSecurityGroupAction),
    ("removeSecurityGroup", interfaces.remove_security_group, a.RemoveSecurityGroupAction),
    ("addFloatingIp", interfaces.add_floating_ip, a.AddFloatingIpAction),
    ("removeFloatingIp", interfaces.remove_floating_ip, a.RemoveFloatingIpAction),
]
INTERFACES = "/v2.1/servers/{server_id}/os-interface"

VOLUMES = "/v2.1/servers/{server_id}/os-volume_attachments"
va = volume_attachments
VOLUME_ROUTES = [
    Route("GET", VOLUMES, va.index, body=NoBody, query=va.ListQuery),
    Route("POST", VOLUMES, va.create, body=va.AttachBody, query=NoQuery),
    Route("GET", VOLUMES + "/{volume_id}", va.show, body=NoBody, query=NoQuery),
    Route("PUT", VOLUMES + "/{volume_id}", va.update, body=va.UpdateBody, query=NoQuery),
    Route("DELETE", VOLUMES + "/{volume_id}", va.delete, body=NoBody, query=NoQuery),
]

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
    # servers
    Route("GET", "/v2.1/servers", servers.index, body=NoBody, query=s.ServerListQuery),
    Route("GET", "/v2.1/servers/detail", servers.detail, body=NoBody, query=s.ServerListQuery),
    Route("POST", "/v2.1/servers", servers.create, query=NoQuery, body=s.ServerCreateBody),
    Route("GET", "/v2.1/servers/{server_id}", servers.show, body=NoBody, query=NoQuery),
    Route(
        "PUT", "/v2.1/servers/{server_id}", servers.update, query=NoQuery, body=s.ServerUpdateBody
    ),
    Route("DELETE", "/v2.1/servers/{server_id}", servers.delete, body=NoBody, query=NoQuery),
    # server actions: one route each, told apart by the body's key
    *[
        Route("POST", ACTION, handler, body=schema, query=NoQuery, action=key)
        for key, handler, schema in SERVER_ACTIONS
    ],
    Route(
        "GET",
        "/v2.1/servers/{server_id}/metadata",
        servers.metadata_index,
        body=NoBody,
        query=NoQuery,
    ),
    Route(
        "PUT",
        "/v2.1/servers/{server_id}/metadata",
        servers.metadata_replace,
        query=NoQuery,
        body=s.MetadataBody,
    ),
    Route(
        "POST",
        "/v2.1/servers/{server_id}/metadata",
        servers.metadata_update,
        query=NoQuery,
        body=s.MetadataBody,
    ),
    Route(
        "GET",
        "/v2.1/servers/{server_id}/metadata/{key}",
        servers.metadata_show,
        body=NoBody,
        query=NoQuery,
    ),
    Route(
        "PUT",
        "/v2.1/servers/{server_id}/metadata/{key}",
        servers.metadata_set,
        query=NoQuery,
        body=s.MetaItemBody,
    ),
    Route(
        "DELETE",
        "/v2.1/servers/{server_id}/metadata/{key}",
        servers.metadata_delete,
        body=NoBody,
        query=NoQuery,
    ),
    Route(
        "GET",
        "/v2.1/servers/{server_id}/os-instance-actions",
        servers.actions_index,
        body=NoBody,
        query=NoQuery,
    ),
    Route(
        "GET",
        "/v2.1/servers/{server_id}/os-instance-actions/{request_id}",
        servers.actions_show,
        body=NoBody,
        query=NoQuery,
    ),
    Route(
        "POST",
        "/v2.1/servers/{server_id}/remote-consoles",
        consoles.create,
        body=consoles.RemoteConsoleBody,
        query=NoQuery,
    ),
    Route(
        "GET",
        "/v2.1/servers/{server_id}/diagnostics",
        server_actions.diagnostics,
        body=NoBody,
        query=NoQuery,
    ),
    Route("GET", "/v2.1/servers/{server_id}/ips", interfaces.ips_index, body=NoBody, query=NoQuery),
    Route(
        "GET",
        "/v2.1/servers/{server_id}/ips/{network}",
        interfaces.ips_show,
        body=NoBody,
        query=NoQuery,
    ),
    Route("GET", INTERFACES, interfaces.index, body=NoBody, query=NoQuery),
    Route("POST", INTERFACES, interfaces.create, query=NoQuery, body=s.InterfaceAttachBody),
    Route("GET", INTERFACES + "/{port_id}", interfaces.show, body=NoBody, query=NoQuery),
    Route("DELETE", INTERFACES + "/{port_id}", interfaces.delete, body=NoBody, query=NoQuery),
    Route(
        "POST",
        "/v2.1/os-server-external-events",
        external_events.create,
        body=external_events.ExternalEventsBody,
        query=NoQuery,
    ),
    # volumes of a server (api/volume_attachments.py)
    *VOLUME_ROUTES,
    Route("GET", "/v2.1/os-migrations", migrations.index, body=NoBody, query=s.MigrationListQuery),
    # live migrations of a server (api/server_migrations.py)
    Route(
        "GET",
        "/v2.1/servers/{server_id}/migrations",
        server_migrations.index,
        body=NoBody,
        query=NoQuery,
    ),
    Route(
        "GET",
        "/v2.1/servers/{server_id}/migrations/{migration_id}",
        server_migrations.show,
        body=NoBody,
        query=NoQuery,
    ),
    Route(
        "DELETE",
        "/v2.1/servers/{server_id}/migrations/{migration_id}",
        server_migrations.delete,
        body=NoBody,
        query=NoQuery,
    ),
    Route(
        "POST",
        "/v2.1/servers/{server_id}/migrations/{migration_id}/action",
        server_migrations.action,
        query=NoQuery,
        body=s.ForceCompleteBody,
    ),
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
