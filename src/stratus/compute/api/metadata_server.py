"""Nova's metadata API, for guests on the network service: the network
agent's metadata proxy (at 169.254.169.254 inside each network) forwards a
guest's request here with the asking server's id (``X-Instance-ID``) signed
with the shared secret (``X-Instance-ID-Signature``, HMAC-SHA256).  Nothing
else is trusted: no token, no signature, no answer.

Served at ``/compute/metadata``: the OpenStack tree (``/openstack/latest/
meta_data.json``, ``network_data.json``, ``user_data``, ``vendor_data.json``)
and the EC2-style one (``/latest/meta-data/...``, ``/latest/user-data``),
with the config drive's contents (``service/metadata.py``)."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from stratus.compute import models as m
from stratus.compute.service import ComputeService
from stratus.compute.service.metadata import config_drive_contents
from stratus.compute.service.network import VifPort

OPENSTACK_VERSIONS = ("2012-08-10", "latest")
OPENSTACK_FILES = ("meta_data.json", "network_data.json", "user_data", "vendor_data.json")


def _text(body: str | bytes, status: int = 200) -> Response:
    return Response(body, status_code=status, media_type="text/plain")


def _json(doc: Any) -> Response:
    return Response(json.dumps(doc), media_type="application/json")


class MetadataServer:
    def __init__(self, compute: ComputeService, secret: Callable[[], str]) -> None:
        self.compute = compute
        self.secret = secret

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/{path:path}", self.answer, methods=["GET", "HEAD"])])

    async def _server(self, request: Request) -> tuple[m.Server, list[VifPort]] | Response:
        instance = request.headers.get("x-instance-id", "")
        signature = request.headers.get("x-instance-id-signature", "")
        if not instance or not signature:
            return _text("400 Bad Request: X-Instance-ID and its signature are required", 400)
        wanted = hmac.new(self.secret().encode(), instance.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(wanted, signature):
            return _text("403 Forbidden: the signature does not match", 403)
        found = await self.compute.metadata_of(instance)
        return found if found is not None else _text("404 Not Found", 404)

    async def answer(self, request: Request) -> Response:
        found = await self._server(request)
        if isinstance(found, Response):
            return found
        server, ports = found
        path = request.path_params["path"].strip("/")
        parts = [p for p in path.split("/") if p]
        contents = config_drive_contents(server, ports if self.compute.nics.enabled else None)
        if not parts:
            return _text("latest\nopenstack")
        if parts[0] == "openstack":
            return self._openstack(parts[1:], contents)
        return self._ec2(parts[1:], server, ports, contents.meta_data, contents.user_data)

    @staticmethod
    def _openstack(parts: list[str], contents: Any) -> Response:
        if not parts:
            return _text("\n".join(OPENSTACK_VERSIONS))
        if parts[0] not in OPENSTACK_VERSIONS or len(parts) > 2:
            return _text("404 Not Found", 404)
        if len(parts) == 1:
            names = [n for n in OPENSTACK_FILES if n != "user_data" or contents.user_data]
            return _text("\n".join(names))
        name = parts[1]
        if name == "meta_data.json":
            return _json(contents.meta_data)
        if name == "network_data.json":
            return _json(contents.network_data)
        if name == "vendor_data.json":
            return _json({})
        if name == "user_data" and contents.user_data is not None:
            return _text(contents.user_data)
        return _text("404 Not Found", 404)

    @staticmethod
    def _ec2(
        parts: list[str],
        server: m.Server,
        ports: list[VifPort],
        meta: dict[str, Any],
        user_data: bytes | None,
    ) -> Response:
        if not parts:
            return _text("meta-data/\nuser-data" if user_data else "meta-data/")
        if parts[0] == "user-data":
            return _text(user_data) if user_data is not None else _text("404 Not Found", 404)
        if parts[0] != "meta-data":
            return _text("404 Not Found", 404)
        fixed = [f.ip_address for p in ports for f in p.fixed_ips if f.version == 4]
        floating = [a for p in ports for a in p.floating_ips]
        keys = list(meta.get("public_keys", {}).items())
        tree: dict[str, Any] = {
            "ami-id": server.image_ref,
            "hostname": server.hostname,
            "local-hostname": server.hostname,
            "instance-id": server.id,
            "instance-type": str(server.flavor.get("name", "")),
            "local-ipv4": fixed[0] if fixed else "",
            "public-ipv4": floating[0] if floating else "",
            "placement": {"availability-zone": server.availability_zone or "nova"},
            "public-keys": {
                str(i): {"openssh-key": value} for i, (_name, value) in enumerate(keys)
            },
        }
        node: Any = tree
        for part in parts[1:]:
            if not isinstance(node, dict) or part not in node:
                # public-keys/0=name is how EC2 lists keys; accept it too.
                return _text("404 Not Found", 404)
            node = node[part]
        if isinstance(node, dict):
            if parts[1:] == ["public-keys"]:
                return _text("\n".join(f"{i}={name}" for i, (name, _v) in enumerate(keys)))
            return _text("\n".join(f"{k}/" if isinstance(v, dict) else k for k, v in node.items()))
        return _text(str(node))
