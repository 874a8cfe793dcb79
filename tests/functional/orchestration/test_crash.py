"""The engine killed (SIGKILL) in the middle of a stack's create: after the
restart the stack is never left IN_PROGRESS, and deleting it removes
everything the create made, even what it made but had not yet recorded."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Server, drop_database, new_database, start_server
from tests.functional.crashing import eventually, kill_cloud, wait_for
from tests.functional.network.conftest import project_with
from tests.functional.orchestration.conftest import HEAT_CLOUD, Heat

NETS = 12
VOLUMES = 8  # within a project's default quota of 10 volumes


def big_template() -> dict[str, object]:
    resources: dict[str, object] = {}
    for i in range(NETS):
        resources[f"net{i}"] = {"type": "OS::Neutron::Net"}
        resources[f"sub{i}"] = {"type": "OS::Neutron::Subnet", "properties": {
            "network": {"get_resource": f"net{i}"}, "cidr": f"10.50.{i}.0/24"}}
        if i < VOLUMES:
            resources[f"vol{i}"] = {"type": "OS::Cinder::Volume", "properties": {"size": 1}}
    return {"heat_template_version": "2018-08-31", "resources": resources}


@pytest.fixture
def data(database: str, tmp_path: Path) -> Iterator[tuple[Path, str]]:
    url = new_database(database)
    yield tmp_path / "cloud", url
    drop_database(url)


def test_a_create_killed_half_way_fails_cleanly_and_deletes_cleanly(
    data: tuple[Path, str],
) -> None:
    folder, url = data
    srv: Server = start_server(folder, url, **HEAT_CLOUD)
    try:
        alice = project_with(srv)
        heat = Heat(srv, alice.api.token, alice.id)
        sid = heat.create("crashy", big_template())
        wait_for("some resources made", lambda: sum(
            e["resource_status"] == "CREATE_COMPLETE"
            for e in heat.get(f"/stacks/crashy/{sid}/events").json()["events"]) >= 3, 60)  # fmt: skip
        kill_cloud(srv)
        srv = start_server(folder, url, port=int(srv.url.rsplit(":", 1)[1]), **HEAT_CLOUD)
        heat = Heat(srv, alice.api.token, alice.id)
        stack = heat.wait("crashy", sid, timeout=120)
        assert stack["stack_status"] in ("CREATE_FAILED", "CREATE_COMPLETE"), stack
        if stack["stack_status"] == "CREATE_FAILED":
            assert "Engine went down" in stack["stack_status_reason"]
            states = {r["resource_status"] for r in heat.get(
                f"/stacks/crashy/{sid}/resources").json()["resources"]}  # fmt: skip
            assert "CREATE_IN_PROGRESS" not in states
        assert heat.request("DELETE", f"/stacks/crashy/{sid}").status_code == 204
        assert heat.wait("crashy", sid, timeout=120)["stack_status"] == "DELETE_COMPLETE"

        def nothing_left() -> None:
            nets = alice.api.get("/networks").json()["networks"]
            assert [n["name"] for n in nets if n["name"].startswith("crashy-")] == []
            vols = heat.http.get(f"{srv.url}/volume/v3/{alice.id}/volumes",
                                 headers={"X-Auth-Token": heat.token}).json()["volumes"]  # fmt: skip
            assert vols == []

        eventually(nothing_left, 30)
    finally:
        if srv.process.poll() is None:
            assert srv.stop() == 0
