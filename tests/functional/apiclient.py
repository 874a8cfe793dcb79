"""One raw-HTTP client for the functional tests of every service: a base URL
and one token, and every answer checked for what holds everywhere (never a
5xx, always a request id). Each service's conftest adds its own helpers."""

from __future__ import annotations

from typing import Any

import httpx


class ApiClient:
    def __init__(self, base_url: str, token: str, timeout: float = 60) -> None:
        self.base = base_url
        self.token = token
        self.http = httpx.Client(base_url=base_url, timeout=timeout)

    def extra_headers(self) -> dict[str, str]:
        """Headers every request of this client carries (a microversion)."""
        return {}

    def request(self, method: str, path: str, **kw: Any) -> httpx.Response:
        headers = {"X-Auth-Token": self.token, **self.extra_headers(), **kw.pop("headers", {})}
        resp = self.http.request(method, path, headers=headers, **kw)
        assert resp.status_code < 500, f"{method} {path} → {resp.status_code}: {resp.text}"
        assert resp.headers.get("x-openstack-request-id"), f"{method} {path}: no request id"
        return resp

    def get(self, path: str, **kw: Any) -> httpx.Response:
        return self.request("GET", path, **kw)

    def post(self, path: str, **kw: Any) -> httpx.Response:
        return self.request("POST", path, **kw)

    def put(self, path: str, **kw: Any) -> httpx.Response:
        return self.request("PUT", path, **kw)

    def patch(self, path: str, **kw: Any) -> httpx.Response:
        return self.request("PATCH", path, **kw)

    def delete(self, path: str, **kw: Any) -> httpx.Response:
        return self.request("DELETE", path, **kw)
