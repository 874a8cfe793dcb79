"""``VolumeClient`` over HTTP: a compute agent of its own process (``stratus
compute-agent``) reaches the block storage service through its public API,
Cinder v3 (attachments 3.27+, ``os-complete`` 3.44).  The endpoint is
looked up in the service catalog (type ``block-storage``, public); calls
made for a user carry the user's token, the agent's own calls the service
user's (``ServiceTokenAuth``: a new token and one retry on 401).  Cinder's
refusals come back as compute's errors (400, 404, 409), never as a 500."""

from __future__ import annotations

from typing import Any

import httpx

from stratus.common import tls
from stratus.common.context import RequestContext
from stratus.common.errors import StratusError
from stratus.common.service_auth import ServiceSession, on_behalf_headers, service_client
from stratus.compute.errors import BadRequest, Conflict, NotFound
from stratus.compute.service.network_http import seg
from stratus.compute.service.volume_client import VolumeInfo

VERSION = {"OpenStack-API-Version": "volume 3.44"}
CATALOG_TYPES = ("block-storage", "volumev3")


class BlockStorageUnavailable(StratusError):
    status = 503
    title = "Service Unavailable"


def _error(resp: httpx.Response, what: str) -> StratusError:
    try:
        body = resp.json()
        message = str(next(iter(body.values()))["message"])
    except (ValueError, StopIteration, KeyError, TypeError, AttributeError):
        message = f"{what}: block storage answered {resp.status_code}"
    if resp.status_code == 404:
        return NotFound(message)
    if resp.status_code == 409:
        return Conflict(message)
    if 400 <= resp.status_code < 500:
        return BadRequest(message)
    return BlockStorageUnavailable(f"{what}: block storage answered {resp.status_code}")


class HttpVolumes:
    def __init__(self, identity_url: str, session: ServiceSession):
        self.identity_url = identity_url.rstrip("/")
        self.session = session
        self.service = service_client(session, httpx.Timeout(30.0))
        self.plain = tls.client(timeout=httpx.Timeout(30.0))
        self._base: str | None = None  # .../volume/v3, from the catalog

    async def base(self) -> str:
        """The block-storage endpoint without its project (``.../v3``)."""
        if self._base is None:
            resp = await self.service.get(f"{self.identity_url}/v3/auth/catalog")
            if resp.status_code != 200:
                raise BlockStorageUnavailable(f"the catalog answered {resp.status_code}")
            for kind in CATALOG_TYPES:
                for entry in resp.json().get("catalog", []):
                    if entry.get("type") != kind:
                        continue
                    for endpoint in entry.get("endpoints", []):
                        if endpoint.get("interface") == "public":
                            url = str(endpoint["url"]).rstrip("/")
                            self._base = url.rsplit("/", 1)[0] if "/v3/" in url else url
                            return self._base
            raise BlockStorageUnavailable("the catalog has no block-storage endpoint")
        return self._base

    async def _call(
        self, ctx: RequestContext | None, method: str, path: str, what: str,
        body: dict[str, Any] | None = None, params: dict[str, str] | None = None,
    ) -> httpx.Response:  # fmt: skip
        """One request, as the user (``ctx``) or as the service; a refusal
        raised as compute's error."""
        base = await self.base()
        try:
            if ctx is not None:
                url = f"{base}/{ctx.project_id}{path}"
                headers = {**VERSION, **await on_behalf_headers(ctx, self.session)}
                resp = await self.plain.request(
                    method, url, json=body, params=params, headers=headers
                )
            else:
                await self.session.token()  # the project id of the URL is the token's
                url = f"{base}/{self.session.project_id}{path}"
                resp = await self.service.request(
                    method, url, json=body, params=params, headers=VERSION
                )
        except httpx.HTTPError as exc:
            raise BlockStorageUnavailable(f"{what}: block storage unreachable ({exc})") from exc
        if resp.status_code >= 400:
            raise _error(resp, what)
        return resp

    async def get(self, ctx: RequestContext | None, volume_id: str) -> VolumeInfo:
        resp = await self._call(ctx, "GET", f"/volumes/{seg(volume_id)}", "volume show")
        v = resp.json()["volume"]
        return VolumeInfo(
            id=v["id"],
            project_id=v.get("os-vol-tenant-attr:tenant_id") or "",
            status=v["status"],
            size=int(v["size"]),
            multiattach=bool(v.get("multiattach")),
            bootable=str(v.get("bootable")).lower() == "true",
        )

    async def reserve(self, ctx: RequestContext | None, volume_id: str, server_id: str) -> str:
        body = {"attachment": {"volume_uuid": volume_id, "instance_uuid": server_id}}
        resp = await self._call(ctx, "POST", "/attachments", "attachment create", body)
        return str(resp.json()["attachment"]["id"])

    async def connect(self, attachment_id: str, connector: dict[str, Any]) -> dict[str, Any]:
        body = {"attachment": {"connector": connector}}
        resp = await self._call(
            None, "PUT", f"/attachments/{seg(attachment_id)}", "attachment update", body
        )
        return dict(resp.json()["attachment"].get("connection_info") or {})

    async def complete(self, attachment_id: str) -> None:
        path = f"/attachments/{seg(attachment_id)}/action"
        await self._call(None, "POST", path, "attachment complete", {"os-complete": None})

    async def begin_detaching(self, ctx: RequestContext, volume_id: str) -> None:
        path = f"/volumes/{seg(volume_id)}/action"
        await self._call(ctx, "POST", path, "begin detaching", {"os-begin_detaching": {}})

    async def roll_detaching(self, volume_id: str) -> None:
        path = f"/volumes/{seg(volume_id)}/action"
        await self._call(None, "POST", path, "roll detaching", {"os-roll_detaching": {}})

    async def release(self, attachment_id: str) -> None:
        try:
            await self._call(
                None, "DELETE", f"/attachments/{seg(attachment_id)}", "attachment delete"
            )
        except NotFound:
            pass

    async def find_attachment(self, volume_id: str, server_id: str) -> str | None:
        params = {"volume_id": volume_id, "instance_uuid": server_id, "all_tenants": "1"}
        resp = await self._call(None, "GET", "/attachments", "attachment list", params=params)
        found = resp.json().get("attachments", [])
        return str(found[0]["id"]) if found else None

    async def attachments_of(self, volume_id: str, server_id: str) -> list[str]:
        params = {"volume_id": volume_id, "instance_uuid": server_id, "all_tenants": "1"}
        resp = await self._call(None, "GET", "/attachments", "attachment list", params=params)
        return [str(a["id"]) for a in resp.json().get("attachments", [])]

    async def delete_volume(self, volume_id: str) -> None:
        try:
            params = {"cascade": "true"}
            await self._call(
                None, "DELETE", f"/volumes/{seg(volume_id)}", "volume delete", params=params
            )
        except NotFound:
            pass

    async def create_volume(
        self, ctx: RequestContext, size: int | None, *, name: str,
        image_id: str | None = None, snapshot_id: str | None = None,
    ) -> str:  # fmt: skip
        spec: dict[str, Any] = {"name": name, "size": size}
        if image_id:
            spec["imageRef"] = image_id
        if snapshot_id:
            spec["snapshot_id"] = snapshot_id
        resp = await self._call(ctx, "POST", "/volumes", "volume create", {"volume": spec})
        return str(resp.json()["volume"]["id"])

    async def create_snapshot(self, ctx: RequestContext, volume_id: str, name: str) -> str:
        body = {"snapshot": {"volume_id": volume_id, "force": True, "name": name}}
        resp = await self._call(ctx, "POST", "/snapshots", "snapshot create", body)
        return str(resp.json()["snapshot"]["id"])

    async def close(self) -> None:
        await self.service.aclose()
        await self.plain.aclose()
