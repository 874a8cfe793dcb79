"""Regions, services and endpoints."""

from __future__ import annotations

from starlette.responses import Response

from stratus.common.api import ApiRequest, empty_response, json_response
from stratus.identity.api import views
from stratus.identity.service import IdentityService


async def region_index(req: ApiRequest[IdentityService]) -> Response:
    req.authorize("identity:list_regions")
    q = req.query
    page = await req.service.catalog.list_regions(q.parent_region_id, q.limit, q.marker)
    return json_response(views.page("regions", page, views.region, req.base_url, req.url))


async def region_show(req: ApiRequest[IdentityService]) -> Response:
    req.authorize("identity:get_region")
    region = await req.service.catalog.get_region(req.params["region_id"])
    return json_response({"region": views.region(region, req.base_url)})


async def region_create(req: ApiRequest[IdentityService]) -> Response:
    req.authorize("identity:create_region")
    region = await req.service.catalog.create_region(req.body.region.attrs())
    return json_response({"region": views.region(region, req.base_url)}, status=201)


async def region_put(req: ApiRequest[IdentityService]) -> Response:
    req.authorize("identity:create_region")
    attrs = {**req.body.region.attrs(), "id": req.params["region_id"]}
    region = await req.service.catalog.create_region(attrs)
    return json_response({"region": views.region(region, req.base_url)}, status=201)


async def region_update(req: ApiRequest[IdentityService]) -> Response:
    req.authorize("identity:update_region")
    region = await req.service.catalog.update_region(
        req.params["region_id"], req.body.region.attrs()
    )
    return json_response({"region": views.region(region, req.base_url)})


async def region_delete(req: ApiRequest[IdentityService]) -> Response:
    req.authorize("identity:delete_region")
    await req.service.catalog.delete_region(req.params["region_id"])
    return empty_response()


async def service_index(req: ApiRequest[IdentityService]) -> Response:
    req.authorize("identity:list_services")
    q = req.query
    page = await req.service.catalog.list_services(q.filters("name", "type"), q.limit, q.marker)
    return json_response(views.page("services", page, views.service, req.base_url, req.url))


async def service_show(req: ApiRequest[IdentityService]) -> Response:
    req.authorize("identity:get_service")
    service = await req.service.catalog.get_service(req.params["service_id"])
    return json_response({"service": views.service(service, req.base_url)})


async def service_create(req: ApiRequest[IdentityService]) -> Response:
    req.authorize("identity:create_service")
    service = await req.service.catalog.create_service(req.body.service.attrs())
    return json_response({"service": views.service(service, req.base_url)}, status=201)


async def service_update(req: ApiRequest[IdentityService]) -> Response:
    req.authorize("identity:update_service")
    service = await req.service.catalog.update_service(
        req.params["service_id"], req.body.service.attrs()
    )
    return json_response({"service": views.service(service, req.base_url)})


async def service_delete(req: ApiRequest[IdentityService]) -> Response:
    req.authorize("identity:delete_service")
    await req.service.catalog.delete_service(req.params["service_id"])
    return empty_response()


async def endpoint_index(req: ApiRequest[IdentityService]) -> Response:
    req.authorize("identity:list_endpoints")
    q = req.query
    filters = {
        k: v
        for k, v in {
            "service_id": q.service_id,
            "interface": q.interface,
            "region_id": q.region_id,
            "region": q.region,
        }.items()
        if v
    }
    page = await req.service.catalog.list_endpoints(filters, q.limit, q.marker)
    return json_response(views.page("endpoints", page, views.endpoint, req.base_url, req.url))


async def endpoint_show(req: ApiRequest[IdentityService]) -> Response:
    req.authorize("identity:get_endpoint")
    endpoint = await req.service.catalog.get_endpoint(req.params["endpoint_id"])
    return json_response({"endpoint": views.endpoint(endpoint, req.base_url)})


async def endpoint_create(req: ApiRequest[IdentityService]) -> Response:
    req.authorize("identity:create_endpoint")
    endpoint = await req.service.catalog.create_endpoint(req.body.endpoint.attrs())
    return json_response({"endpoint": views.endpoint(endpoint, req.base_url)}, status=201)


async def endpoint_update(req: ApiRequest[IdentityService]) -> Response:
    req.authorize("identity:update_endpoint")
    endpoint = await req.service.catalog.update_endpoint(
        req.params["endpoint_id"], req.body.endpoint.attrs()
    )
    return json_response({"endpoint": views.endpoint(endpoint, req.base_url)})


async def endpoint_delete(req: ApiRequest[IdentityService]) -> Response:
    req.authorize("identity:delete_endpoint")
    await req.service.catalog.delete_endpoint(req.params["endpoint_id"])
    return empty_response()
