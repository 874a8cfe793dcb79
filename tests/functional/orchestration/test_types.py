"""The config types (SoftwareConfig, CloudConfig, MultipartMime) and the
thin API types (ServerGroup, Flavor, FloatingIPAssociation, WebImage) in
one stack with a server whose user_data is a MultipartMime: made, updated
in place, deleted, seen through the compute, image and network APIs."""

from __future__ import annotations

import base64
import email
import hashlib
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from tests.conftest import Server, start_cloud, stop_cloud
from tests.functional.compute.conftest import tiny_image
from tests.functional.image.conftest import WebServer, web  # noqa: F401 (a fixture)
from tests.functional.network.conftest import Project, admin_token, project_with
from tests.functional.orchestration.conftest import Heat, heat_error, osc

TYPES_CLOUD = {
    "STRATUS_SERVICES__ENABLED": '["identity", "compute", "image", "network", "orchestration"]',
    "STRATUS_COMPUTE__DRIVER": "fake",
    "STRATUS_COMPUTE__HOST": "fakehost",
    "STRATUS_IMAGE__WEB_DOWNLOAD_ALLOWED_HOSTS": '["127.0.0.1"]',
}
DISK = b"stratus web image\n" * 512
CLOUD_CONFIG = {"packages": ["busybox"], "write_files": [{"path": "/etc/motd", "content": "hi"}]}


def template(url: str, specs: dict[str, str], port: str, tags: list[str]) -> dict[str, Any]:
    return {
        "heat_template_version": "2018-08-31",
        "resources": {
            "cc": {"type": "OS::Heat::CloudConfig", "properties": {"cloud_config": CLOUD_CONFIG}},
            "script": {"type": "OS::Heat::SoftwareConfig", "properties": {
                "group": "script", "config": "#!/bin/sh\necho hello > /tmp/hello\n",
                "inputs": [{"name": "who"}], "outputs": [{"name": "result"}]}},
            "mime": {"type": "OS::Heat::MultipartMime", "properties": {"parts": [
                {"config": {"get_resource": "cc"}},
                {"config": {"get_resource": "script"}, "subtype": "x-shellscript",
                 "filename": "hello.sh"},
                {"config": "plain words"}]}},
            "group": {"type": "OS::Nova::ServerGroup", "properties": {
                "policies": ["soft-anti-affinity"]}},
            "flavor": {"type": "OS::Nova::Flavor", "properties": {
                "ram": 128, "vcpus": 1, "disk": 1, "extra_specs": specs}},
            "image": {"type": "OS::Glance::WebImage", "properties": {
                "location": url, "disk_format": "raw", "container_format": "bare",
                "min_ram": 64, "tags": tags}},
            "net": {"type": "OS::Neutron::Net"},
            "sub": {"type": "OS::Neutron::Subnet", "properties": {
                "network": {"get_resource": "net"}, "cidr": "10.71.0.0/24"}},
            "router": {"type": "OS::Neutron::Router", "properties": {
                "external_gateway_info": {"network": "public"}}},
            "ri": {"type": "OS::Neutron::RouterInterface", "properties": {
                "router": {"get_resource": "router"}, "subnet": {"get_resource": "sub"}}},
            "port_a": {"type": "OS::Neutron::Port", "depends_on": "sub",
                       "properties": {"network": {"get_resource": "net"}}},
            "port_b": {"type": "OS::Neutron::Port", "depends_on": "sub",
                       "properties": {"network": {"get_resource": "net"}}},
            "fip": {"type": "OS::Neutron::FloatingIP", "properties": {
                "floating_network": "public"}},
            "assoc": {"type": "OS::Neutron::FloatingIPAssociation", "depends_on": "ri",
                      "properties": {"floatingip_id": {"get_resource": "fip"},
                                     "port_id": {"get_resource": port}}},
            "vm": {"type": "OS::Nova::Server", "properties": {
                "image": {"get_param": "tiny"}, "flavor": {"get_resource": "flavor"},
                "networks": [{"network": {"get_resource": "net"}}],
                "user_data_format": "RAW", "user_data": {"get_resource": "mime"},
                "scheduler_hints": {"group": {"get_resource": "group"}}}},
        },
        "parameters": {"tiny": {"type": "string"}},
        "outputs": {k: {"value": {"get_attr": [r, a]}} for k, r, a in (
            ("cc", "cc", "config"), ("script", "script", "config"), ("mime", "mime", "config"),
            ("specs", "flavor", "extra_specs"), ("image", "image", "show"))},
    }  # fmt: skip


@pytest.fixture(scope="module")
def cloud(database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_cloud(tmp_path_factory.mktemp(f"heat-types-{database}"), database, **TYPES_CLOUD)
    yield srv
    stop_cloud(srv)


@pytest.fixture(scope="module")
def operator(cloud: Server) -> Project:
    return project_with(cloud, role="admin")


def outputs(stack: dict[str, Any]) -> dict[str, Any]:
    return {o["output_key"]: o["output_value"] for o in stack["outputs"]}


def physical(heat: Heat, name: str, sid: str) -> dict[str, str]:
    listed = heat.get(f"/stacks/{name}/{sid}/resources").json()["resources"]
    return {r["resource_name"]: r["physical_resource_id"] for r in listed}


def test_config_and_api_types_are_made_updated_and_deleted(
    cloud: Server, operator: Project, web: WebServer  # noqa: F811
) -> None:
    web.files["/heat-disk.raw"] = DISK
    heat = Heat(cloud, operator.api.token, operator.id)
    api = heat.http  # the same token on the other services
    auth = {"X-Auth-Token": operator.api.token}
    nova, glance = f"{cloud.url}/compute/v2.1", f"{cloud.url}/image/v2"
    neutron = f"{cloud.url}/network/v2.0"
    tiny = tiny_image(cloud)
    sid = heat.create("kit", template(web.url("/heat-disk.raw"), {"hw:cpu_policy": "shared"},
                                      "port_a", ["one"]), parameters={"tiny": tiny})  # fmt: skip
    stack = heat.wait("kit", sid, timeout=180)
    assert stack["stack_status"] == "CREATE_COMPLETE", stack["stack_status_reason"]
    out, ids = outputs(stack), physical(heat, "kit", sid)

    # the configs, and the server's user_data made of them
    assert out["cc"] == "#cloud-config\n" + yaml.safe_dump(CLOUD_CONFIG, default_flow_style=False)
    assert out["script"] == "#!/bin/sh\necho hello > /tmp/hello\n"
    msg = email.message_from_string(out["mime"])
    parts = msg.get_payload()
    assert msg.is_multipart() and isinstance(parts, list) and len(parts) == 3
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/x-shellscript",
                                                     "text/plain"]  # fmt: skip
    assert [p.get_payload(decode=True).decode() for p in parts] == [
        out["cc"], out["script"], "plain words"]
    assert parts[1].get_filename() == "hello.sh"
    srv = api.get(f"{nova}/servers/{ids['vm']}", headers={
        **auth, "OpenStack-API-Version": "compute 2.3"}).json()["server"]  # fmt: skip
    assert base64.b64decode(srv["OS-EXT-SRV-ATTR:user_data"]).decode() == out["mime"]
    assert srv["flavor"]["id"] == ids["flavor"]

    # the server group holds the server; the flavor has its specs; the image is the URL's
    group = api.get(f"{nova}/os-server-groups/{ids['group']}", headers=auth).json()
    assert group["server_group"]["policies"] == ["soft-anti-affinity"]
    assert group["server_group"]["members"] == [ids["vm"]]
    specs = api.get(f"{nova}/flavors/{ids['flavor']}/os-extra_specs", headers=auth).json()
    assert specs["extra_specs"] == out["specs"] == {"hw:cpu_policy": "shared"}
    image = api.get(f"{glance}/images/{ids['image']}", headers=auth).json()
    assert (image["status"], image["size"], image["min_ram"], image["tags"]) == (
        "active", len(DISK), 64, ["one"])
    assert image["os_hash_value"] == hashlib.sha512(DISK).hexdigest()
    assert out["image"]["id"] == ids["image"]
    fip = api.get(f"{neutron}/floatingips/{ids['fip']}", headers=auth).json()["floatingip"]
    assert fip["port_id"] == ids["port_a"]

    # an update: new specs, another port, other tags; all in place
    resp = heat.put(f"/stacks/kit/{sid}", json={"template": template(
        web.url("/heat-disk.raw"), {"hw:mem_page_size": "small"}, "port_b", ["two", "three"]),
        "parameters": {"tiny": tiny}})  # fmt: skip
    assert resp.status_code == 202, resp.text
    stack = heat.wait("kit", sid, timeout=180)
    assert stack["stack_status"] == "UPDATE_COMPLETE", stack["stack_status_reason"]
    after = physical(heat, "kit", sid)
    assert {k: after[k] for k in ("flavor", "image", "vm", "mime", "fip")} == {
        k: ids[k] for k in ("flavor", "image", "vm", "mime", "fip")}
    specs = api.get(f"{nova}/flavors/{ids['flavor']}/os-extra_specs", headers=auth).json()
    assert specs["extra_specs"] == {"hw:mem_page_size": "small"}
    image = api.get(f"{glance}/images/{ids['image']}", headers=auth).json()
    assert sorted(image["tags"]) == ["three", "two"]
    fip = api.get(f"{neutron}/floatingips/{ids['fip']}", headers=auth).json()["floatingip"]
    assert fip["port_id"] == ids["port_b"]

    # the schema of each new type, as `resource type show` reads it
    for kind, prop in (("OS::Heat::CloudConfig", "cloud_config"), ("OS::Nova::Flavor", "ram"),
                       ("OS::Heat::MultipartMime", "parts"), ("OS::Glance::WebImage", "location"),
                       ("OS::Neutron::FloatingIPAssociation", "port_id"),
                       ("OS::Nova::ServerGroup", "policies"),
                       ("OS::Heat::SoftwareConfig", "config")):  # fmt: skip
        shown = heat.get(f"/resource_types/{kind}").json()
        assert prop in shown["properties"], (kind, shown)

    # suspend and resume: the server through the compute API, the rest in state only
    for act, stack_status, server_status in (("suspend", "SUSPEND_COMPLETE", "SUSPENDED"),
                                             ("resume", "RESUME_COMPLETE", "ACTIVE"),
                                             ("check", "CHECK_COMPLETE", "ACTIVE")):  # fmt: skip
        resp = heat.post(f"/stacks/kit/{sid}/actions", json={act: None})
        assert resp.status_code == 200, resp.text
        stack = heat.wait("kit", sid, timeout=120)
        assert stack["stack_status"] == stack_status, stack["stack_status_reason"]
        srv = api.get(f"{nova}/servers/{ids['vm']}", headers=auth).json()["server"]
        assert srv["status"] == server_status
    listed = heat.get(f"/stacks/kit/{sid}/resources").json()["resources"]
    assert {r["resource_status"] for r in listed} == {"CHECK_COMPLETE"}

    assert heat.delete(f"/stacks/kit/{sid}").status_code == 204
    assert heat.wait("kit", sid, timeout=180)["stack_status"] == "DELETE_COMPLETE"
    for path in (f"{nova}/servers/{ids['vm']}", f"{nova}/os-server-groups/{ids['group']}",
                 f"{nova}/flavors/{ids['flavor']}", f"{glance}/images/{ids['image']}",
                 f"{neutron}/floatingips/{ids['fip']}"):  # fmt: skip
        assert api.get(path, headers=auth).status_code == 404, path


def test_a_flavor_is_for_admins_and_a_web_image_only_from_allowed_hosts(
    cloud: Server, web: WebServer  # noqa: F811
) -> None:
    web.files["/heat-disk.raw"] = DISK
    member = project_with(cloud)
    heat = Heat(cloud, member.api.token, member.id)
    flavor = {"heat_template_version": "2018-08-31", "resources": {
        "f": {"type": "OS::Nova::Flavor", "properties": {"ram": 64, "vcpus": 1}}}}  # fmt: skip
    sid = heat.create("flv", flavor)
    stack = heat.wait("flv", sid)
    assert stack["stack_status"] == "CREATE_FAILED"
    assert "Forbidden: resources.f: " in stack["stack_status_reason"], stack
    image = {"heat_template_version": "2018-08-31", "resources": {
        "i": {"type": "OS::Glance::WebImage", "properties": {
            "location": web.url("/heat-disk.raw", host="localhost"), "disk_format": "raw",
            "container_format": "bare"}}}}  # fmt: skip
    sid2 = heat.create("img", image)
    stack = heat.wait("img", sid2, timeout=120)
    assert stack["stack_status"] == "CREATE_FAILED"
    assert "could not download" in stack["stack_status_reason"], stack
    for name, s in (("flv", sid), ("img", sid2)):
        heat.delete(f"/stacks/{name}/{s}")
        assert heat.wait(name, s)["stack_status"] == "DELETE_COMPLETE"
    images = heat.http.get(f"{cloud.url}/image/v2/images", headers={
        "X-Auth-Token": admin_token(cloud)}).json()["images"]  # fmt: skip
    assert not [i for i in images if i["name"].startswith("img-")]


SCALING = {
    "heat_template_version": "2018-08-31",
    "resources": {
        "grp": {"type": "OS::Heat::AutoScalingGroup", "properties": {
            "min_size": 1, "max_size": 3, "desired_capacity": 1,
            "resource": {"type": "OS::Neutron::Net", "properties": {
                "value_specs": {"description": {"get_param": "OS::stack_name"}}}}}},
        "up": {"type": "OS::Heat::ScalingPolicy", "properties": {
            "auto_scaling_group_id": {"get_resource": "grp"},
            "adjustment_type": "change_in_capacity", "scaling_adjustment": 1}},
        "down": {"type": "OS::Heat::ScalingPolicy", "properties": {
            "auto_scaling_group_id": {"get_resource": "grp"},
            "adjustment_type": "percent_change_in_capacity", "scaling_adjustment": -50,
            "cooldown": 3600}},
    },
    "outputs": {"up": {"value": {"get_attr": ["up", "alarm_url"]}},
                "down": {"value": {"get_attr": ["down", "signal_url"]}},
                "size": {"value": {"get_attr": ["grp", "current_size"]}},
                "refs": {"value": {"get_attr": ["grp", "refs"]}}},
}  # fmt: skip


def test_scaling_policies_resize_their_group_through_their_urls(cloud: Server) -> None:
    p = project_with(cloud)
    heat = Heat(cloud, p.api.token, p.id)
    nets = f"{cloud.url}/network/v2.0/networks"

    def mine() -> set[str]:
        listed = heat.http.get(nets, headers={"X-Auth-Token": p.api.token},
                               params={"description": "scaled"}).json()["networks"]  # fmt: skip
        return {n["id"] for n in listed}

    sid = heat.create("scaled", SCALING)
    stack = heat.wait("scaled", sid)
    assert stack["stack_status"] == "CREATE_COMPLETE", stack["stack_status_reason"]
    out = outputs(stack)
    assert out["size"] == 1 and set(out["refs"]) == mine() and len(mine()) == 1
    assert out["up"].startswith(heat.base + "/signal/") and out["up"] != out["down"]

    def signal(url: str, changes: bool) -> dict[str, Any]:
        resp = heat.http.post(url)  # the URL is the credential: no token, no body
        assert resp.status_code == 200, resp.text
        stack = heat.wait("scaled", sid)
        assert stack["stack_status"] == ("UPDATE_COMPLETE" if changes else stack["stack_status"])
        return outputs(stack)

    first = mine()
    out = signal(out["up"], True)
    assert out["size"] == 2 and first < mine() and set(out["refs"]) == mine()
    # the same through `openstack stack resource signal` (the policy by name)
    osc(p.env, "stack", "resource", "signal", "scaled", "up")
    stack = heat.wait("scaled", sid)
    assert outputs(stack)["size"] == 3 and len(mine()) == 3
    three = mine()
    resp = heat.post(f"/stacks/scaled/{sid}/resources/grp/signal", json={})
    assert resp.status_code == 400
    assert heat_error(resp)["type"] == "ResourceActionNotSupported"
    assert signal(out["up"], False)["size"] == 3  # max_size holds it
    events = heat.get(f"/stacks/scaled/{sid}/resources/up/events").json()["events"]
    assert "the group stays at 3" in events[-1]["resource_status_reason"]
    out = signal(out["down"], True)  # -50% of 3: one fewer
    # the oldest member went (Heat's AutoScalingGroup), the two newest stay
    assert out["size"] == 2 and mine() == three - first and set(out["refs"]) == mine()
    assert signal(out["down"], False)["size"] == 2  # its cooldown holds it
    # an update of the stack keeps the size its policies gave it
    resp = heat.patch(f"/stacks/scaled/{sid}", json={"parameters": {}})
    assert resp.status_code == 202, resp.text
    stack = heat.wait("scaled", sid)
    assert stack["stack_status"] == "UPDATE_COMPLETE" and outputs(stack)["size"] == 2
    assert heat.http.post(heat.base + "/signal/nope").status_code == 404
    heat.delete(f"/stacks/scaled/{sid}")
    assert heat.wait("scaled", sid)["stack_status"] == "DELETE_COMPLETE"
    assert mine() == set()
