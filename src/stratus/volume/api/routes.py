"""The block storage routes table (all under /volume)."""

from __future__ import annotations

from stratus.common.api import Route
from stratus.volume.api import attachments, backups, misc, snapshots, types, volumes
from stratus.volume.api import schemas as s

P = "/v3/{project_id}"

ROUTES: list[Route] = [
    Route("GET", "/", misc.versions, public=True),
    Route("GET", "/v3", misc.version, public=True),
    Route("GET", "/v3/", misc.version, public=True),
    Route("GET", f"{P}/extensions", misc.extensions),
    # volumes
    Route("GET", f"{P}/volumes", volumes.index, query=s.VolumeListQuery),
    Route("GET", f"{P}/volumes/detail", volumes.detail, query=s.VolumeListQuery),
    Route("GET", f"{P}/volumes/summary", volumes.summary, query=s.AllProjectsQuery),
    Route("POST", f"{P}/volumes", volumes.create, body=s.VolumeCreateBody),
    Route("GET", f"{P}/volumes/{{volume_id}}", volumes.show),
    Route("PUT", f"{P}/volumes/{{volume_id}}", volumes.update, body=s.VolumeUpdateBody),
    Route("DELETE", f"{P}/volumes/{{volume_id}}", volumes.delete, query=s.DeleteQuery),
    Route("POST", f"{P}/volumes/{{volume_id}}/action", volumes.action, body=s.VolumeActionBody),
    Route("GET", f"{P}/volumes/{{volume_id}}/metadata", volumes.metadata_index),
    Route(
        "POST", f"{P}/volumes/{{volume_id}}/metadata", volumes.metadata_update, body=s.MetadataBody
    ),
    Route(
        "PUT", f"{P}/volumes/{{volume_id}}/metadata", volumes.metadata_replace, body=s.MetadataBody
    ),
    Route("GET", f"{P}/volumes/{{volume_id}}/metadata/{{key}}", volumes.metadata_show),
    Route(
        "PUT",
        f"{P}/volumes/{{volume_id}}/metadata/{{key}}",
        volumes.metadata_set,
        body=s.MetaItemBody,
    ),
    Route("DELETE", f"{P}/volumes/{{volume_id}}/metadata/{{key}}", volumes.metadata_delete),
    # attachments (3.27+)
    Route("GET", f"{P}/attachments", attachments.index, query=s.AttachmentListQuery),
    Route("GET", f"{P}/attachments/detail", attachments.detail, query=s.AttachmentListQuery),
    Route("POST", f"{P}/attachments", attachments.create, body=s.AttachmentCreateBody),
    Route("GET", f"{P}/attachments/{{attachment_id}}", attachments.show),
    Route(
        "PUT",
        f"{P}/attachments/{{attachment_id}}",
        attachments.update,
        body=s.AttachmentUpdateBody,
    ),
    Route("DELETE", f"{P}/attachments/{{attachment_id}}", attachments.delete),
    Route(
        "POST",
        f"{P}/attachments/{{attachment_id}}/action",
        attachments.action,
        body=s.AttachmentActionBody,
    ),
    # snapshots
    Route("GET", f"{P}/snapshots", snapshots.index, query=s.SnapshotListQuery),
    Route("GET", f"{P}/snapshots/detail", snapshots.detail, query=s.SnapshotListQuery),
    Route("POST", f"{P}/snapshots", snapshots.create, body=s.SnapshotCreateBody),
    Route("GET", f"{P}/snapshots/{{snapshot_id}}", snapshots.show),
    Route("PUT", f"{P}/snapshots/{{snapshot_id}}", snapshots.update, body=s.SnapshotUpdateBody),
    Route("DELETE", f"{P}/snapshots/{{snapshot_id}}", snapshots.delete),
    Route(
        "POST", f"{P}/snapshots/{{snapshot_id}}/action", snapshots.action, body=s.SnapshotActionBody
    ),
    Route("GET", f"{P}/snapshots/{{snapshot_id}}/metadata", snapshots.metadata_index),
    Route(
        "POST",
        f"{P}/snapshots/{{snapshot_id}}/metadata",
        snapshots.metadata_update,
        body=s.MetadataBody,
    ),
    Route(
        "PUT",
        f"{P}/snapshots/{{snapshot_id}}/metadata",
        snapshots.metadata_replace,
        body=s.MetadataBody,
    ),
    Route("GET", f"{P}/snapshots/{{snapshot_id}}/metadata/{{key}}", snapshots.metadata_show),
    Route(
        "PUT",
        f"{P}/snapshots/{{snapshot_id}}/metadata/{{key}}",
        snapshots.metadata_set,
        body=s.MetaItemBody,
    ),
    Route("DELETE", f"{P}/snapshots/{{snapshot_id}}/metadata/{{key}}", snapshots.metadata_delete),
    # volume types
    Route("GET", f"{P}/types", types.index, query=s.TypeListQuery),
    Route("POST", f"{P}/types", types.create, body=s.TypeCreateBody),
    Route("GET", f"{P}/types/default", types.default_type),
    Route("GET", f"{P}/types/{{type_id}}", types.show),
    Route("PUT", f"{P}/types/{{type_id}}", types.update, body=s.TypeUpdateBody),
    Route("DELETE", f"{P}/types/{{type_id}}", types.delete),
    Route("GET", f"{P}/types/{{type_id}}/extra_specs", types.specs_index),
    Route("POST", f"{P}/types/{{type_id}}/extra_specs", types.specs_create, body=s.ExtraSpecsBody),
    Route("GET", f"{P}/types/{{type_id}}/extra_specs/{{key}}", types.spec_show),
    Route(
        "PUT",
        f"{P}/types/{{type_id}}/extra_specs/{{key}}",
        types.spec_update,
        body=s.ExtraSpecItemBody,
    ),
    Route("DELETE", f"{P}/types/{{type_id}}/extra_specs/{{key}}", types.spec_delete),
    Route("GET", f"{P}/types/{{type_id}}/os-volume-type-access", types.access_index),
    Route("POST", f"{P}/types/{{type_id}}/action", types.action, body=s.TypeActionBody),
    # QoS specs
    Route("GET", f"{P}/qos-specs", types.qos_index),
    Route("POST", f"{P}/qos-specs", types.qos_create, body=s.QosCreateBody),
    Route("GET", f"{P}/qos-specs/{{qos_id}}", types.qos_show),
    Route("PUT", f"{P}/qos-specs/{{qos_id}}", types.qos_update, body=s.QosUpdateBody),
    Route("DELETE", f"{P}/qos-specs/{{qos_id}}", types.qos_delete, query=s.ForceQuery),
    Route(
        "PUT", f"{P}/qos-specs/{{qos_id}}/delete_keys", types.qos_delete_keys, body=s.QosKeysBody
    ),
    Route("GET", f"{P}/qos-specs/{{qos_id}}/associations", types.qos_associations),
    Route("GET", f"{P}/qos-specs/{{qos_id}}/associate", types.qos_associate, query=s.QosAssocQuery),
    Route(
        "GET",
        f"{P}/qos-specs/{{qos_id}}/disassociate",
        types.qos_disassociate,
        query=s.QosAssocQuery,
    ),
    Route("GET", f"{P}/qos-specs/{{qos_id}}/disassociate_all", types.qos_disassociate_all),
    # backups
    Route("GET", f"{P}/backups", backups.index, query=s.BackupListQuery),
    Route("GET", f"{P}/backups/detail", backups.detail, query=s.BackupListQuery),
    Route("POST", f"{P}/backups", backups.create, body=s.BackupCreateBody),
    Route("POST", f"{P}/backups/import_record", backups.import_record, body=s.ImportBody),
    Route("GET", f"{P}/backups/{{backup_id}}", backups.show),
    Route("PUT", f"{P}/backups/{{backup_id}}", backups.update, body=s.BackupUpdateBody),
    Route("DELETE", f"{P}/backups/{{backup_id}}", backups.delete),
    Route("POST", f"{P}/backups/{{backup_id}}/restore", backups.restore, body=s.RestoreBody),
    Route("POST", f"{P}/backups/{{backup_id}}/action", backups.action, body=s.BackupActionBody),
    Route("GET", f"{P}/backups/{{backup_id}}/export_record", backups.export_record),
    # limits, quotas, zones, services, pools, messages
    Route("GET", f"{P}/limits", misc.limits),
    Route("GET", f"{P}/os-quota-sets/{{target_project}}", misc.quota_show, query=s.QuotaQuery),
    Route("GET", f"{P}/os-quota-sets/{{target_project}}/defaults", misc.quota_defaults),
    Route("PUT", f"{P}/os-quota-sets/{{target_project}}", misc.quota_update, body=s.QuotaSetBody),
    Route("DELETE", f"{P}/os-quota-sets/{{target_project}}", misc.quota_delete),
    Route("GET", f"{P}/os-availability-zone", misc.zones),
    Route("GET", f"{P}/os-services", misc.services, query=s.ServiceListQuery),
    Route("PUT", f"{P}/os-services/{{action}}", misc.service_update, body=s.ServiceUpdateBody),
    Route("GET", f"{P}/os-hosts", misc.hosts),
    Route("GET", f"{P}/os-hosts/{{host_name}}", misc.host_show),
    Route("GET", f"{P}/scheduler-stats/get_pools", misc.pools, query=s.PoolQuery),
    Route("GET", f"{P}/messages", misc.message_index),
    Route("GET", f"{P}/messages/{{message_id}}", misc.message_show),
    Route("DELETE", f"{P}/messages/{{message_id}}", misc.message_delete),
]

# Volume transfers: os-volume-transfer, and volume-transfers from 3.55.
for _prefix in ("os-volume-transfer", "volume-transfers"):
    ROUTES += [
        Route("GET", f"{P}/{_prefix}", backups.transfer_index, query=s.AllProjectsQuery),
        Route("GET", f"{P}/{_prefix}/detail", backups.transfer_detail, query=s.AllProjectsQuery),
        Route("POST", f"{P}/{_prefix}", backups.transfer_create, body=s.TransferCreateBody),
        Route("GET", f"{P}/{_prefix}/{{transfer_id}}", backups.transfer_show),
        Route("DELETE", f"{P}/{_prefix}/{{transfer_id}}", backups.transfer_delete),
        Route(
            "POST",
            f"{P}/{_prefix}/{{transfer_id}}/accept",
            backups.transfer_accept,
            body=s.AcceptBody,
        ),
    ]
