"""Neutron's query language: filters on any attribute, fields, sorting,
pagination with links, tags and their filters, revisions and timestamps."""

from __future__ import annotations

from typing import Any

import pytest

from tests.functional.network.conftest import Project, error_type


@pytest.fixture(scope="module")
def ports(alice: Project) -> list[dict[str, Any]]:
    net = alice.api.network()
    alice.api.subnet(net["id"], "10.31.0.0/24")
    made = []
    for i in range(7):
        made.append(
            alice.api.port(
                net["id"], name=f"p{i % 3}-{i}", admin_state_up=i % 2 == 0, description=f"d{i}"
            )
        )
    return made


def ids(resp: Any, collection: str = "ports") -> list[str]:
    assert resp.status_code == 200, resp.text
    return [i["id"] for i in resp.json()[collection]]


def test_fields_select_attributes(alice: Project, ports: list[dict[str, Any]]) -> None:
    port = ports[0]
    shown = alice.api.get(
        f"/ports/{port['id']}", params=[("fields", "id"), ("fields", "mac_address")]
    )
    assert shown.json()["port"] == {"id": port["id"], "mac_address": port["mac_address"]}
    listed = alice.api.get(
        "/ports", params=[("fields", "id"), ("fields", "name"), ("fields", "trunk_details")]
    ).json()["ports"]
    assert listed and all(set(p) == {"id", "name"} for p in listed)


def test_filters_on_any_attribute(alice: Project, ports: list[dict[str, Any]]) -> None:
    net_id = ports[0]["network_id"]
    down = ids(alice.api.get("/ports", params={"network_id": net_id, "admin_state_up": "False"}))
    assert set(down) == {p["id"] for p in ports if not p["admin_state_up"]}
    two = ids(
        alice.api.get("/ports", params=[("name", ports[1]["name"]), ("name", ports[2]["name"])])
    )
    assert set(two) == {ports[1]["id"], ports[2]["id"]}
    assert ids(alice.api.get("/ports", params={"description": "d5"})) == [ports[5]["id"]]
    ip = ports[3]["fixed_ips"][0]["ip_address"]
    assert ids(alice.api.get("/ports", params={"fixed_ips": f"ip_address={ip}"})) == [
        ports[3]["id"]
    ]
    substr = ".".join(ip.split(".")[:3]) + "."
    assert (
        len(ids(alice.api.get("/ports", params={"fixed_ips": f"ip_address_substr={substr}"}))) == 8
    )
    group = ports[0]["security_groups"][0]
    assert set(ports_of(alice, security_groups=group)) >= {p["id"] for p in ports}
    nets = ids(alice.api.get("/networks", params={"mtu": "1450", "id": net_id}), "networks")
    assert nets == [net_id]


def ports_of(alice: Project, **params: str) -> list[str]:
    return ids(alice.api.get("/ports", params=params))


def test_sorting(alice: Project, ports: list[dict[str, Any]]) -> None:
    net_id = ports[0]["network_id"]
    params = [
        ("network_id", net_id),
        ("device_owner", ""),
        ("sort_key", "name"),
        ("sort_dir", "desc"),
        ("sort_key", "description"),
        ("sort_dir", "asc"),
    ]
    got = alice.api.get("/ports", params=params).json()["ports"]
    named = [p for p in got if p["name"]]
    expected = sorted(named, key=lambda p: p["description"])
    expected = sorted(expected, key=lambda p: p["name"], reverse=True)
    assert [p["id"] for p in named] == [p["id"] for p in expected]


def test_pagination_follows_links(alice: Project, ports: list[dict[str, Any]]) -> None:
    net_id = ports[0]["network_id"]
    everything = ids(
        alice.api.get("/ports", params={"network_id": net_id, "sort_key": "id", "sort_dir": "asc"})
    )
    seen: list[str] = []
    resp = alice.api.get(
        "/ports", params={"network_id": net_id, "limit": "3", "sort_key": "id", "sort_dir": "asc"}
    )
    pages = 0
    while True:
        pages += 1
        body = resp.json()
        seen += [p["id"] for p in body["ports"]]
        nxt = [link["href"] for link in body.get("ports_links", []) if link["rel"] == "next"]
        if not nxt:
            break
        resp = alice.api.http.get(nxt[0], headers={"X-Auth-Token": alice.api.token})
        assert pages < 10
    assert seen == everything and pages == 3
    back = alice.api.get(
        "/ports",
        params={
            "network_id": net_id,
            "limit": "2",
            "sort_key": "id",
            "sort_dir": "asc",
            "marker": everything[4],
            "page_reverse": "True",
        },
    )
    assert ids(back) == everything[2:4]


def test_tags(alice: Project, ports: list[dict[str, Any]]) -> None:
    api = alice.api
    a, b, c = (p["id"] for p in ports[:3])
    resp = api.put(f"/ports/{a}/tags", json={"tags": ["red", "blue"]})
    assert resp.status_code == 200 and resp.json()["tags"] == ["blue", "red"]
    assert api.put(f"/ports/{b}/tags/red").status_code == 201
    assert api.put(f"/ports/{c}/tags/green").status_code == 201
    assert api.get(f"/ports/{a}/tags/red").status_code == 204
    missing = api.get(f"/ports/{a}/tags/green")
    assert missing.status_code == 404 and error_type(missing) == "TagNotFound"
    assert set(ports_of(alice, tags="red,blue")) == {a}
    assert set(ports_of(alice, **{"tags-any": "blue,green"})) == {a, c}
    assert set(ports_of(alice, **{"not-tags": "red"})) >= {c} and a not in ports_of(
        alice, **{"not-tags": "red"}
    )
    assert not {a, b, c} & set(ports_of(alice, **{"not-tags-any": "red,green"}))
    port = api.get(f"/ports/{a}").json()["port"]
    assert port["tags"] == ["blue", "red"] and port["revision_number"] > 1
    assert api.delete(f"/ports/{a}/tags/blue").status_code == 204
    assert api.get(f"/ports/{a}/tags").json() == {"tags": ["red"]}
    assert api.delete(f"/ports/{a}/tags").status_code == 204
    assert api.get(f"/ports/{a}/tags").json() == {"tags": []}
    net = api.network(tags=["made-with-tag"])
    assert net["tags"] == ["made-with-tag"]
    assert api.post(f"/networks/{net['id']}/tags", json={"tags": ["more"]}).json()["tags"] == [
        "made-with-tag",
        "more",
    ]


def test_revision_and_timestamps(alice: Project, ports: list[dict[str, Any]]) -> None:
    port = ports[6]
    assert port["revision_number"] == 1 and port["created_at"].endswith("Z")
    updated = alice.api.put(f"/ports/{port['id']}", json={"port": {"name": "renamed"}}).json()[
        "port"
    ]
    assert updated["revision_number"] == 2 and updated["created_at"] == port["created_at"]
    assert updated["updated_at"] >= port["updated_at"]
    assert updated["project_id"] == updated["tenant_id"] == alice.id
