"""Discovery without a token: ``/info`` (capabilities), ``/healthcheck``,
``/crossdomain.xml``."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response

from stratus.common.api import ApiRequest
from stratus.objectstore.api.cors import CorsPolicy, policy_of
from stratus.objectstore.api.request import SYNC_REALMS, VERSIONS
from stratus.objectstore.layers import archive, bulk, dlo, slo_manifest, symlink, tempurl
from stratus.objectstore.service.accounts import POLICY_NAME
from stratus.objectstore.service.container_sync import SyncRealms
from stratus.objectstore.service.interface import ObjectStore
from stratus.objectstore.service.limits import Limits

SWIFT_VERSION = "2.38.0"

CROSSDOMAIN = (
    '<?xml version="1.0"?>\n'
    '<!DOCTYPE cross-domain-policy SYSTEM "http://www.adobe.com/xml/dtds/cross-domain-policy.dtd" >\n'
    "<cross-domain-policy>\n"
    '<allow-access-from domain="*" secure="false" />\n'
    "</cross-domain-policy>"
)


def capabilities(
    limits: Limits, cors_policy: CorsPolicy | None = None, sync: SyncRealms | None = None
) -> dict[str, Any]:
    """What ``/info`` shows: Swift's core section and the features that exist."""
    return {
        "swift": {
            "version": SWIFT_VERSION,
            "max_file_size": limits.max_file_size,
            "max_meta_name_length": limits.max_meta_name_length,
            "max_meta_value_length": limits.max_meta_value_length,
            "max_meta_count": limits.max_meta_count,
            "max_meta_overall_size": limits.max_meta_overall_size,
            "max_header_size": limits.max_header_size,
            "max_object_name_length": limits.max_object_name_length,
            "max_container_name_length": limits.max_container_name_length,
            "max_account_name_length": limits.max_account_name_length,
            "container_listing_limit": limits.container_listing_limit,
            "account_listing_limit": limits.account_listing_limit,
            "extra_header_count": limits.extra_header_count,
            "account_autocreate": True,
            "allow_account_management": False,
            "strict_cors_mode": (cors_policy or CorsPolicy()).strict,
            "valid_api_versions": list(VERSIONS),
            "policies": [{"name": POLICY_NAME, "aliases": POLICY_NAME, "default": True}],
        },
        "account_quotas": {},
        "container_sync": {"realms": (sync or SyncRealms()).info()},
        "container_quotas": {},
        "crossdomain": {},
        "staticweb": {},
        "tempurl": {
            "methods": list(tempurl.METHODS),
            "incoming_remove_headers": ["x-timestamp"],
            "incoming_allow_headers": [],
            "outgoing_remove_headers": [tempurl.OUTGOING_REMOVE + "*"],
            "outgoing_allow_headers": [tempurl.OUTGOING_ALLOW + "*"],
            "allowed_digests": sorted(tempurl.DIGESTS),
        },
        "formpost": {"allowed_digests": sorted(tempurl.DIGESTS)},
        "slo": {
            "max_manifest_segments": slo_manifest.MAX_SEGMENTS,
            "max_manifest_size": slo_manifest.MAX_MANIFEST_SIZE,
            "min_segment_size": slo_manifest.MIN_SEGMENT_SIZE,
            "yield_frequency": 10,
            "allow_async_delete": False,
        },
        "dlo": {"max_segments": dlo.MAX_SEGMENTS},
        "symlink": {"symloop_max": symlink.SYMLOOP_MAX, "static_links": True},
        "object_versioning": {},
        "versioned_writes": {"allowed_flags": ["x-versions-location", "x-history-location"]},
        "bulk_upload": {
            "max_containers_per_extraction": archive.MAX_CONTAINERS,
            "max_failed_extractions": archive.MAX_FAILED,
        },
        "bulk_delete": {
            "max_deletes_per_request": bulk.MAX_DELETES,
            "max_failed_deletes": bulk.MAX_FAILED,
        },
    }


async def show(req: ApiRequest[ObjectStore]) -> Response:
    sync: SyncRealms | None = req.raw.scope.get(SYNC_REALMS)
    body = orjson.dumps(capabilities(req.service.limits, policy_of(req), sync))
    return Response(body, 200, media_type="application/json; charset=UTF-8")


async def healthcheck(req: ApiRequest[ObjectStore]) -> Response:
    return Response(b"OK", 200, media_type="text/plain")


async def crossdomain(req: ApiRequest[ObjectStore]) -> Response:
    return Response(CROSSDOMAIN.encode(), 200, media_type="application/xml")
