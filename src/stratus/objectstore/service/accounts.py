"""Accounts: stats, container listings, metadata; created on first use."""

from __future__ import annotations

from stratus.objectstore.drivers.timestamp import Timestamp
from stratus.objectstore.errors import Unavailable
from stratus.objectstore.node.protocol import NodeResponse
from stratus.objectstore.service.interface import Listing
from stratus.objectstore.service.listing import parse_listing
from stratus.objectstore.service.quorum import Proxy, client_headers, close_body, count

POLICY_NAME = "Policy-0"
_COUNTERS = ("container-count", "object-count", "bytes-used")
_BY_INDEX = "x-account-storage-policy-"


def account_headers(headers: dict[str, str]) -> dict[str, str]:
    """The client's account headers: the three counters always, and the same
    three for the policy when the account has containers."""
    out: dict[str, str] = {}
    for key, value in client_headers(headers).items():
        # Nodes name policies by index; clients see their names.
        if key.startswith(_BY_INDEX):
            index, _, rest = key[len(_BY_INDEX) :].partition("-")
            if index.isdigit():
                name = POLICY_NAME if index == "0" else f"policy-{index}"
                key = f"{_BY_INDEX}{name.lower()}-{rest}"
        out[key] = value
    for name in _COUNTERS:
        out.setdefault(f"x-account-{name}", "0")
    has_policy = any(k.startswith("x-account-storage-policy-") for k in out)
    if not has_policy and count(out, "x-account-container-count") > 0:
        for name in _COUNTERS:
            out[f"x-account-storage-policy-{POLICY_NAME.lower()}-{name}"] = out[f"x-account-{name}"]
    return out


def _new_account_headers() -> dict[str, str]:
    """What HEAD of an account never written answers (Swift's autocreate)."""
    now = Timestamp.now()
    return account_headers({"x-timestamp": now.normal, "x-put-timestamp": now.normal})


class Accounts:
    def __init__(self, proxy: Proxy) -> None:
        self.proxy = proxy

    async def head(self, account: str) -> NodeResponse:
        resp = await self.proxy.read("HEAD", account)
        await close_body(resp)
        if resp.status == 404:
            return NodeResponse(204, _new_account_headers())
        if resp.status >= 300:
            return NodeResponse(resp.status)
        return NodeResponse(204, account_headers(resp.headers))

    async def get(self, account: str, query: dict[str, str]) -> Listing:
        resp = await self.proxy.read("GET", account, query={**query, "format": "json"})
        if resp.status == 404:
            await close_body(resp)
            return Listing(200, _new_account_headers())
        if resp.status >= 300:
            await close_body(resp)
            return Listing(resp.status, {})
        return Listing(200, account_headers(resp.headers), await parse_listing(resp))

    async def post(self, account: str, headers: dict[str, str]) -> NodeResponse:
        resp = await self._post(account, headers)
        if resp.status == 404:
            created = await self.create(account)
            if created.status >= 300:
                return NodeResponse(503)
            resp = await self._post(account, headers)
        self.proxy.forget(account)
        return NodeResponse(204 if resp.status < 300 else resp.status)

    async def _post(self, account: str, headers: dict[str, str]) -> NodeResponse:
        stamp = Timestamp.now().internal
        return await self.proxy.write(
            "POST", account, headers_for=lambda _i: {**headers, "x-timestamp": stamp}
        )

    async def create(self, account: str) -> NodeResponse:
        """PUT the account's databases (Swift's account_autocreate)."""
        stamp = Timestamp.now().internal
        resp = await self.proxy.write("PUT", account, headers_for=lambda _i: {"x-timestamp": stamp})
        self.proxy.forget(account)
        return resp

    async def ensure(self, account: str) -> None:
        """Create the account if it was never written."""
        info = await self.proxy.info(account)
        if info.status == 404:
            created = await self.create(account)
            if created.status >= 300:
                raise Unavailable()
        elif info.status >= 300:
            raise Unavailable()
