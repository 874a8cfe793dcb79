"""What an operator sees: an access-log line per request with its request id,
the same id on the agent's lines for the work the request asked for, and
/metrics with the figures of every API process in one scrape."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import Server, start_cloud, stop_cloud
from tests.functional.compute.conftest import FAKE, osc, osc_json, tiny_image, unique

LINE = re.compile(r"^\S+ \S+ (?P<level>\w+) (?P<logger>\S+) \[(?P<rid>[^\]]+)\] (?P<message>.*)$")


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory, database: str) -> Iterator[Server]:
    srv = start_cloud(tmp_path_factory.mktemp("observed"), database, **FAKE, STRATUS_SERVER__WORKERS="2")
    tiny_image(srv)
    yield srv
    stop_cloud(srv)


def log_lines(srv: Server) -> list[dict[str, str]]:
    out = []
    for raw in srv.log.read_text(errors="replace").splitlines():
        match = LINE.match(raw)
        if match:
            out.append(match.groupdict())
    return out


def test_a_server_create_is_one_access_line_and_its_id_follows_the_agent(cloud: Server) -> None:
    name = unique("seen")
    created = osc_json(cloud, "server", "create", "--flavor", "1", "--image", tiny_image(cloud), "--wait", name)
    server_id = created["id"]
    posts = [
        line for line in log_lines(cloud)
        if line["logger"] == "stratus.access" and '"POST /compute/v2.1/servers" 202' in line["message"]
    ]
    assert len(posts) == 1, posts
    request_id = posts[0]["rid"]
    assert request_id.startswith("req-")
    assert re.search(r" 202 \d+ [0-9.]+s project=[0-9a-f]{32} user=[0-9a-f]{32}$", posts[0]["message"]), posts
    # the agent's lines about this server carry the id of the request that asked
    agent = [line for line in log_lines(cloud) if line["logger"].startswith("stratus.compute") and server_id in line["message"]]
    assert agent, "the agent said nothing about the server"
    assert {line["rid"] for line in agent} == {request_id}, agent
    # and so does the server's action, as `openstack server event list` shows it
    events = osc_json(cloud, "server", "event", "list", server_id)
    assert [e["Request ID"] for e in events if e["Action"] == "create"] == [request_id]
    osc(cloud, "server", "delete", "--wait", server_id)


def _samples(text: str, name: str) -> dict[str, float]:
    out = {}
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            labels, value = line.rsplit(" ", 1)
            out[labels[len(name):]] = float(value)
    return out


def test_metrics_show_requests_agents_resources_and_every_process(cloud: Server) -> None:
    token = cloud.admin_token()
    headers = {"X-Auth-Token": token}
    for _ in range(20):  # fresh connections: the kernel spreads them over both processes
        with httpx.Client() as c:
            assert c.get(f"{cloud.url}/identity/v3").status_code == 200
    project = httpx.get(f"{cloud.auth_url}/projects", params={"name": "admin"}, headers=headers).json()["projects"][0]["id"]
    swift = f"{cloud.url}/object-store/v1/AUTH_{project}"
    assert httpx.put(f"{swift}/measured", headers=headers).status_code == 201
    assert httpx.put(f"{swift}/measured/o", content=b"12345", headers=headers).status_code == 201
    osc(cloud, "server", "create", "--flavor", "1", "--image", tiny_image(cloud), "--wait", unique("gauged"))

    text = httpx.get(f"{cloud.url}/metrics").text  # from loopback: no token needed
    requests = _samples(text, "stratus_http_requests_total")
    v3 = sum(v for k, v in requests.items() if 'route="/v3"' in k and 'service="identity"' in k and 'status="200"' in k)
    assert v3 >= 20
    assert any('route="/v2.1/servers"' in k and 'status="202"' in k for k in requests)
    assert any('route="/v1/{account}/{container}/{object}"' in k and 'service="object-store"' in k for k in requests)
    assert not any(project in k for k in requests)  # templates, never raw paths
    assert _samples(text, "stratus_http_request_duration_seconds_count")
    rss = _samples(text, "stratus_process_resident_memory_bytes")
    pids = {re.search(r'pid="(\d+)"', k).group(1) for k in rss}  # type: ignore[union-attr]
    assert len(pids) == 2 and all(v > 0 for v in rss.values()), rss  # the primary and its worker
    assert _samples(text, "stratus_process_open_fds")
    assert _samples(text, "stratus_agent_loop_duration_seconds_count")['{agent="compute-agent-fakehost"}'] > 0
    assert _samples(text, "stratus_agent_work_duration_seconds_count")['{agent="compute-agent-fakehost"}'] > 0
    assert _samples(text, "stratus_compute_servers")['{state="active"}'] >= 1
    assert _samples(text, "stratus_image_images")['{status="active"}'] >= 1
    account = f'{{account="AUTH_{project}"}}'
    assert _samples(text, "stratus_objectstore_account_objects")[account] == 1
    assert _samples(text, "stratus_objectstore_account_bytes")[account] == 5

