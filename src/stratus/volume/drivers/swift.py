"""The object store as the home of backups: containers and objects in the
``service`` project's account, reached through the Swift API as the cloud's
own service user (as the image store's swift backend does), so a backup
outlives the volume's host."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import httpx

from stratus.common import tls
from stratus.common.service_auth import ServiceAuthError, ServiceSession
from stratus.volume.drivers.base import DriverError, StoredObject


class SwiftBackupStore:
    def __init__(
        self,
        object_store_url: str,
        session: ServiceSession,
        client: httpx.AsyncClient | None = None,
    ):
        self.base = object_store_url.rstrip("/")  # .../object-store/v1
        self.session = session
        self.client = client or tls.client(
            timeout=httpx.Timeout(60.0, read=600.0),
            limits=httpx.Limits(max_connections=16, max_keepalive_connections=16),
        )
        self._containers: set[str] = set()

    async def _url(self, container: str, name: str | None = None) -> str:
        await self._token()
        url = f"{self.base}/AUTH_{self.session.project_id}/{quote(container, safe='')}"
        return f"{url}/{quote(name)}" if name is not None else url

    async def _token(self) -> str:
        try:
            return await self.session.token()
        except ServiceAuthError as exc:
            raise DriverError(f"the backup service cannot authenticate: {exc}") from exc

    async def _call(
        self, method: str, url: str, *, headers: dict[str, str] | None = None, **kw: Any
    ) -> httpx.Response:
        for attempt in (1, 2):
            sent = {"X-Auth-Token": await self._token(), **(headers or {})}
            try:
                resp = await self.client.request(method, url, headers=sent, **kw)
            except httpx.HTTPError as exc:
                raise DriverError(f"the object store is unreachable: {exc}") from exc
            if resp.status_code != 401 or attempt == 2:
                return resp
            self.session.forget()  # an expired token: one new one, one retry
        raise AssertionError("unreachable")

    async def ensure_container(self, container: str) -> None:
        if container in self._containers:
            return
        resp = await self._call("PUT", await self._url(container))
        if resp.status_code not in (201, 202):
            raise DriverError(f"cannot create container {container}: {resp.status_code}")
        self._containers.add(container)

    async def put(self, container: str, name: str, data: bytes) -> None:
        resp = await self._call(
            "PUT",
            await self._url(container, name),
            content=data,
            headers={"Content-Type": "application/octet-stream"},
        )
        if resp.status_code == 404:  # the container went: make it again
            self._containers.discard(container)
            await self.ensure_container(container)
            resp = await self._call("PUT", await self._url(container, name), content=data)
        if resp.status_code != 201:
            raise DriverError(f"storing {container}/{name} failed: {resp.status_code}")

    async def get(self, container: str, name: str) -> bytes | None:
        resp = await self._call("GET", await self._url(container, name))
        if resp.status_code == 404:
            return None
        if resp.status_code != 200:
            raise DriverError(f"reading {container}/{name} failed: {resp.status_code}")
        return resp.content

    async def delete(self, container: str, name: str) -> None:
        resp = await self._call("DELETE", await self._url(container, name))
        if resp.status_code not in (204, 404):
            raise DriverError(f"deleting {container}/{name} failed: {resp.status_code}")

    async def list(self, container: str, prefix: str) -> AsyncIterator[StoredObject]:
        marker = ""
        while True:
            resp = await self._call(
                "GET",
                await self._url(container),
                params={"prefix": prefix, "format": "json", "marker": marker},
            )
            if resp.status_code == 404:
                return
            if resp.status_code not in (200, 204):
                raise DriverError(f"listing {container} failed: {resp.status_code}")
            page = resp.json() if resp.status_code == 200 else []
            if not page:
                return
            for entry in page:
                yield StoredObject(entry["name"], int(entry["bytes"]))
            marker = page[-1]["name"]

    async def close(self) -> None:
        await self.client.aclose()
