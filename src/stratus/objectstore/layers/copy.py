"""Server-side copies asked for with ``PUT`` and ``X-Copy-From`` (and
``X-Copy-From-Account``), as Swift's ``copy`` middleware: the PUT becomes a
copy of the named object, which the caller must be able to read.  (``COPY``
with ``Destination`` reaches the interface as a copy already.)"""

from __future__ import annotations

from stratus.objectstore.errors import BadRequest
from stratus.objectstore.layers.access import READ_ACL
from stratus.objectstore.layers.base import Layer
from stratus.objectstore.service.headers import declared_length
from stratus.objectstore.service.interface import Body, Caller, Headers, Names, Reply
from stratus.objectstore.service.names import split_target


class CopyLayer(Layer):
    async def put_object(
        self, caller: Caller, names: Names, headers: Headers, params: Headers, body: Body
    ) -> Reply:
        copy_from = headers.get("x-copy-from")
        if copy_from is None:
            return await self.app.put_object(caller, names, headers, params, body)
        if declared_length(headers):
            raise BadRequest("Copy requests require a zero byte body")
        container, obj = split_target(copy_from, self.limits)
        source = (headers.get("x-copy-from-account") or names[0], container, obj)
        await caller.check("object_store:get_object", source[0], source[1], acl=READ_ACL)
        return await self.app.copy_object(caller, source, names, headers)
