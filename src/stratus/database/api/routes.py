"""The database service's routes table (all under /database)."""

from __future__ import annotations

from stratus.common.api import NoBody, NoQuery, Route
from stratus.database.api import (
    accounts,
    backups,
    configurations,
    instances,
    logs,
    misc,
    quotas,
)
from stratus.database.api import schemas as s

P = "/v1.0/{project_id}"
I = f"{P}/instances/{{instance_id}}"  # noqa: E741
DS = f"{P}/datastores/{{datastore_id}}"
C = f"{P}/configurations/{{configuration_id}}"

ROUTES: list[Route] = [
    Route("GET", "/", misc.versions, public=True, body=NoBody, query=NoQuery),
    Route("GET", "/v1.0", misc.versions, public=True, body=NoBody, query=NoQuery),
    Route("GET", "/v1.0/", misc.versions, public=True, body=NoBody, query=NoQuery),
    # flavors and datastores
    Route("GET", f"{P}/flavors", misc.flavors, body=NoBody, query=NoQuery),
    Route("GET", f"{P}/flavors/{{flavor_id}}", misc.flavor, body=NoBody, query=NoQuery),
    Route("GET", f"{P}/datastores", misc.datastores, body=NoBody, query=NoQuery),
    Route(
        "GET",
        f"{P}/datastores/versions/{{version_id}}",
        misc.version_by_id,
        body=NoBody,
        query=NoQuery,
    ),  # fmt: skip
    Route("GET", DS, misc.datastore, body=NoBody, query=NoQuery),
    Route("GET", f"{DS}/versions", misc.datastore_versions, body=NoBody, query=NoQuery),
    Route(
        "GET",
        f"{DS}/versions/{{version_id}}",
        misc.datastore_version,
        body=NoBody,
        query=NoQuery,
    ),  # fmt: skip
    Route(
        "GET",
        f"{DS}/versions/{{version_id}}/parameters",
        misc.parameters,
        body=NoBody,
        query=NoQuery,
    ),  # fmt: skip
    # instances
    Route("GET", f"{P}/instances", instances.index, body=NoBody, query=s.InstanceListQuery),
    Route("GET", f"{P}/instances/detail", instances.index, body=NoBody, query=s.InstanceListQuery),
    Route("POST", f"{P}/instances", instances.create, body=s.InstanceCreateBody, query=NoQuery),
    Route("GET", I, instances.show, body=NoBody, query=NoQuery),
    Route("PATCH", I, instances.update, body=s.InstanceUpdateBody, query=NoQuery),
    Route("PUT", I, instances.update, body=s.InstanceUpdateBody, query=NoQuery),
    Route("DELETE", I, instances.delete, body=NoBody, query=NoQuery),
    Route(
        "POST",
        f"{I}/action",
        instances.restart,
        body=s.RestartBody,
        query=NoQuery,
        action="restart",
    ),  # fmt: skip
    Route(
        "POST",
        f"{I}/action",
        instances.resize,
        body=s.ResizeBody,
        query=NoQuery,
        action="resize",
    ),  # fmt: skip
    Route(
        "POST",
        f"{I}/action",
        instances.promote_to_replica_source,
        body=s.PromoteBody,
        query=NoQuery,
        action="promote_to_replica_source",
    ),  # fmt: skip
    Route(
        "POST",
        f"{I}/action",
        instances.eject_replica_source,
        body=s.EjectBody,
        query=NoQuery,
        action="eject_replica_source",
    ),  # fmt: skip
    Route("GET", f"{I}/backups", backups.of_instance, body=NoBody, query=NoQuery),
    Route("GET", f"{I}/log", logs.index, body=NoBody, query=NoQuery),
    Route("POST", f"{I}/log", logs.action, body=s.LogActionBody, query=NoQuery),
    # databases, users, root
    Route("GET", f"{I}/databases", accounts.databases, body=NoBody, query=NoQuery),
    Route("POST", f"{I}/databases", accounts.create_databases, body=s.DatabasesBody, query=NoQuery),
    Route(
        "DELETE", f"{I}/databases/{{name}}", accounts.delete_database, body=NoBody, query=NoQuery
    ),  # fmt: skip
    Route("GET", f"{I}/users", accounts.users, body=NoBody, query=NoQuery),
    Route("POST", f"{I}/users", accounts.create_users, body=s.UsersBody, query=NoQuery),
    Route("PUT", f"{I}/users", accounts.change_passwords, body=s.PasswordsBody, query=NoQuery),
    Route("GET", f"{I}/users/{{name}}", accounts.user, body=NoBody, query=NoQuery),
    Route("DELETE", f"{I}/users/{{name}}", accounts.delete_user, body=NoBody, query=NoQuery),
    Route(
        "GET",
        f"{I}/users/{{name}}/databases",
        accounts.user_databases,
        body=NoBody,
        query=NoQuery,
    ),  # fmt: skip
    Route(
        "PUT",
        f"{I}/users/{{name}}/databases",
        accounts.grant,
        body=s.GrantBody,
        query=NoQuery,
    ),  # fmt: skip
    Route(
        "DELETE",
        f"{I}/users/{{name}}/databases/{{database}}",
        accounts.revoke,
        body=NoBody,
        query=NoQuery,
    ),  # fmt: skip
    Route("POST", f"{I}/root", accounts.enable_root, body=s.RootBody, query=NoQuery),
    Route("GET", f"{I}/root", accounts.root_show, body=NoBody, query=NoQuery),
    # configuration groups
    Route("GET", f"{P}/configurations", configurations.index, body=NoBody, query=NoQuery),
    Route(
        "POST",
        f"{P}/configurations",
        configurations.create,
        body=s.ConfigurationCreateBody,
        query=NoQuery,
    ),  # fmt: skip
    Route("GET", f"{C}", configurations.show, body=NoBody, query=NoQuery),
    Route("PUT", f"{C}", configurations.replace, body=s.ConfigurationValuesBody, query=NoQuery),
    Route("PATCH", f"{C}", configurations.edit, body=s.ConfigurationValuesBody, query=NoQuery),
    Route("DELETE", f"{C}", configurations.delete, body=NoBody, query=NoQuery),
    Route("GET", f"{C}/instances", configurations.instances, body=NoBody, query=NoQuery),
    # quotas
    Route("GET", f"{P}/mgmt/quotas/{{user_project}}", quotas.show, body=NoBody, query=NoQuery),
    Route("PUT", f"{P}/mgmt/quotas/{{user_project}}", quotas.update, body=s.QuotasBody,
          query=NoQuery),  # fmt: skip
    # backups
    Route("GET", f"{P}/backups", backups.index, body=NoBody, query=s.BackupListQuery),
    Route("POST", f"{P}/backups", backups.create, body=s.BackupCreateBody, query=NoQuery),
    Route("GET", f"{P}/backups/{{backup_id}}", backups.show, body=NoBody, query=NoQuery),
    Route("DELETE", f"{P}/backups/{{backup_id}}", backups.delete, body=NoBody, query=NoQuery),
]
