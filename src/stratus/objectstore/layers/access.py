"""The access layer: who may do what, as Swift's keystoneauth decides: the
account's own project through the policy rules, others through the
container's ACLs, and anyone through an account a signature opened for the
request (TempURL, FormPost: ``Caller.preauth``).  It checks each request as
the client made it, and is the ``Access`` the layers beneath ask about the
other containers they reach (segments, archives, copy sources).

ACL entries (comma-separated):

- ``.r:*`` (any referrer, no token needed), ``.r:example.com``, ``.r:.example.com``,
  ``.r:-host`` (denied): referrers, for object reads (X-Container-Read only);
- ``.rlistings``: referrers may also list the container;
- ``<project_id>:<user_id>``, ``<project_id>:*``, ``*:<user_id>``, ``*:*``:
  callers with a token; the same with names only when the caller's user and
  project, and the account's project, are in the default domain (a name
  elsewhere may be anybody's);
- a role name: the account's own project's users holding that role.

The account's project's domain is kept as Swift's keystoneauth keeps it: the
account's sysmeta ``project-domain-id``, written when the account's own
project first creates or posts to it (``_unknown`` when someone else did),
and shown to clients as ``X-Account-Project-Domain-Id``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlparse

from stratus.common.context import RequestContext
from stratus.common.policy import Enforcer
from stratus.objectstore.errors import Forbidden, Unauthorized
from stratus.objectstore.layers import account_acl
from stratus.objectstore.layers.base import Layer
from stratus.objectstore.service.interface import (
    Body,
    Caller,
    Headers,
    Listing,
    Names,
    ObjectStore,
    Reply,
)

ACCOUNT_PREFIX = "AUTH_"
DEFAULT_DOMAIN = "default"
READ_ACL = "x-container-read"
WRITE_ACL = "x-container-write"
DOMAIN_SYSMETA = "x-account-sysmeta-project-domain-id"
DOMAIN_HEADER = "x-account-project-domain-id"
UNKNOWN_DOMAIN = "_unknown"
# Container headers only the account's owners set and see (Swift's
# swift_owner_headers): others' are dropped from their writes and answers.
OWNER_HEADERS = (READ_ACL, WRITE_ACL, "x-container-sync-key", "x-container-sync-to")
_REMOVE_OWNER = tuple("x-remove-" + h[len("x-") :] for h in OWNER_HEADERS)


@dataclass(frozen=True)
class Acl:
    referrers: list[str] = field(default_factory=list)
    listings: bool = False
    grants: list[str] = field(default_factory=list)


def parse_acl(value: str | None) -> Acl:
    acl = Acl()
    for item in (value or "").split(","):
        item = item.strip()
        if not item:
            continue
        if item == ".rlistings":
            acl = Acl(acl.referrers, True, acl.grants)
        elif item.startswith((".r:", ".ref:", ".referer:", ".referrer:")):
            acl.referrers.append(item.split(":", 1)[1].strip())
        else:
            acl.grants.append(item)
    return acl


def referrer_allowed(referer: str | None, referrers: list[str]) -> bool:
    """Swift's referrer rule: the last entry that matches decides."""
    host = urlparse(referer).hostname if referer else None
    allowed = False
    for entry in referrers:
        deny = entry.startswith("-")
        pattern = entry[1:] if deny else entry
        if pattern == "*" or (
            host and (host == pattern or (pattern.startswith(".") and host.endswith(pattern)))
        ):
            allowed = not deny
    return allowed


@dataclass(frozen=True)
class Grantee:
    """What an ACL entry may name of a caller on one account: whether names
    count (keystoneauth's allow_names) and whether the caller is of the
    account's own project (role-name entries count only then)."""

    names: bool
    own: bool

    def matches(self, ctx: RequestContext, grants: list[str]) -> bool:
        if not ctx.authenticated:
            return False
        named = self.names
        projects = {"*", ctx.project_id or "", (ctx.project_name or "") if named else ""} - {""}
        users = {"*", ctx.user_id or "", (ctx.user_name or "") if named else ""} - {""}
        roles = {r.lower() for r in ctx.roles}
        for grant in grants:
            project, sep, user = grant.partition(":")
            if not sep:
                if self.own and grant.lower() in roles:  # Swift's role-name entries
                    return True
                continue
            if project in projects and user in users:
                return True
        return False


def project_of(account: str) -> str:
    return account[len(ACCOUNT_PREFIX) :] if account.startswith(ACCOUNT_PREFIX) else ""


def new_domain_sysmeta(
    ctx: RequestContext, account: str, exists: bool, stored: str | None
) -> str | None:
    """The account's project domain to store with this write, or None (keystoneauth's
    _set_project_domain_id): a new account gets the caller's project domain when it
    is the caller's own, ``_unknown`` otherwise; an account written before it knew
    (no value, or ``_unknown``) learns it from its own project's caller."""
    own = bool(ctx.project_id) and project_of(account) == ctx.project_id
    mine = ctx.project_domain_id if own else None
    if not exists:
        return (mine or "") if own else UNKNOWN_DOMAIN
    if stored is None and own and mine == DEFAULT_DOMAIN:
        return mine
    if stored == UNKNOWN_DOMAIN and own:
        return mine or ""
    return None


def deny(ctx: RequestContext) -> Exception:
    return Forbidden() if ctx.authenticated else Unauthorized()


class AccessLayer(Layer):
    """Checks every request against the policy rules and container ACLs."""

    def __init__(self, app: ObjectStore, enforcer: Enforcer) -> None:
        super().__init__(app)
        self.enforcer = enforcer

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
        """Let the request through, or raise 401/403.  ``acl`` names the
        container header that may grant it to others (``x-container-read``
        or ``-write``)."""
        caller.access = self
        if caller.preauth == account:
            return
        ctx = await caller.context()
        if ctx.authenticated and self.enforcer.allowed(
            action, ctx, {"project_id": project_of(account)}
        ):
            return
        grantee = await self._grantee(ctx, account)
        if account_acl.permits(await self._account_level(ctx, account, grantee), action):
            return
        if acl is None or container is None:
            raise deny(ctx)
        info = await self.app.info(account, container)
        if info.status >= 300:
            raise deny(ctx)
        parsed = parse_acl(info.headers.get(acl))
        if grantee.matches(ctx, parsed.grants):
            return
        if acl == READ_ACL and (parsed.listings or not listing):
            if referrer_allowed(caller.referer, parsed.referrers):
                return
        raise deny(ctx)

    async def _grantee(self, ctx: RequestContext, account: str) -> Grantee:
        """keystoneauth's allow_names: the caller's user and project are in the
        default domain, and so is the account's project (its own, or one whose
        stored domain is the default or, for an account older than that, none)."""
        own = bool(ctx.project_id) and project_of(account) == ctx.project_id
        if not ctx.authenticated:
            return Grantee(False, own)
        for domain in (ctx.user_domain_id, ctx.project_domain_id):
            if domain and domain != DEFAULT_DOMAIN:
                return Grantee(False, own)
        if own:
            return Grantee(True, own)
        info = await self.app.info(account)
        stored = info.headers.get(DOMAIN_SYSMETA) if info.status < 300 else None
        return Grantee(info.status < 300 and stored in (DEFAULT_DOMAIN, None), own)

    async def _account_level(
        self, ctx: RequestContext, account: str, grantee: Grantee | None = None
    ) -> str | None:
        if not ctx.authenticated:
            return None
        info = await self.app.info(account)
        value = info.headers.get(account_acl.SYSMETA) if info.status < 300 else None
        grantee = grantee or await self._grantee(ctx, account)
        return account_acl.level_of(ctx, value, grantee.matches)

    async def _domain_headers(self, caller: Caller, account: str) -> Headers:
        """The project-domain sysmeta this account write should store, if any."""
        ctx = await caller.context()
        if not ctx.authenticated:
            return {}
        info = await self.app.info(account)
        if info.status >= 300 and info.status != 404:
            return {}
        value = new_domain_sysmeta(
            ctx, account, info.status < 300, info.headers.get(DOMAIN_SYSMETA)
        )
        return {} if value is None else {DOMAIN_SYSMETA: value}

    @staticmethod
    def _show_domain(headers: dict[str, str]) -> None:
        value = headers.pop(DOMAIN_SYSMETA, None)
        if value:
            headers[DOMAIN_HEADER] = value

    async def owner(self, caller: Caller, account: str) -> bool:
        """Whether the caller owns the account, as keystoneauth's swift_owner:
        the policy rules let it change the account's containers, or the
        account's ACL makes it an admin."""
        ctx = await caller.context()
        if not ctx.authenticated:
            return False
        if self.enforcer.allowed(
            "object_store:post_container", ctx, {"project_id": project_of(account)}
        ):
            return True
        return await self._account_level(ctx, account) == "admin"

    async def _owner_headers(self, caller: Caller, account: str, headers: Headers) -> Headers:
        """A container write's headers, without the owners' unless the caller is one."""
        if not any(k in OWNER_HEADERS or k in _REMOVE_OWNER for k in headers):
            return headers
        if await self.owner(caller, account):
            return headers
        return {k: v for k, v in headers.items() if k not in OWNER_HEADERS + _REMOVE_OWNER}

    async def _hide_owner_headers(
        self, caller: Caller, account: str, headers: dict[str, str]
    ) -> None:
        if any(k in headers for k in OWNER_HEADERS) and not await self.owner(caller, account):
            for key in OWNER_HEADERS:
                headers.pop(key, None)

    async def _show_acl(self, caller: Caller, account: str, headers: dict[str, str]) -> None:
        """The account ACL, to those who may change it (its sysmeta to nobody)."""
        value = headers.pop(account_acl.SYSMETA, "")
        if value:
            try:
                await self.check(caller, "object_store:post_account", account)
            except (Forbidden, Unauthorized):
                return
            headers[account_acl.HEADER] = value

    # -- every client request, checked before it goes down ----------------------------

    async def head_account(self, caller: Caller, account: str) -> Reply:
        await self.check(caller, "object_store:get_account", account)
        resp = await self.app.head_account(caller, account)
        await self._show_acl(caller, account, resp.headers)
        self._show_domain(resp.headers)
        return resp

    async def list_account(self, caller: Caller, account: str, query: Headers) -> Listing:
        await self.check(caller, "object_store:get_account", account)
        result = await self.app.list_account(caller, account, query)
        await self._show_acl(caller, account, result.headers)
        self._show_domain(result.headers)
        return result

    async def post_account(
        self, caller: Caller, account: str, headers: Headers, params: Headers, body: Body | None
    ) -> Reply:
        await self.check(caller, "object_store:post_account", account)
        if account_acl.HEADER in headers:
            value = account_acl.stored(headers[account_acl.HEADER])
            headers = {k: v for k, v in headers.items() if k != account_acl.HEADER}
            headers[account_acl.SYSMETA] = value
        headers = {**headers, **await self._domain_headers(caller, account)}
        return await self.app.post_account(caller, account, headers, params, body)

    async def put_container(
        self, caller: Caller, account: str, container: str, headers: Headers
    ) -> Reply:
        await self.check(caller, "object_store:put_container", account)
        headers = await self._owner_headers(caller, account, headers)
        if (await self.app.info(account)).status == 404:
            # The account is created by this write: with its project's domain.
            domain = await self._domain_headers(caller, account)
            if domain:
                await self.app.post_account(caller, account, domain, {}, None)
        return await self.app.put_container(caller, account, container, headers)

    async def head_container(self, caller: Caller, account: str, container: str) -> Reply:
        await self.check(
            caller, "object_store:get_container", account, container, acl=READ_ACL, listing=True
        )
        resp = await self.app.head_container(caller, account, container)
        await self._hide_owner_headers(caller, account, resp.headers)
        return resp

    async def list_container(
        self, caller: Caller, account: str, container: str, query: Headers
    ) -> Listing:
        await self.check(
            caller, "object_store:get_container", account, container, acl=READ_ACL, listing=True
        )
        result = await self.app.list_container(caller, account, container, query)
        await self._hide_owner_headers(caller, account, result.headers)
        return result

    async def post_container(
        self,
        caller: Caller,
        account: str,
        container: str,
        headers: Headers,
        params: Headers,
        body: Body | None,
    ) -> Reply:
        await self.check(caller, "object_store:post_container", account)
        headers = await self._owner_headers(caller, account, headers)
        return await self.app.post_container(caller, account, container, headers, params, body)

    async def delete_container(self, caller: Caller, account: str, container: str) -> Reply:
        await self.check(caller, "object_store:delete_container", account)
        return await self.app.delete_container(caller, account, container)

    async def get_object(
        self, caller: Caller, names: Names, headers: Headers, params: Headers, *, head: bool
    ) -> Reply:
        await self.check(caller, "object_store:get_object", names[0], names[1], acl=READ_ACL)
        return await self.app.get_object(caller, names, headers, params, head=head)

    async def put_object(
        self, caller: Caller, names: Names, headers: Headers, params: Headers, body: Body
    ) -> Reply:
        await self.check(caller, "object_store:put_object", names[0], names[1], acl=WRITE_ACL)
        return await self.app.put_object(caller, names, headers, params, body)

    async def copy_object(
        self, caller: Caller, source: Names, dest: Names, headers: Headers
    ) -> Reply:
        await self.check(caller, "object_store:put_object", dest[0], dest[1], acl=WRITE_ACL)
        await self.check(caller, "object_store:get_object", source[0], source[1], acl=READ_ACL)
        return await self.app.copy_object(caller, source, dest, headers)

    async def post_object(
        self,
        caller: Caller,
        names: Names,
        headers: Headers,
        params: Headers,
        body: Body | None,
    ) -> Reply:
        await self.check(caller, "object_store:post_object", names[0], names[1], acl=WRITE_ACL)
        return await self.app.post_object(caller, names, headers, params, body)

    async def delete_object(
        self, caller: Caller, names: Names, headers: Headers, params: Headers
    ) -> Reply:
        await self.check(caller, "object_store:delete_object", names[0], names[1], acl=WRITE_ACL)
        return await self.app.delete_object(caller, names, headers, params)
