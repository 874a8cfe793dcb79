"""The object store's routes table.  Paths are matched by
:func:`stratus.objectstore.api.request.parse_path` (Swift's names do not fit
a path router: object names keep their slashes, and names are checked before
any route runs); HEAD has its own handlers, as Swift answers it differently.

Every route names its schemas: Swift's writes carry metadata in headers, so
most take no body (``NoBody``); object uploads, FormPost forms, bulk
deletes and archives are read as streams (``RawBody``).
"""

from __future__ import annotations

from stratus.common.api import NoBody, NoQuery, RawBody, Route
from stratus.objectstore.api import accounts, containers, cors, info, objects
from stratus.objectstore.api.listing import ListingQuery
from stratus.objectstore.api.request import ACCOUNT, CONTAINER, OBJECT

ROUTES: list[Route] = [
    Route("GET", "/info", info.show, body=NoBody, query=NoQuery, public=True),
    Route("HEAD", "/info", info.show, body=NoBody, query=NoQuery, public=True),
    Route("OPTIONS", "/info", cors.info_options, body=NoBody, query=NoQuery, public=True),
    Route("GET", "/healthcheck", info.healthcheck, body=NoBody, query=NoQuery, public=True),
    Route("HEAD", "/healthcheck", info.healthcheck, body=NoBody, query=NoQuery, public=True),
    Route("GET", "/crossdomain.xml", info.crossdomain, body=NoBody, query=NoQuery, public=True),
    Route("HEAD", ACCOUNT, accounts.show, body=NoBody, query=NoQuery),
    Route("GET", ACCOUNT, accounts.index, body=NoBody, query=ListingQuery),
    Route("POST", ACCOUNT, accounts.update, body=RawBody, query=NoQuery),  # bulk delete
    Route("PUT", ACCOUNT, accounts.extract, body=RawBody, query=NoQuery),  # extract-archive
    Route("DELETE", ACCOUNT, accounts.delete, body=RawBody, query=NoQuery),  # bulk delete
    Route("PUT", CONTAINER, containers.create, body=RawBody, query=NoQuery),  # extract-archive
    Route("HEAD", CONTAINER, containers.show, body=NoBody, query=NoQuery),
    Route("GET", CONTAINER, containers.index, body=NoBody, query=ListingQuery),
    Route("POST", CONTAINER, containers.update, body=RawBody, query=NoQuery),  # FormPost
    Route("DELETE", CONTAINER, containers.delete, body=NoBody, query=NoQuery),
    Route("PUT", OBJECT, objects.create, body=RawBody, query=NoQuery),
    Route("COPY", OBJECT, objects.copy, body=NoBody, query=NoQuery),
    Route("HEAD", OBJECT, objects.show, body=NoBody, query=NoQuery),
    Route("GET", OBJECT, objects.download, body=NoBody, query=NoQuery),
    Route("POST", OBJECT, objects.update, body=RawBody, query=NoQuery),  # FormPost
    Route("DELETE", OBJECT, objects.delete, body=NoBody, query=NoQuery),
    # CORS preflights (and Allow) anywhere below an account; no token needed.
    Route("OPTIONS", ACCOUNT, cors.options, body=NoBody, query=NoQuery, public=True),
    Route("OPTIONS", CONTAINER, cors.options, body=NoBody, query=NoQuery, public=True),
    Route("OPTIONS", OBJECT, cors.options, body=NoBody, query=NoQuery, public=True),
]
