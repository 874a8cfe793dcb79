"""Compute's HTTP clients of the network and block storage services put a
user's ids into URLs as single path segments: an id with "?" or "../" names
no other resource, and the other service's 404 is the user's 400/404."""

from __future__ import annotations

import httpx
import pytest

from stratus.common.context import RequestContext
from stratus.compute.errors import BadRequest, NotFound
from stratus.compute.service.network import NicRequest
from stratus.compute.service.network_http import HttpNetwork
from stratus.compute.service.volume_http import HttpVolumes

PORT = {"id": "p1", "project_id": "proj", "device_id": "", "device_owner": "", "network_id": "n"}


def _neutron(request: httpx.Request) -> httpx.Response:
    if request.url.path == "/network/v2.0/ports/p1":
        fields = request.url.params.get_list("fields")
        port = {k: v for k, v in PORT.items() if not fields or k in fields}
        return httpx.Response(200, json={"port": port})
    if request.url.path == "/network/v2.0/ports":
        return httpx.Response(200, json={"ports": [PORT]})
    return httpx.Response(404, json={"NeutronError": {"message": "not found"}})


@pytest.mark.parametrize("port_id", ["p1?fields=id", "..", "../ports"])
async def test_port_ids_stay_one_path_segment(port_id: str) -> None:
    net = HttpNetwork(
        "http://n/network", httpx.AsyncClient(transport=httpx.MockTransport(_neutron))
    )
    nic = NicRequest(port_id=port_id)
    with pytest.raises(BadRequest, match="could not be found"):
        await net._check("proj", False, nic)
    with pytest.raises(NotFound):
        await net.bind_port("proj", port_id, "server", "nova", None)
    await net.close()


def _cinder(request: httpx.Request) -> httpx.Response:
    if request.url.path == "/volume/v3/proj/snapshots/s1":
        return httpx.Response(200, json={"snapshot": {"id": "s1", "status": "available"}})
    return httpx.Response(404, json={"itemNotFound": {"message": "Volume could not be found."}})


@pytest.mark.parametrize("volume_id", ["../snapshots/s1", "..%2Fsnapshots%2Fs1", ".."])
async def test_volume_ids_stay_one_path_segment(volume_id: str) -> None:
    volumes = HttpVolumes.__new__(HttpVolumes)
    volumes._base = "http://c/volume/v3"
    volumes.plain = httpx.AsyncClient(transport=httpx.MockTransport(_cinder))
    volumes.session = None  # type: ignore[assignment]  # a caller unrestricted by access rules needs none
    ctx = RequestContext("r", user_id="u", project_id="proj", roles=("member",), token="t")
    with pytest.raises(NotFound, match="could not be found"):
        await volumes.get(ctx, volume_id)
    await volumes.plain.aclose()
