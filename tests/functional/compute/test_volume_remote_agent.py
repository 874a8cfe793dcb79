"""A compute agent of its own process (``stratus compute-agent --host
fake2``) uses block storage through Cinder's API (``HttpVolumes``: the
endpoint from the catalog, the service user's token): a volume is attached
to its server, grown while attached, and detached, as on the all-in-one's
own host.  Compute's fake driver, the file volume backend; SQLite and
PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.compute_agents import Agent, start_agent
from tests.conftest import Server, stop_cloud
from tests.functional.compute.conftest import FAKE, Nova, fake_cloud, osc, unique
from tests.functional.compute.test_volume_attachments import VOLUME_ENV, console, wait_console
from tests.functional.volume.conftest import Cinder, admin_project

HOST = "OS-EXT-SRV-ATTR:host"


@pytest.fixture(scope="module")
def two_hosts(
    tmp_path_factory: pytest.TempPathFactory, database: str
) -> Iterator[tuple[Server, Agent]]:
    srv = fake_cloud(tmp_path_factory, "volagent", database=database, **VOLUME_ENV)
    agent = start_agent(srv, "fake2", **FAKE)
    yield srv, agent
    assert agent.stop() == 0, agent.log.read_text()[-3000:]
    stop_cloud(srv)


def test_attach_extend_detach_on_a_separate_agent(two_hosts: tuple[Server, Agent]) -> None:
    srv, agent = two_hosts
    nova = Nova(srv, srv.admin_token(), "2.96")
    cinder = Cinder(srv, srv.admin_token(), admin_project(srv))
    vm = nova.boot(unique("far"), availability_zone="nova:fake2")
    assert vm[HOST] == "fake2"
    volume = cinder.create(size=1)

    osc(srv, "server", "add", "volume", vm["id"], volume["id"])
    used = cinder.wait(volume["id"], "in-use")
    assert [(a["server_id"], a["host_name"]) for a in used["attachments"]] == [(vm["id"], "fake2")]
    wait_console(nova, vm["id"], "disk added vdb")

    osc(srv, "--os-volume-api-version", "3.42", "volume", "set", "--size", "2", volume["id"])
    wait_console(nova, vm["id"], f"disk resized vdb {2 << 30}")

    osc(srv, "server", "remove", "volume", vm["id"], volume["id"])
    cinder.wait(volume["id"], "available")
    assert "disk removed vdb" in console(nova, vm["id"])
    # The agent's calls went over Cinder's API (it has no volume service of its own).
    log = srv.log.read_text()
    assert '"PUT /volume/v3/' in log and "/attachments/" in log
    assert "block storage" not in agent.log.read_text()  # no refusal, no unreachable service

    # A volume the agent's user cannot attach (another server has it): the
    # API refuses it, in Nova's format, before the agent is involved.
    other = nova.boot(unique("far"), availability_zone="nova:fake2")
    osc(srv, "server", "add", "volume", vm["id"], volume["id"])
    cinder.wait(volume["id"], "in-use")
    refused = nova.post(
        f"/servers/{other['id']}/os-volume_attachments",
        json={"volumeAttachment": {"volumeId": volume["id"]}},
    )
    assert refused.status_code == 400 and "badRequest" in refused.json()
    for sid in (vm["id"], other["id"]):
        assert nova.delete(f"/servers/{sid}").status_code == 204
        nova.wait_gone(sid)
    cinder.wait(volume["id"], "available")
