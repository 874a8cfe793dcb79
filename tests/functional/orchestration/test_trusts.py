"""A stack outlives its user's token: the engine works with a trust from the
user to the cloud's service user, made at stack create and deleted with the
stack.  Each step below waits on a wait condition signalled only after the
token of the request was revoked, so the engine's calls after it can only
have been made with the trust."""

from __future__ import annotations

import time
from typing import Any

import httpx

from tests.conftest import Server
from tests.functional.identity.helpers import token_for
from tests.functional.network.conftest import project_with
from tests.functional.orchestration.conftest import Heat

V = "2021-04-16"


def waiting(n: int) -> dict[str, Any]:
    """A handle, a wait condition on it and a network made only after it."""
    return {
        f"handle{n}": {"type": "OS::Heat::WaitConditionHandle"},
        f"ready{n}": {"type": "OS::Heat::WaitCondition", "properties": {
            "handle": {"get_resource": f"handle{n}"}, "count": 1, "timeout": 120}},
        f"net{n}": {"type": "OS::Neutron::Net", "depends_on": f"ready{n}"},
    }  # fmt: skip


def test_a_stack_outlives_the_tokens_that_made_updated_and_deleted_it(cloud: Server) -> None:
    p = project_with(cloud)

    def fresh() -> str:
        return token_for(cloud, p.user["id"], p.user["password"], p.id)

    def revoke(token: str) -> None:
        resp = httpx.delete(f"{cloud.auth_url}/auth/tokens",
                            headers={"X-Auth-Token": token, "X-Subject-Token": token})  # fmt: skip
        assert resp.status_code == 204, resp.text
        assert Heat(cloud, token, p.id).get("/stacks").status_code == 401

    def signal(heat: Heat, sid: str, n: int) -> None:
        deadline = time.monotonic() + 60
        while True:
            resp = heat.get(f"/stacks/outlives/{sid}/resources/handle{n}")
            if resp.status_code == 200 and resp.json()["resource"]["resource_status"].endswith(
                "COMPLETE"
            ):
                break
            assert time.monotonic() < deadline, resp.text
            time.sleep(0.1)
        url = resp.json()["resource"]["attributes"]["endpoint"]
        assert heat.http.post(url, json={"status": "SUCCESS", "id": "1"}).status_code == 200

    def net(heat: Heat, sid: str, n: int) -> int:
        res = heat.get(f"/stacks/outlives/{sid}/resources/net{n}").json()["resource"]
        resp = httpx.get(f"{cloud.url}/network/v2.0/networks/{res['physical_resource_id']}",
                         headers={"X-Auth-Token": heat.token})  # fmt: skip
        return resp.status_code

    def trusts(token: str) -> list[dict[str, Any]]:
        resp = httpx.get(f"{cloud.auth_url}/OS-TRUST/trusts", headers={"X-Auth-Token": token},
                         params={"trustor_user_id": p.user["id"]})  # fmt: skip
        assert resp.status_code == 200, resp.text
        return resp.json()["trusts"]  # type: ignore[no-any-return]

    # create: its token revoked while the stack waits
    first = fresh()
    template = {"heat_template_version": V, "resources": waiting(1)}
    sid = Heat(cloud, first, p.id).create("outlives", template)
    watcher = Heat(cloud, fresh(), p.id)
    revoke(first)
    signal(watcher, sid, 1)
    done = watcher.wait("outlives", sid)
    assert done["stack_status"] == "CREATE_COMPLETE", done["stack_status_reason"]
    assert net(watcher, sid, 1) == 200
    [trust] = trusts(watcher.token)
    assert trust["project_id"] == p.id and trust["impersonation"] is True

    # update: the same
    second = fresh()
    template["resources"].update(waiting(2))
    resp = Heat(cloud, second, p.id).request("PUT", f"/stacks/outlives/{sid}",
                                             json={"template": template})  # fmt: skip
    assert resp.status_code == 202, resp.text
    revoke(second)
    signal(watcher, sid, 2)
    done = watcher.wait("outlives", sid)
    assert done["stack_status"] == "UPDATE_COMPLETE", done["stack_status_reason"]
    assert net(watcher, sid, 1) == 200 and net(watcher, sid, 2) == 200

    # delete: every network goes, and the trust with the stack
    ids = [watcher.get(f"/stacks/outlives/{sid}/resources/net{n}").json()["resource"][
        "physical_resource_id"] for n in (1, 2)]  # fmt: skip
    third = fresh()
    resp = Heat(cloud, third, p.id).request("DELETE", f"/stacks/outlives/{sid}")
    assert resp.status_code == 204, resp.text
    revoke(third)
    done = watcher.wait("outlives", sid)
    assert done["stack_status"] == "DELETE_COMPLETE", done["stack_status_reason"]
    for net_id in ids:
        resp = httpx.get(f"{cloud.url}/network/v2.0/networks/{net_id}",
                         headers={"X-Auth-Token": watcher.token})  # fmt: skip
        assert resp.status_code == 404
    deadline = time.monotonic() + 10  # the engine deletes it once the stack is gone
    while trusts(watcher.token):
        assert time.monotonic() < deadline, "the stack's trust outlived it"
        time.sleep(0.1)
