"""Flavors: create (id generated or given), lists with the clients' literal filters,
private flavors and their access list, extra specs, policy and lookups by name."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Server
from tests.functional.compute.conftest import Nova, osc, osc_json, project_user, unique


def flavor_body(name: str, flavor_id: Any = None, public: bool = True) -> dict[str, Any]:
    # what `openstack flavor create` sends (at 2.61)
    return {
        "flavor": {
            "ram": 512, "id": flavor_id, "disk": 1, "OS-FLV-EXT-DATA:ephemeral": 0,
            "name": name, "vcpus": 1, "os-flavor-access:is_public": public, "swap": 0,
        }
    }


@pytest.fixture(scope="module")
def n61(nova: Nova) -> Nova:
    return nova.at("2.61")


def test_create_with_null_id_generates_one(n61: Nova) -> None:
    name = unique("fl")
    resp = n61.post("/flavors", json=flavor_body(name))
    assert resp.status_code == 200, resp.text
    flavor = resp.json()["flavor"]
    assert flavor["id"] and isinstance(flavor["id"], str)
    assert flavor["name"] == name and flavor["ram"] == 512 and flavor["vcpus"] == 1
    assert flavor["os-flavor-access:is_public"] is True
    assert flavor["OS-FLV-DISABLED:disabled"] is False
    assert flavor["description"] is None and flavor["extra_specs"] == {}
    assert any(link["rel"] == "self" for link in flavor["links"])
    assert n61.get(f"/flavors/{flavor['id']}").status_code == 200


def test_create_with_given_id_is_string(nova: Nova, n61: Nova) -> None:
    resp = n61.post("/flavors", json=flavor_body(unique("fl"), "101"))
    assert resp.status_code == 200, resp.text
    assert resp.json()["flavor"]["id"] == "101"
    again = n61.post("/flavors", json=flavor_body(unique("fl"), "101"))
    assert again.status_code == 409, again.text
    assert again.json()["conflictingRequest"]["code"] == 409


def test_cli_create_with_id(cloud: Server) -> None:
    name = unique("fl")
    flavor = osc_json(cloud, "flavor", "create", "--id", "77", "--ram", "128", "--disk", "1", "--vcpus", "1", name)
    assert flavor["id"] == "77"
    shown = osc_json(cloud, "flavor", "show", name)
    assert shown["id"] == "77" and shown["ram"] == 128
    names = [f["Name"] for f in osc_json(cloud, "flavor", "list")]
    assert name in names and "m1.tiny" in names
    osc(cloud, "flavor", "delete", name)
    assert osc(cloud, "flavor", "show", name, check=False).returncode != 0


def test_duplicate_name_is_409(n61: Nova) -> None:
    resp = n61.post("/flavors", json=flavor_body("m1.tiny"))
    assert resp.status_code == 409, resp.text


@pytest.mark.parametrize(
    "change",
    [{"ram": 0}, {"vcpus": -1}, {"disk": "x"}, {"name": ""}, {"ram": None}, {"name": "a" * 300}],
)
def test_bad_create_is_400(n61: Nova, change: dict[str, Any]) -> None:
    body = flavor_body(unique("fl"))
    body["flavor"].update(change)
    resp = n61.post("/flavors", json=body)
    assert resp.status_code == 400, resp.text
    assert resp.json()["badRequest"]["code"] == 400


def test_list_filters_as_the_clients_send_them(nova: Nova, n61: Nova) -> None:
    private = n61.post("/flavors", json=flavor_body(unique("priv"), public=False)).json()["flavor"]
    public_only = {f["id"] for f in nova.get("/flavors/detail", params={"is_public": "True"}).json()["flavors"]}
    everything = {f["id"] for f in nova.get("/flavors/detail", params={"is_public": "None"}).json()["flavors"]}
    assert {"1", "2", "3", "4"} <= public_only
    assert private["id"] not in public_only
    assert private["id"] in everything and {"1", "2", "3", "4"} <= everything
    brief = nova.get("/flavors", params={"is_public": "None"}).json()["flavors"]
    assert all(set(f) == {"id", "name", "links"} for f in brief)
    assert private["id"] in {f["id"] for f in brief}


def test_flavor_at_21_has_no_description_or_extra_specs(nova: Nova) -> None:
    for flavor in [nova.get("/flavors/1").json()["flavor"], *nova.get("/flavors/detail").json()["flavors"]]:
        assert "description" not in flavor and "extra_specs" not in flavor, flavor
    flavor = nova.at("2.96").get("/flavors/1").json()["flavor"]
    assert "description" in flavor and flavor["extra_specs"] == {}


def test_private_flavor_access(cloud: Server, nova: Nova, n61: Nova) -> None:
    member, project = project_user(cloud)
    flavor = n61.post("/flavors", json=flavor_body(unique("priv"), public=False)).json()["flavor"]
    fid = flavor["id"]
    assert member.get(f"/flavors/{fid}").status_code == 404
    assert fid not in {f["id"] for f in member.get("/flavors/detail", params={"is_public": "None"}).json()["flavors"]}

    resp = nova.post(f"/flavors/{fid}/action", json={"addTenantAccess": {"tenant": project["id"]}})
    assert resp.status_code == 200, resp.text
    assert resp.json()["flavor_access"] == [{"flavor_id": fid, "tenant_id": project["id"]}]
    assert nova.get(f"/flavors/{fid}/os-flavor-access").json()["flavor_access"] == [
        {"flavor_id": fid, "tenant_id": project["id"]}
    ]
    assert member.get(f"/flavors/{fid}").status_code == 200
    assert fid in {f["id"] for f in member.get("/flavors/detail").json()["flavors"]}
    again = nova.post(f"/flavors/{fid}/action", json={"addTenantAccess": {"tenant": project["id"]}})
    assert again.status_code == 409, again.text

    resp = nova.post(f"/flavors/{fid}/action", json={"removeTenantAccess": {"tenant": project["id"]}})
    assert resp.status_code == 200, resp.text
    assert resp.json()["flavor_access"] == []
    assert member.get(f"/flavors/{fid}").status_code == 404
    gone = nova.post(f"/flavors/{fid}/action", json={"removeTenantAccess": {"tenant": project["id"]}})
    assert gone.status_code == 404, gone.text
    # a public flavor has no access list
    assert nova.get("/flavors/1/os-flavor-access").status_code == 404


def test_extra_specs_crud(nova: Nova, n61: Nova) -> None:
    fid = n61.post("/flavors", json=flavor_body(unique("fl"))).json()["flavor"]["id"]
    base = f"/flavors/{fid}/os-extra_specs"
    assert nova.get(base).json() == {"extra_specs": {}}
    resp = nova.post(base, json={"extra_specs": {"hw:cpu_policy": "shared", "k2": "v2"}})
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"extra_specs": {"hw:cpu_policy": "shared", "k2": "v2"}}
    assert nova.get(f"{base}/k2").json() == {"k2": "v2"}
    assert n61.get(f"/flavors/{fid}").json()["flavor"]["extra_specs"] == {"hw:cpu_policy": "shared", "k2": "v2"}
    assert nova.delete(f"{base}/k2").status_code == 200
    assert nova.get(f"{base}/k2").status_code == 404
    assert nova.delete(f"{base}/k2").status_code == 404
    assert nova.get(base).json() == {"extra_specs": {"hw:cpu_policy": "shared"}}
    assert nova.get("/flavors/nope/os-extra_specs").status_code == 404


def test_extra_spec_put_one_key(nova: Nova, n61: Nova) -> None:
    """PUT /flavors/{id}/os-extra_specs/{key} takes Nova's body ``{key: value}``
    (what openstacksdk sends for `flavor set --property`)."""
    fid = n61.post("/flavors", json=flavor_body(unique("fl"))).json()["flavor"]["id"]
    base = f"/flavors/{fid}/os-extra_specs"
    assert nova.post(base, json={"extra_specs": {"k2": "v2"}}).status_code == 200
    resp = nova.put(f"{base}/k2", json={"k2": "v3"})
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"k2": "v3"}
    assert nova.get(f"{base}/k2").json() == {"k2": "v3"}
    assert nova.put(f"{base}/k2", json={"other": "v3"}).status_code == 400
    assert nova.put(f"{base}/k2", json={"k2": "a", "k3": "b"}).status_code == 400


def test_cli_flavor_set_property(cloud: Server) -> None:
    name = unique("fl")
    osc(cloud, "flavor", "create", "--ram", "128", "--disk", "1", "--vcpus", "1", name)
    osc(cloud, "flavor", "set", "--property", "a=b", "--property", "c=d", name)
    shown = osc_json(cloud, "flavor", "show", name)
    assert shown["properties"] == {"a": "b", "c": "d"}
    osc(cloud, "flavor", "unset", "--property", "a", name)
    assert osc_json(cloud, "flavor", "show", name)["properties"] == {"c": "d"}


def test_update_description(n61: Nova, nova: Nova) -> None:
    fid = n61.post("/flavors", json=flavor_body(unique("fl"))).json()["flavor"]["id"]
    assert nova.put(f"/flavors/{fid}", json={"flavor": {"description": "d"}}).status_code in (400, 404, 405)
    resp = n61.put(f"/flavors/{fid}", json={"flavor": {"description": "hello"}})
    assert resp.status_code == 200, resp.text
    assert resp.json()["flavor"]["description"] == "hello"


def test_delete(nova: Nova, n61: Nova) -> None:
    fid = n61.post("/flavors", json=flavor_body(unique("fl"))).json()["flavor"]["id"]
    assert nova.delete(f"/flavors/{fid}").status_code == 202
    assert nova.get(f"/flavors/{fid}").status_code == 404
    assert nova.delete(f"/flavors/{fid}").status_code == 404


def test_non_admin_cannot_manage_flavors(cloud: Server, nova: Nova) -> None:
    member, project = project_user(cloud)
    resp = member.post("/flavors", json=flavor_body(unique("fl")))
    assert resp.status_code == 403, resp.text
    assert resp.json()["forbidden"]["code"] == 403
    assert member.delete("/flavors/1").status_code == 403
    assert member.post("/flavors/1/os-extra_specs", json={"extra_specs": {"a": "b"}}).status_code == 403
    assert member.get("/flavors/1").status_code == 200
    assert member.get("/flavors/1/os-extra_specs").status_code == 200


@pytest.mark.parametrize("name", ["m1.tiny", "no-such-flavor"])
def test_get_by_name_is_404(nova: Nova, name: str) -> None:
    resp = nova.get(f"/flavors/{name}")
    assert resp.status_code == 404, resp.text
    assert resp.json()["itemNotFound"]["code"] == 404
