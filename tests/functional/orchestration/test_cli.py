"""The real `openstack stack ...` commands and openstacksdk against a cloud
of identity, network, volume, object store and orchestration."""

from __future__ import annotations

from typing import Any

import openstack
import pytest

from tests.conftest import Server
from tests.functional.network.conftest import Project, project_with
from tests.functional.orchestration.conftest import TEMPLATES, osc, osc_json


@pytest.fixture(scope="module")
def alice(cloud: Server) -> Project:
    return project_with(cloud)


def resources(env: dict[str, str], stack: str) -> dict[str, dict[str, Any]]:
    return {r["resource_name"]: r for r in osc_json(env, "stack", "resource", "list", stack)}


def test_a_stack_is_created_shown_updated_and_deleted(alice: Project) -> None:
    env = alice.env
    osc(env, "stack", "create", "-t", str(TEMPLATES / "app.yaml"), "--wait", "--poll", "1", "app")
    shown = osc_json(env, "stack", "show", "app")
    assert shown["stack_status"] == "CREATE_COMPLETE"
    outputs = {o["output_key"]: o["output_value"] for o in shown["outputs"]}
    assert len(outputs["password"]) == 16 and outputs["names"] == ["web-0", "web-1"]
    assert outputs["address"].startswith("10.30.0.") and outputs["url"] == f"http://{outputs['address']}/"
    made = resources(env, "app")
    assert set(made) == {"password", "net", "subnet", "port", "data", "uploads", "names"}
    assert {r["resource_status"] for r in made.values()} == {"CREATE_COMPLETE"}
    # What the stack made is there in the other services, the user's own.
    net = osc_json(env, "network", "show", made["net"]["physical_resource_id"])
    assert made["subnet"]["physical_resource_id"] in net["subnets"]
    volume = osc_json(env, "volume", "show", made["data"]["physical_resource_id"])
    assert volume["size"] == 1 and volume["status"] == "available"
    containers = [c["Name"] for c in osc_json(env, "container", "list")]
    assert made["uploads"]["physical_resource_id"] in containers
    # outputs, template, events as a Heat user reads them
    address = osc_json(env, "stack", "output", "show", "app", "address")
    assert address["output_value"] == outputs["address"]
    assert address["description"] == "The port's address."
    keys = {o["output_key"] for o in osc_json(env, "stack", "output", "list", "app")}
    assert keys == {"password", "address", "names", "url"}
    template = osc(env, "stack", "template", "show", "app").stdout
    assert "OS::Neutron::Port" in template and "heat_template_version" in template
    events = osc_json(env, "stack", "event", "list", "app")
    assert events[-1]["resource_name"] == "app"
    assert events[-1]["resource_status"] == "CREATE_COMPLETE"
    assert sum(e["resource_status"] == "CREATE_COMPLETE" for e in events) == 8
    # update in place: the volume grows, the group gets a member, ids stay
    osc(env, "stack", "update", "--existing", "--parameter", "size=2", "--parameter", "count=3",
        "--wait", "app")  # fmt: skip
    assert osc_json(env, "stack", "show", "app")["stack_status"] == "UPDATE_COMPLETE"
    after = resources(env, "app")
    for name in made:
        assert after[name]["physical_resource_id"] == made[name]["physical_resource_id"], name
    assert osc_json(env, "volume", "show", made["data"]["physical_resource_id"])["size"] == 2
    names = osc_json(env, "stack", "output", "show", "app", "names")["output_value"]
    assert names == ["web-0", "web-1", "web-2"]
    assert after["port"]["resource_status"] == "CREATE_COMPLETE"  # untouched
    # delete: everything it made goes, nothing else
    osc(env, "stack", "delete", "-y", "--wait", "app")
    assert osc_json(env, "stack", "list") == []
    assert osc(env, "network", "show", made["net"]["physical_resource_id"], check=False).returncode
    assert osc_json(env, "volume", "list") == []
    assert made["uploads"]["physical_resource_id"] not in [
        c["Name"] for c in osc_json(env, "container", "list")]  # fmt: skip


def test_the_third_resource_failing_leaves_nothing_with_rollback(alice: Project) -> None:
    env = alice.env
    result = osc(env, "stack", "create", "-t", str(TEMPLATES / "third_fails.yaml"),
                 "--enable-rollback", "--wait", "--poll", "1", "broken", check=False)  # fmt: skip
    shown = osc_json(env, "stack", "show", "broken")
    assert shown["stack_status"] == "ROLLBACK_COMPLETE", shown
    # The failure's reason is the stack's CREATE_FAILED event, as in Heat.
    failed = [e for e in osc_json(env, "stack", "event", "list", "broken")
              if e["resource_status"] == "CREATE_FAILED"]  # fmt: skip
    assert [e["resource_name"] for e in failed] == ["port", "broken"]
    assert failed[1]["resource_status_reason"].startswith(
        "Resource CREATE failed: BadRequest: resources.port: ")  # fmt: skip
    assert result.returncode == 0 or "ROLLBACK" in result.stdout + result.stderr
    assert osc_json(env, "stack", "resource", "list", "broken") == []
    assert [n["Name"] for n in osc_json(env, "network", "list")
            if n["Name"].startswith("broken-")] == []  # fmt: skip
    osc(env, "stack", "delete", "-y", "--wait", "broken")


def test_a_failure_without_rollback_says_which_resource_and_why(alice: Project) -> None:
    env = alice.env
    result = osc(env, "stack", "create", "-t", str(TEMPLATES / "third_fails.yaml"), "--wait",
                 "--poll", "1", "failing", check=False)  # fmt: skip
    assert result.returncode != 0
    shown = osc_json(env, "stack", "show", "failing")
    assert shown["stack_status"] == "CREATE_FAILED"
    assert shown["stack_status_reason"].startswith("Resource CREATE failed: ")
    made = resources(env, "failing")
    assert made["port"]["resource_status"] == "CREATE_FAILED"
    assert made["subnet"]["resource_status"] == "CREATE_COMPLETE"
    osc(env, "stack", "delete", "-y", "--wait", "failing")
    assert [n["Name"] for n in osc_json(env, "network", "list")
            if n["Name"].startswith("failing-")] == []  # fmt: skip


def test_validate_and_resource_types_through_the_cli(alice: Project) -> None:
    env = alice.env
    out = osc_json(env, "orchestration", "template", "validate", "-t", str(TEMPLATES / "app.yaml"))
    assert out["Parameters"]["size"]["MaxValue"] == 4
    types = [t["Resource Type"] for t in osc_json(env, "orchestration", "resource", "type", "list")]
    assert "OS::Neutron::Port" in types and "OS::Heat::RandomString" in types
    shown = osc_json(env, "orchestration", "resource", "type", "show", "OS::Cinder::Volume")
    assert shown["properties"]["size"]["update_allowed"] is True


def test_openstacksdk_drives_stacks(cloud: Server, alice: Project) -> None:
    e = alice.env
    conn = openstack.connect(auth_url=e["OS_AUTH_URL"], username=e["OS_USERNAME"],
                             password=e["OS_PASSWORD"], project_id=e["OS_PROJECT_ID"],
                             user_domain_name="Default")  # fmt: skip
    template = {"heat_template_version": "2018-08-31", "resources": {
        "r": {"type": "OS::Heat::RandomString", "properties": {"length": 8}}},
        "outputs": {"v": {"value": {"get_attr": ["r", "value"]}}}}  # fmt: skip
    stack = conn.orchestration.create_stack(name="sdk", template=template)
    done = conn.orchestration.wait_for_status(stack, "CREATE_COMPLETE", failures=["CREATE_FAILED"],
                                              interval=0.2, wait=60)  # fmt: skip
    found = conn.orchestration.find_stack("sdk")
    assert found is not None and found.id == done.id
    assert [s.name for s in conn.orchestration.stacks()] == ["sdk"]
    got = conn.orchestration.get_stack(found)
    assert len(got.outputs[0]["output_value"]) == 8
    assert [r.name for r in conn.orchestration.resources(found)] == ["r"]
    conn.orchestration.delete_stack(found)
    conn.orchestration.wait_for_delete(found, interval=0.2, wait=60)
    assert list(conn.orchestration.stacks()) == []


def test_suspend_resume_check_and_mark_unhealthy_through_the_cli(alice: Project) -> None:
    env = alice.env
    osc(env, "stack", "create", "-t", str(TEMPLATES / "app.yaml"), "--parameter",
        "cidr=10.31.0.0/24", "--wait", "--poll", "1", "acts")  # fmt: skip
    made = resources(env, "acts")
    osc(env, "stack", "suspend", "--wait", "acts")
    assert osc_json(env, "stack", "show", "acts")["stack_status"] == "SUSPEND_COMPLETE"
    assert {r["resource_status"] for r in resources(env, "acts").values()} == {"SUSPEND_COMPLETE"}
    osc(env, "stack", "resume", "--wait", "acts")
    assert osc_json(env, "stack", "show", "acts")["stack_status"] == "RESUME_COMPLETE"
    assert {r["resource_status"] for r in resources(env, "acts").values()} == {"RESUME_COMPLETE"}
    osc(env, "stack", "check", "--wait", "acts")
    assert osc_json(env, "stack", "show", "acts")["stack_status"] == "CHECK_COMPLETE"
    # A resource gone from its service fails the check, with the reason.
    osc(env, "volume", "delete", made["data"]["physical_resource_id"])
    for _ in range(100):
        if not osc_json(env, "volume", "list"):
            break
    result = osc(env, "stack", "check", "--wait", "acts", check=False)
    assert result.returncode != 0
    shown = osc_json(env, "stack", "show", "acts")
    assert shown["stack_status"] == "CHECK_FAILED"
    assert shown["stack_status_reason"].startswith("Resource CHECK failed: NotFound: resources.data")
    after = resources(env, "acts")
    assert after["data"]["resource_status"] == "CHECK_FAILED"
    assert after["net"]["resource_status"] == "CHECK_COMPLETE"
    # Marked unhealthy, the port is replaced by the next update (the data
    # volume, failed, too); the rest stays.
    osc(env, "stack", "resource", "mark", "unhealthy", "acts", "port", "it answers no more")
    port = osc_json(env, "stack", "resource", "show", "acts", "port")
    assert (port["resource_status"], port["resource_status_reason"]) == (
        "CHECK_FAILED", "it answers no more")
    osc(env, "stack", "update", "--existing", "--wait", "acts")
    again = resources(env, "acts")
    assert all(r["resource_status"].endswith("_COMPLETE") for r in again.values()), again
    assert again["port"]["resource_status"] == "CREATE_COMPLETE"
    assert again["port"]["physical_resource_id"] != made["port"]["physical_resource_id"]
    assert again["data"]["physical_resource_id"] != made["data"]["physical_resource_id"]
    assert again["net"]["physical_resource_id"] == made["net"]["physical_resource_id"]
    assert osc_json(env, "port", "show", again["port"]["physical_resource_id"])["id"]
    # cancel outside an update: Heat's refusal
    result = osc(env, "stack", "cancel", "acts", check=False)
    assert result.returncode != 0 and "not in cancelable state" in result.stderr
    osc(env, "stack", "delete", "-y", "--wait", "acts")
    assert [n["Name"] for n in osc_json(env, "network", "list")
            if n["Name"].startswith("acts-")] == []  # fmt: skip


def test_a_snapshot_is_taken_listed_shown_restored_and_deleted(alice: Project) -> None:
    import time

    env = alice.env
    osc(env, "stack", "create", "-t", str(TEMPLATES / "app.yaml"), "--parameter",
        "cidr=10.32.0.0/24", "--wait", "--poll", "1", "snap")  # fmt: skip
    made = resources(env, "snap")
    volume = made["data"]["physical_resource_id"]
    taken = osc_json(env, "stack", "snapshot", "create", "snap", "--name", "before")
    # the volume is backed up first (Heat's OS::Cinder::Volume snapshot)
    assert (taken["name"], taken["status"]) == ("before", "IN_PROGRESS")
    deadline = time.monotonic() + 120
    while (shown := osc_json(env, "stack", "snapshot", "show", "snap", taken["ID"])
           )["snapshot"]["status"] == "IN_PROGRESS":  # fmt: skip
        assert time.monotonic() < deadline
        time.sleep(0.5)
    assert shown["snapshot"]["status"] == "COMPLETE", shown["snapshot"]["status_reason"]
    assert osc_json(env, "stack", "show", "snap")["stack_status"] == "SNAPSHOT_COMPLETE"
    listed = osc_json(env, "stack", "snapshot", "list", "snap")
    assert [(s["id"], s["name"]) for s in listed] == [(taken["ID"], "before")]
    data = shown["snapshot"]["data"]
    assert data["template"]["resources"]["names"]["type"] == "OS::Heat::ResourceGroup"
    assert data["resources"]["data"]["resource_id"] == volume
    backup = data["resources"]["data"]["resource_data"]["backup_id"]
    got = osc_json(env, "volume", "backup", "show", backup)
    assert (got["status"], got["volume_id"]) == ("available", volume)
    osc(env, "stack", "update", "--existing", "--parameter", "count=3", "--wait", "snap")
    names = osc_json(env, "stack", "output", "show", "snap", "names")["output_value"]
    assert names == ["web-0", "web-1", "web-2"]
    osc(env, "stack", "snapshot", "restore", "snap", taken["ID"])
    deadline = time.monotonic() + 120
    while (status := osc_json(env, "stack", "show", "snap")["stack_status"]).endswith("PROGRESS"):
        assert time.monotonic() < deadline
        time.sleep(0.5)
    assert status == "RESTORE_COMPLETE"
    names = osc_json(env, "stack", "output", "show", "snap", "names")["output_value"]
    assert names == ["web-0", "web-1"]
    after = resources(env, "snap")
    assert after["port"]["physical_resource_id"] == made["port"]["physical_resource_id"]
    # the volume is made again from its backup (Heat's restore), the old one gone
    again = after["data"]["physical_resource_id"]
    assert again != volume and osc_json(env, "volume", "show", again)["status"] == "available"
    assert osc(env, "volume", "show", volume, check=False).returncode != 0
    osc(env, "stack", "snapshot", "delete", "snap", taken["ID"])
    assert osc_json(env, "stack", "snapshot", "list", "snap") == []
    result = osc(env, "stack", "snapshot", "show", "snap", taken["ID"], check=False)
    assert result.returncode != 0
    # its backup goes with it
    deadline = time.monotonic() + 60
    while osc(env, "volume", "backup", "show", backup, check=False).returncode == 0:
        assert time.monotonic() < deadline
        time.sleep(0.5)
    osc(env, "stack", "delete", "-y", "--wait", "snap")
