"""Version discovery, served without a token."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from stratus.common.api import ApiRequest, json_response
from stratus.identity.service import IdentityService

VERSION = "v3.14"
UPDATED = "2020-04-07T00:00:00Z"


def _version(base: str) -> dict[str, Any]:
    return {
        "id": VERSION,
        "status": "stable",
        "updated": UPDATED,
        "links": [{"rel": "self", "href": f"{base}/v3/"}],
        "media-types": [
            {"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}
        ],
    }


async def versions(req: ApiRequest[IdentityService]) -> Response:
    return json_response({"versions": {"values": [_version(req.base_url)]}}, status=300)


async def version(req: ApiRequest[IdentityService]) -> Response:
    return json_response({"version": _version(req.base_url)})
