"""The block storage routes table (all under /volume)."""

from __future__ import annotations

from stratus.common.api import NoBody, NoQuery, Route
from stratus.volume.api import attachments, backups, misc, snapshots, types, volumes
from stratus.volume.api import schemas as s
from stratus.volume.api import schemas_backups as sb
from stratus.volume.api import schemas_types as st

P = "/v3/{project_id}"

ROUTES: list[Route] = [
    Route("GET", "/", misc.versions, public=True, body=NoBody, query=NoQuery),
    Route("GET", "/v3", misc.version, public=True, body=NoBody, query=NoQuery),
    Route("GET", "/v3/", misc.version, public=True, body=NoBody, query=NoQuery),
    Route("GET", f"{P}/extensions", misc.extensions, body=NoBody, query=NoQuery),
    # volumes
    Route("GET", f"{P}/volumes", volumes.index, query=s.VolumeListQuery, body=NoBody),
    Route("GET", f"{P}/volumes/detail", volumes.detail, query=s.VolumeListQuery, body=NoBody),
    Route("GET", f"{P}/volumes/summary", volumes.summary, query=s.AllProjectsQuery, body=NoBody),
    Route("POST", f"{P}/volumes", volumes.create, body=s.VolumeCreateBody, query=NoQuery),
    Route("GET", f"{P}/volumes/{{volume_id}}", volumes.show, body=NoBody, query=NoQuery),
    Route(
        "PUT", f"{P}/volumes/{{volume_id}}", volumes.update, body=s.VolumeUpdateBody, query=NoQuery
    ),
    Route("DELETE", f"{P}/volumes/{{volume_id}}", volumes.delete, query=s.DeleteQuery, body=NoBody),
    Route(
        "POST",
        f"{P}/volumes/{{volume_id}}/action",
        volumes.action,
        body=s.VolumeActionBody,
        query=NoQuery,
    ),
    Route(
        "GET",
        f"{P}/volumes/{{volume_id}}/metadata",
        volumes.metadata_index,
        body=NoBody,
        query=NoQuery,
    ),
    Route(
        "POST",
        f"{P}/volumes/{{volume_id}}/metadata",
        volumes.metadata_update,
        body=s.MetadataBody,
        query=NoQuery,
    ),
    Route(
        "PUT",
        f"{P}/volumes/{{volume_id}}/metadata",
        volumes.metadata_replace,
        body=s.MetadataBody,
        query=NoQuery,
    ),
    Route(
        "GET",
        f"{P}/volumes/{{volume_id}}/metadata/{{key}}",
        volumes.metadata_show,
        body=NoBody,
        query=NoQuery,
    ),
    Route(
        "PUT",
        f"{P}/volumes/{{volume_id}}/metadata/{{key}}",
        volumes.metadata_set,
        body=s.MetaItemBody,
        query=NoQuery,
    ),
    Route(
        "DELETE",
        f"{P}/volumes/{{volume_id}}/metadata/{{key}}",
        volumes.metadata_delete,
        body=NoBody,
        query=NoQuery,
    ),
    # attachments (3.27+)
    Route("GET", f"{P}/attachments", attachments.index, query=s.AttachmentListQuery, body=NoBody),
    Route(
        "GET",
        f"{P}/attachments/detail",
        attachments.detail,
        query=s.AttachmentListQuery,
        body=NoBody,
    ),
    Route(
        "POST", f"{P}/attachments", attachments.create, body=s.AttachmentCreateBody, query=NoQuery
    ),
    Route(
        "GET", f"{P}/attachments/{{attachment_id}}", attachments.show, body=NoBody, query=NoQuery
    ),
    Route(
        "PUT",
        f"{P}/attachments/{{attachment_id}}",
        attachments.update,
        body=s.AttachmentUpdateBody,
        query=NoQuery,
    ),
    Route(
        "DELETE",
        f"{P}/attachments/{{attachment_id}}",
        attachments.delete,
        body=NoBody,
        query=NoQuery,
    ),
    Route(
        "POST",
        f"{P}/attachments/{{attachment_id}}/action",
        attachments.action,
        body=s.AttachmentActionBody,
        query=NoQuery,
    ),
    # snapshots
    Route("GET", f"{P}/snapshots", snapshots.index, query=s.SnapshotListQuery, body=NoBody),
    Route("GET", f"{P}/snapshots/detail", snapshots.detail, query=s.SnapshotListQuery, body=NoBody),
    Route("POST", f"{P}/snapshots", snapshots.create, body=s.SnapshotCreateBody, query=NoQuery),
    Route("GET", f"{P}/snapshots/{{snapshot_id}}", snapshots.show, body=NoBody, query=NoQuery),
    Route(
        "PUT",
        f"{P}/snapshots/{{snapshot_id}}",
        snapshots.update,
        body=s.SnapshotUpdateBody,
        query=NoQuery,
    ),
    Route("DELETE", f"{P}/snapshots/{{snapshot_id}}", snapshots.delete, body=NoBody, query=NoQuery),
    Route(
        "POST",
        f"{P}/snapshots/{{snapshot_id}}/action",
        snapshots.action,
        body=s.SnapshotActionBody,
        query=NoQuery,
    ),
    Route(
        "GET",
        f"{P}/snapshots/{{snapshot_id}}/metadata",
        snapshots.metadata_index,
        body=NoBody,
        query=NoQuery,
    ),
    Route(
        "POST",
        f"{P}/snapshots/{{snapshot_id}}/metadata",
        snapshots.metadata_update,
        body=s.MetadataBody,
        query=NoQuery,
    ),
    Route(
        "PUT",
        f"{P}/snapshots/{{snapshot_id}}/metadata",
        snapshots.metadata_replace,
        body=s.MetadataBody,
        query=NoQuery,
    ),
    Route(
        "GET",
        f"{P}/snapshots/{{snapshot_id}}/metadata/{{key}}",
        snapshots.metadata_show,
        body=NoBody,
        query=NoQuery,
    ),
    Route(
        "PUT",
        f"{P}/snapshots/{{snapshot_id}}/metadata/{{key}}",
        snapshots.metadata_set,
        body=s.MetaItemBody,
        query=NoQuery,
    ),
    Route(
        "DELETE",
        f"{P}/snapshots/{{snapshot_id}}/metadata/{{key}}",
        snapshots.metadata_delete,
        body=NoBody,
        query=NoQuery,
    ),
    # volume types
    Route("GET", f"{P}/types", types.index, query=st.TypeListQuery, body=NoBody),
    Route("POST", f"{P}/types", types.create, body=st.TypeCreateBody, query=NoQuery),
    Route("GET", f"{P}/types/default", types.default_type, body=NoBody, query=NoQuery),
    Route("GET", f"{P}/types/{{type_id}}", types.show, body=NoBody, query=NoQuery),
    Route("PUT", f"{P}/types/{{type_id}}", types.update, body=st.TypeUpdateBody, query=NoQuery),
    Route("DELETE", f"{P}/types/{{type_id}}", types.delete, body=NoBody, query=NoQuery),
    Route(
        "GET", f"{P}/types/{{type_id}}/extra_specs", types.specs_index, body=NoBody, query=NoQuery
    ),
    Route(
        "POST",
        f"{P}/types/{{type_id}}/extra_specs",
        types.specs_create,
        body=st.ExtraSpecsBody,
        query=NoQuery,
    ),
    Route(
        "GET",
        f"{P}/types/{{type_id}}/extra_specs/{{key}}",
        types.spec_show,
        body=NoBody,
        query=NoQuery,
    ),
    Route(
        "PUT",
        f"{P}/types/{{type_id}}/extra_specs/{{key}}",
        types.spec_update,
        body=st.ExtraSpecItemBody,
        query=NoQuery,
    ),
    Route(
        "DELETE",
        f"{P}/types/{{type_id}}/extra_specs/{{key}}",
        types.spec_delete,
        body=NoBody,
        query=NoQuery,
    ),
    Route(
        "GET",
        f"{P}/types/{{type_id}}/os-volume-type-access",
        types.access_index,
        body=NoBody,
        query=NoQuery,
    ),
    Route(
        "POST", f"{P}/types/{{type_id}}/action", types.action, body=st.TypeActionBody, query=NoQuery
    ),
    # QoS specs
    Route("GET", f"{P}/qos-specs", types.qos_index, body=NoBody, query=NoQuery),
    Route("POST", f"{P}/qos-specs", types.qos_create, body=st.QosCreateBody, query=NoQuery),
    Route("GET", f"{P}/qos-specs/{{qos_id}}", types.qos_show, body=NoBody, query=NoQuery),
    Route(
        "PUT", f"{P}/qos-specs/{{qos_id}}", types.qos_update, body=st.QosUpdateBody, query=NoQuery
    ),
    Route(
        "DELETE", f"{P}/qos-specs/{{qos_id}}", types.qos_delete, query=st.ForceQuery, body=NoBody
    ),
    Route(
        "PUT",
        f"{P}/qos-specs/{{qos_id}}/delete_keys",
        types.qos_delete_keys,
        body=st.QosKeysBody,
        query=NoQuery,
    ),
    Route(
        "GET",
        f"{P}/qos-specs/{{qos_id}}/associations",
        types.qos_associations,
        body=NoBody,
        query=NoQuery,
    ),
    Route(
        "GET",
        f"{P}/qos-specs/{{qos_id}}/associate",
        types.qos_associate,
        query=st.QosAssocQuery,
        body=NoBody,
    ),
    Route(
        "GET",
        f"{P}/qos-specs/{{qos_id}}/disassociate",
        types.qos_disassociate,
        query=st.QosAssocQuery,
        body=NoBody,
    ),
    Route(
        "GET",
        f"{P}/qos-specs/{{qos_id}}/disassociate_all",
        types.qos_disassociate_all,
        body=NoBody,
        query=NoQuery,
    ),
    # backups
    Route("GET", f"{P}/backups", backups.index, query=sb.BackupListQuery, body=NoBody),
    Route("GET", f"{P}/backups/detail", backups.detail, query=sb.BackupListQuery, body=NoBody),
    Route("POST", f"{P}/backups", backups.create, body=sb.BackupCreateBody, query=NoQuery),
    Route(
        "POST",
        f"{P}/backups/import_record",
        backups.import_record,
        body=sb.ImportBody,
        query=NoQuery,
    ),
    Route("GET", f"{P}/backups/{{backup_id}}", backups.show, body=NoBody, query=NoQuery),
    Route(
        "PUT", f"{P}/backups/{{backup_id}}", backups.update, body=sb.BackupUpdateBody, query=NoQuery
    ),
    Route("DELETE", f"{P}/backups/{{backup_id}}", backups.delete, body=NoBody, query=NoQuery),
    Route(
        "POST",
        f"{P}/backups/{{backup_id}}/restore",
        backups.restore,
        body=sb.RestoreBody,
        query=NoQuery,
    ),
    Route(
        "POST",
        f"{P}/backups/{{backup_id}}/action",
        backups.action,
        body=sb.BackupActionBody,
        query=NoQuery,
    ),
    Route(
        "GET",
        f"{P}/backups/{{backup_id}}/export_record",
        backups.export_record,
        body=NoBody,
        query=NoQuery,
    ),
    # limits, quotas, zones, services, pools, messages
    Route("GET", f"{P}/limits", misc.limits, body=NoBody, query=NoQuery),
    Route(
        "GET",
        f"{P}/os-quota-sets/{{target_project}}",
        misc.quota_show,
        query=st.QuotaQuery,
        body=NoBody,
    ),
    Route(
        "GET",
        f"{P}/os-quota-sets/{{target_project}}/defaults",
        misc.quota_defaults,
        body=NoBody,
        query=NoQuery,
    ),
    Route(
        "PUT",
        f"{P}/os-quota-sets/{{target_project}}",
        misc.quota_update,
        body=st.QuotaSetBody,
        query=NoQuery,
    ),
    Route(
        "DELETE",
        f"{P}/os-quota-sets/{{target_project}}",
        misc.quota_delete,
        body=NoBody,
        query=NoQuery,
    ),
    Route("GET", f"{P}/os-availability-zone", misc.zones, body=NoBody, query=NoQuery),
    Route("GET", f"{P}/os-services", misc.services, query=st.ServiceListQuery, body=NoBody),
    Route(
        "PUT",
        f"{P}/os-services/{{action}}",
        misc.service_update,
        body=st.ServiceUpdateBody,
        query=NoQuery,
    ),
    Route("GET", f"{P}/os-hosts", misc.hosts, body=NoBody, query=NoQuery),
    Route("GET", f"{P}/os-hosts/{{host_name}}", misc.host_show, body=NoBody, query=NoQuery),
    Route("GET", f"{P}/scheduler-stats/get_pools", misc.pools, query=st.PoolQuery, body=NoBody),
    Route("GET", f"{P}/messages", misc.message_index, body=NoBody, query=NoQuery),
    Route("GET", f"{P}/messages/{{message_id}}", misc.message_show, body=NoBody, query=NoQuery),
    Route(
        "DELETE", f"{P}/messages/{{message_id}}", misc.message_delete, body=NoBody, query=NoQuery
    ),
]

# Volume transfers: os-volume-transfer, and volume-transfers from 3.55.
for _prefix in ("os-volume-transfer", "volume-transfers"):
    ROUTES += [
        Route(
            "GET", f"{P}/{_prefix}", backups.transfer_index, query=s.AllProjectsQuery, body=NoBody
        ),
        Route(
            "GET",
            f"{P}/{_prefix}/detail",
            backups.transfer_detail,
            query=s.AllProjectsQuery,
            body=NoBody,
        ),
        Route(
            "POST",
            f"{P}/{_prefix}",
            backups.transfer_create,
            body=sb.TransferCreateBody,
            query=NoQuery,
        ),
        Route(
            "GET",
            f"{P}/{_prefix}/{{transfer_id}}",
            backups.transfer_show,
            body=NoBody,
            query=NoQuery,
        ),
        Route(
            "DELETE",
            f"{P}/{_prefix}/{{transfer_id}}",
            backups.transfer_delete,
            body=NoBody,
            query=NoQuery,
        ),
        Route(
            "POST",
            f"{P}/{_prefix}/{{transfer_id}}/accept",
            backups.transfer_accept,
            body=sb.AcceptBody,
            query=NoQuery,
        ),
    ]
