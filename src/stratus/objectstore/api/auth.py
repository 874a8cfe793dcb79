"""Who may do what: the account's own project through the policy rules, and
others through the container's ACLs, as Swift's keystoneauth decides.

ACL entries (comma-separated):

- ``.r:*`` (any referrer, no token needed), ``.r:example.com``, ``.r:.example.com``,
  ``.r:-host`` (denied): referrers, for object reads (X-Container-Read only);
- ``.rlistings``: referrers may also list the container;
- ``<project_id>:<user_id>``, ``<project_id>:*``, ``*:<user_id>``, ``*:*``,
  or the same with names: callers with a token.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlparse

from stratus.common.api import ApiRequest
from stratus.common.context import RequestContext
from stratus.objectstore.errors import Forbidden, Unauthorized

ACCOUNT_PREFIX = "AUTH_"
# Scope key: the account a TempURL or FormPost signature opened for this request.
PREAUTH = "stratus.objectstore.preauth"


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


def grant_matches(ctx: RequestContext, grants: list[str]) -> bool:
    if not ctx.authenticated:
        return False
    projects = {"*", ctx.project_id or "", ctx.project_name or ""} - {""}
    users = {"*", ctx.user_id or "", ctx.user_name or ""} - {""}
    roles = {r.lower() for r in ctx.roles}
    for grant in grants:
        project, sep, user = grant.partition(":")
        if not sep:
            if grant.lower() in roles:  # Swift's role-name entries
                return True
            continue
        if project in projects and user in users:
            return True
    return False


def project_of(account: str) -> str:
    return account[len(ACCOUNT_PREFIX) :] if account.startswith(ACCOUNT_PREFIX) else ""


def is_owner(req: ApiRequest, action: str, account: str) -> bool:
    """The policy rules say yes (the account's project, admin, ResellerAdmin)."""
    if not req.ctx.authenticated:
        return False
    return req.allowed(action, {"project_id": project_of(account)})


def deny(req: ApiRequest) -> Exception:
    return Forbidden() if req.ctx.authenticated else Unauthorized()


async def authorize(
    req: ApiRequest,
    action: str,
    account: str,
    container: str | None = None,
    *,
    acl: str | None = None,
    listing: bool = False,
) -> None:
    """Let the request through, or raise 401/403.  ``acl`` names the container
    header that may grant it to others (``x-container-read`` or ``-write``)."""
    if req.raw.scope.get(PREAUTH) == account or is_owner(req, action, account):
        return
    if acl is None or container is None:
        raise deny(req)
    info = await req.service.proxy.info(account, container)
    if info.status >= 300:
        raise deny(req)
    parsed = parse_acl(info.headers.get(acl))
    if grant_matches(req.ctx, parsed.grants):
        return
    if acl == "x-container-read" and (parsed.listings or not listing):
        if referrer_allowed(req.raw.headers.get("referer"), parsed.referrers):
            return
    raise deny(req)
