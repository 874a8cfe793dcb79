"""The object-store interface: what the API calls, what every layer (SLO,
DLO, TempURL, FormPost, bulk delete, versioning) offers to the one above it
and asks of the one beneath it, and what the core (quorum reads and writes
over the rings) implements at the bottom.

Everything here is a plain value: names are strings, headers and query
parameters are string mappings with lower-case names (Swift's metadata *is*
headers), bodies are async iterators of bytes, and an answer is a ``Reply``
(a status, headers and an optional body) or a ``Listing``.  No HTTP object
of any web framework crosses this line.

``headers`` of an operation are the request's own (the client's, for the
API's calls, with internal names already removed; a layer's sub-request
passes only what it means).  ``params`` are the query parameters the layers
act on (``multipart-manifest``, ``temp_url_sig``, ``bulk-delete``, ...).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from stratus.common.access_rules import enforce
from stratus.common.context import RequestContext
from stratus.objectstore.node.protocol import NodeResponse
from stratus.objectstore.service.limits import Limits

# An answer: its status, lower-case headers and, for GET, the body.  The
# same plain value as a node's answer.
Reply = NodeResponse
Body = AsyncIterator[bytes]
Names = tuple[str, str, str]  # account, container, object
Headers = Mapping[str, str]

# A Reply header saying that a layer made the whole answer (a page of
# staticweb's: an index, a listing, an error page, a redirect), to be sent
# as it is, whatever its status; Swift's staticweb marks its pages so.
PAGE = "x-backend-content-generator"


@dataclass
class Listing:
    """An account's or container's listing answer with its entries (JSON-ready)."""

    status: int
    headers: dict[str, str]
    entries: list[dict[str, Any]] = field(default_factory=list)
    page: Reply | None = None  # a layer's answer instead of the listing (staticweb)


class Access(Protocol):
    """Decides whether a caller may act on an account or container (the
    access layer); layers ask it for the other containers they reach."""

    async def check(
        self,
        caller: Caller,
        action: str,
        account: str,
        container: str | None = None,
        *,
        acl: str | None = None,
        listing: bool = False,
    ) -> None:
        """Return, or raise 401/403."""


Validate = Callable[[str, str], Awaitable[RequestContext]]  # (token, request id)


@dataclass(eq=False, slots=True)
class Caller:
    """Who makes a request, as far as the layers need to know: what the
    client addressed (signatures cover it), its token (validated on first
    use: a signed TempURL needs none), its Referer (for container ACLs), the
    account a signature opened for this request, and the access layer that
    checks the other containers a layer reaches."""

    request_id: str
    path: str = ""  # the request's Swift path (``/v1/<account>/...``), decoded
    method: str = "GET"
    raw_path: str = ""  # the path below the mount as sent (access rules match it)
    root: str = ""  # where the API is mounted (``/object-store``; empty at ``/v1``)
    params: Headers = field(default_factory=dict)  # the client's query parameters
    token: str | None = None
    validate: Validate | None = None
    referer: str | None = None
    web_mode: bool = False  # X-Web-Mode: true (staticweb for a caller with a token)
    preauth: str | None = None
    synced: bool = False  # a container sync's write: manifests taken as stored
    access: Access | None = None
    _ctx: RequestContext | None = None

    @property
    def addressed(self) -> tuple[str, ...]:
        """The paths a signature may cover: the whole path the client used
        (the storage URL's, mount included) and the Swift path below it,
        which tools that keep only ``/v1/<account>`` sign."""
        return (self.root + self.path, self.path) if self.root else (self.path,)

    async def context(self) -> RequestContext:
        """The caller's identity (anonymous without a token; 401 for a bad one)."""
        if self._ctx is None:
            if self.token and self.validate is not None:
                ctx = await self.validate(self.token, self.request_id)
                enforce(ctx.access_rules, ("object-store",), self.method, self.raw_path)
                self._ctx = ctx
            else:
                self._ctx = RequestContext(request_id=self.request_id)
        return self._ctx

    async def check(
        self,
        action: str,
        account: str,
        container: str,
        *,
        acl: str | None = None,
        listing: bool = False,
    ) -> None:
        """Raise unless the caller may do ``action`` on that container (the
        access layer decides; without one, everything is allowed);
        ``listing``: a Referer needs ``.rlistings`` too."""
        if self.access is not None:
            await self.access.check(self, action, account, container, acl=acl, listing=listing)


class ObjectStore(Protocol):
    """Accounts, containers and objects, as the core and every layer offer them."""

    @property
    def limits(self) -> Limits:
        """Swift's constraints the core enforces (what ``/info`` shows)."""

    async def info(self, account: str, container: str | None = None) -> Reply:
        """An account's or container's HEAD, cached briefly, authorized by
        nobody: for the layers (keys, versioning modes, quotas)."""

    async def head_account(self, caller: Caller, account: str) -> Reply: ...

    async def list_account(self, caller: Caller, account: str, query: Headers) -> Listing: ...

    async def post_account(
        self, caller: Caller, account: str, headers: Headers, params: Headers, body: Body | None
    ) -> Reply: ...

    async def put_container(
        self, caller: Caller, account: str, container: str, headers: Headers
    ) -> Reply: ...

    async def head_container(self, caller: Caller, account: str, container: str) -> Reply: ...

    async def list_container(
        self, caller: Caller, account: str, container: str, query: Headers
    ) -> Listing: ...

    async def post_container(
        self,
        caller: Caller,
        account: str,
        container: str,
        headers: Headers,
        params: Headers,
        body: Body | None,
    ) -> Reply: ...

    async def delete_container(self, caller: Caller, account: str, container: str) -> Reply: ...

    async def get_object(
        self, caller: Caller, names: Names, headers: Headers, params: Headers, *, head: bool
    ) -> Reply:
        """GET (or HEAD): 200/206 with the body, or the error's status."""

    async def put_object(
        self, caller: Caller, names: Names, headers: Headers, params: Headers, body: Body
    ) -> Reply:
        """201 with the ETag; the length is the headers' (Content-Length or
        chunked Transfer-Encoding)."""

    async def copy_object(
        self, caller: Caller, source: Names, dest: Names, headers: Headers
    ) -> Reply:
        """A server-side copy, overlaid by ``headers`` (201)."""

    async def post_object(
        self,
        caller: Caller,
        names: Names,
        headers: Headers,
        params: Headers,
        body: Body | None,
    ) -> Reply: ...

    async def delete_object(
        self, caller: Caller, names: Names, headers: Headers, params: Headers
    ) -> Reply: ...

    async def extract_archive(
        self, caller: Caller, account: str, base: str, headers: Headers, params: Headers, body: Body
    ) -> Reply:
        """A PUT of a tar archive (``?extract-archive=``) at the account, a
        container or a prefix in one (``base``: ``container[/prefix]`` or
        empty): each file in it becomes an object below ``base``."""


# The operations a layer may take over; those it leaves alone go straight
# to the layer beneath (see stratus.objectstore.layers.base).
OPERATIONS = (
    "info",
    "head_account",
    "list_account",
    "post_account",
    "put_container",
    "head_container",
    "list_container",
    "post_container",
    "delete_container",
    "get_object",
    "put_object",
    "copy_object",
    "post_object",
    "delete_object",
    "extract_archive",
)


class Pieced:
    """A body put together from several objects (a large object's
    segments): sent as it comes, never read whole first, so that a segment
    failing midway ends the answer early, as Swift's does."""

    def __init__(self, chunks: AsyncIterator[bytes]) -> None:
        self._chunks = chunks

    def __aiter__(self) -> Pieced:
        return self

    async def __anext__(self) -> bytes:
        return await self._chunks.__anext__()

    async def aclose(self) -> None:
        aclose = getattr(self._chunks, "aclose", None)
        if aclose is not None:
            await aclose()
