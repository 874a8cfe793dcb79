"""What every layer shares: it wraps the layer beneath (``self.app``) and
offers the same interface upwards.

A layer overrides only the operations its feature changes.  The others are
bound at construction straight to the layer beneath's, so a request that a
layer has nothing to do with does not even pass through it: a stack of
layers costs nothing on the operations they leave alone.  Anything else the
layer beneath offers (an operation a lower layer added, the limits) is
reached through attribute look-up.
"""

from __future__ import annotations

from typing import Any

from stratus.objectstore.service.interface import (
    OPERATIONS,
    Body,
    Caller,
    Headers,
    Listing,
    Names,
    ObjectStore,
    Reply,
)
from stratus.objectstore.service.limits import Limits


class Layer:
    """A feature over the object-store interface of the layer beneath."""

    def __init__(self, app: ObjectStore) -> None:
        self.app = app
        cls = type(self)
        for name in OPERATIONS:
            if getattr(cls, name) is getattr(Layer, name):
                setattr(self, name, getattr(app, name))

    @property
    def limits(self) -> Limits:
        limits: Limits = getattr(self.app, "limits")  # noqa: B009 - any layer, or the core
        return limits

    def __getattr__(self, name: str) -> Any:
        # Only reached for names this layer lacks: a lower layer's extras.
        if name == "app":
            raise AttributeError(name)
        return getattr(self.app, name)

    # Pass-through definitions, for the type checker and for layers that
    # call them with super(); instances use the bindings made above.

    async def info(self, account: str, container: str | None = None) -> Reply:
        return await self.app.info(account, container)

    async def head_account(self, caller: Caller, account: str) -> Reply:
        return await self.app.head_account(caller, account)

    async def list_account(self, caller: Caller, account: str, query: Headers) -> Listing:
        return await self.app.list_account(caller, account, query)

    async def post_account(
        self, caller: Caller, account: str, headers: Headers, params: Headers, body: Body | None
    ) -> Reply:
        return await self.app.post_account(caller, account, headers, params, body)

    async def put_container(
        self, caller: Caller, account: str, container: str, headers: Headers
    ) -> Reply:
        return await self.app.put_container(caller, account, container, headers)

    async def head_container(self, caller: Caller, account: str, container: str) -> Reply:
        return await self.app.head_container(caller, account, container)

    async def list_container(
        self, caller: Caller, account: str, container: str, query: Headers
    ) -> Listing:
        return await self.app.list_container(caller, account, container, query)

    async def post_container(
        self,
        caller: Caller,
        account: str,
        container: str,
        headers: Headers,
        params: Headers,
        body: Body | None,
    ) -> Reply:
        return await self.app.post_container(caller, account, container, headers, params, body)

    async def delete_container(self, caller: Caller, account: str, container: str) -> Reply:
        return await self.app.delete_container(caller, account, container)

    async def get_object(
        self, caller: Caller, names: Names, headers: Headers, params: Headers, *, head: bool
    ) -> Reply:
        return await self.app.get_object(caller, names, headers, params, head=head)

    async def put_object(
        self, caller: Caller, names: Names, headers: Headers, params: Headers, body: Body
    ) -> Reply:
        return await self.app.put_object(caller, names, headers, params, body)

    async def copy_object(
        self, caller: Caller, source: Names, dest: Names, headers: Headers
    ) -> Reply:
        return await self.app.copy_object(caller, source, dest, headers)

    async def post_object(
        self,
        caller: Caller,
        names: Names,
        headers: Headers,
        params: Headers,
        body: Body | None,
    ) -> Reply:
        return await self.app.post_object(caller, names, headers, params, body)

    async def delete_object(
        self, caller: Caller, names: Names, headers: Headers, params: Headers
    ) -> Reply:
        return await self.app.delete_object(caller, names, headers, params)

    async def extract_archive(
        self, caller: Caller, account: str, base: str, headers: Headers, params: Headers, body: Body
    ) -> Reply:
        return await self.app.extract_archive(caller, account, base, headers, params, body)


def stack(core: ObjectStore, *layers: type[Layer] | Any) -> ObjectStore:
    """``core`` wrapped by ``layers``, listed from the bottom up; an entry is
    a layer class, or a callable that makes the layer from the one beneath."""
    app = core
    for make in layers:
        app = make(app)
    return app
