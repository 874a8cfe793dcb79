"""The object store's routes table.  Paths are matched by
:func:`stratus.objectstore.api.request.parse_path` (Swift's names do not fit
a path router: object names keep their slashes, and names are checked before
any route runs); HEAD has its own handlers, as Swift answers it differently."""

from __future__ import annotations

from stratus.common.api import NoBody, RawBody, Route
from stratus.objectstore.api import accounts, containers, info, objects
from stratus.objectstore.api.listing import ListingQuery
from stratus.objectstore.api.request import ACCOUNT, CONTAINER, OBJECT

ROUTES: list[Route] = [
    Route("GET", "/info", info.show, public=True),
    Route("HEAD", "/info", info.show, public=True),
    Route("GET", "/healthcheck", info.healthcheck, public=True),
    Route("HEAD", "/healthcheck", info.healthcheck, public=True),
    Route("GET", "/crossdomain.xml", info.crossdomain, public=True),
    Route("HEAD", ACCOUNT, accounts.show),
    Route("GET", ACCOUNT, accounts.index, query=ListingQuery),
    Route("POST", ACCOUNT, accounts.update, body=NoBody),
    Route("PUT", CONTAINER, containers.create, body=NoBody),
    Route("HEAD", CONTAINER, containers.show),
    Route("GET", CONTAINER, containers.index, query=ListingQuery),
    Route("POST", CONTAINER, containers.update, body=NoBody),
    Route("DELETE", CONTAINER, containers.delete),
    Route("PUT", OBJECT, objects.create, body=RawBody),
    Route("COPY", OBJECT, objects.copy),
    Route("HEAD", OBJECT, objects.show),
    Route("GET", OBJECT, objects.download),
    Route("POST", OBJECT, objects.update, body=NoBody),
    Route("DELETE", OBJECT, objects.delete),
]
