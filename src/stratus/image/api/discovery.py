"""Version discovery and schema documents."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from stratus.common.api import ApiRequest, json_response
from stratus.image.api import jsonschemas, metadef_jsonschemas
from stratus.image.errors import NotFound
from stratus.image.service import ImageService

CURRENT = "v2.16"
SUPPORTED = (
    "v2.15",
    "v2.14",
    "v2.13",
    "v2.12",
    "v2.11",
    "v2.10",
    "v2.9",
    "v2.8",
    "v2.7",
    "v2.6",
    "v2.5",
    "v2.4",
    "v2.3",
    "v2.2",
    "v2.1",
    "v2.0",
)


def _versions(base: str) -> dict[str, Any]:
    link = [{"rel": "self", "href": f"{base}/v2/"}]
    return {
        "versions": [{"id": CURRENT, "status": "CURRENT", "links": link}]
        + [{"id": v, "status": "SUPPORTED", "links": link} for v in SUPPORTED]
    }


async def versions(req: ApiRequest[ImageService]) -> Response:
    return json_response(_versions(req.base_url), status=300)


async def versions_list(req: ApiRequest[ImageService]) -> Response:
    return json_response(_versions(req.base_url))


async def schema(req: ApiRequest[ImageService]) -> Response:
    make = jsonschemas.DOCUMENTS.get(req.params["name"])
    if make is None:
        raise NotFound(f"No schema named {req.params['name']}.")
    return json_response(make())


async def metadef_schema(req: ApiRequest[ImageService]) -> Response:
    make = metadef_jsonschemas.DOCUMENTS.get(req.params["name"])
    if make is None:
        raise NotFound(f"No schema named metadefs/{req.params['name']}.")
    return json_response(make())
