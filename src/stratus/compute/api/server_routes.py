"""The compute routes of servers (under /compute/v2.1/servers, and the
server-wide lists of their migrations and external events): the servers,
one route per server action, their metadata, instance actions, consoles,
addresses, interfaces, volumes and migrations."""

from __future__ import annotations

from pydantic import BaseModel

from stratus.common.api import Handler, NoBody, NoQuery, Route
from stratus.compute.api import action_schemas as a
from stratus.compute.api import (
    consoles,
    external_events,
    interfaces,
    migrations,
    server_actions,
    server_images,
    server_migrations,
    servers,
    volume_attachments,
)
from stratus.compute.api import move_schemas as mv
from stratus.compute.api import schemas as s
from stratus.compute.api import server_schemas as ss

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

# In the order the compute routes table lists them (routes.py).
SERVER_ROUTES: list[Route] = [
    Route("GET", "/v2.1/servers", servers.index, body=NoBody, query=ss.ServerListQuery),
    Route("GET", "/v2.1/servers/detail", servers.detail, body=NoBody, query=ss.ServerListQuery),
    Route("POST", "/v2.1/servers", servers.create, query=NoQuery, body=ss.ServerCreateBody),
    Route("GET", "/v2.1/servers/{server_id}", servers.show, body=NoBody, query=NoQuery),
    Route(
        "PUT", "/v2.1/servers/{server_id}", servers.update, query=NoQuery, body=ss.ServerUpdateBody
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
        body=ss.MetadataBody,
    ),
    Route(
        "POST",
        "/v2.1/servers/{server_id}/metadata",
        servers.metadata_update,
        query=NoQuery,
        body=ss.MetadataBody,
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
        body=ss.MetaItemBody,
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
]
