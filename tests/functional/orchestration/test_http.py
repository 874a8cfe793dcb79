"""Heat v1 over raw HTTP: bad input in Heat's error format (never a 500),
lookups by name, lists and their filters, events paginated, and one
project's stacks out of another's sight."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import Server
from tests.functional.network.conftest import admin_token, project_with
from tests.functional.orchestration.conftest import Heat, heat_error

V = "2018-08-31"


def tmpl(**resources: Any) -> dict[str, Any]:
    return {"heat_template_version": V, "resources": resources}


def rnd(length: int = 4, **extra: Any) -> dict[str, Any]:
    return {"type": "OS::Heat::RandomString", "properties": {"length": length}, **extra}


@pytest.fixture(scope="module")
def alice(cloud: Server) -> Heat:
    p = project_with(cloud)
    return Heat(cloud, p.api.token, p.id)


@pytest.fixture(scope="module")
def bob(cloud: Server) -> Heat:
    p = project_with(cloud)
    return Heat(cloud, p.api.token, p.id)


CYCLE = tmpl(a={**rnd(), "depends_on": "b"}, b={**rnd(), "depends_on": "a"})
CONSTRAINED = {"heat_template_version": V, "parameters": {"n": {
    "type": "number", "constraints": [{"range": {"min": 1, "max": 3}}]}}, "resources": {}}
BAD_INPUT = [
    ("heat_template_version: [", {}, "StackValidationFailed", "Error parsing"),
    ({"heat_template_version": "2001-01-01"}, {}, "InvalidTemplateVersion", "should be one of"),
    (tmpl(a={"type": "OS::Nope::Thing"}), {}, "ResourceTypeNotFound", "OS::Nope::Thing"),
    (CONSTRAINED, {"n": "7"}, "StackValidationFailed", "out of range"),
    (CONSTRAINED, {}, "UserParameterMissing", "(n)"),
    (CYCLE, {}, "CircularDependencyException", "Circular Dependency Found: a, b"),
    (tmpl(a={"type": "OS::Heat::Value", "properties": {"value": {"get_resource": "zz"}}}), {},
     "InvalidTemplateReference", '"zz"'),
    (tmpl(a={"type": "OS::Heat::RandomString", "properties": {"lenght": 3}}), {},
     "StackValidationFailed", "Unknown Property lenght"),
]  # fmt: skip


@pytest.mark.parametrize(("template", "params", "kind", "message"), BAD_INPUT)
def test_bad_templates_are_400s_in_heats_format_on_validate_and_create(
    alice: Heat, template: Any, params: dict[str, Any], kind: str, message: str
) -> None:
    paths = [("/validate", {}), ("/stacks", {"stack_name": "bad"})]
    if kind == "UserParameterMissing":
        paths = paths[1:]  # validate describes a template without its values
    for path, body in paths:
        resp = alice.post(path, json={"template": template, "parameters": params, **body})
        assert resp.status_code == 400, resp.text
        error = heat_error(resp)
        assert error["type"] == kind and message in error["message"], error
    assert alice.get("/stacks").json()["stacks"] == []


def test_malformed_requests_are_400s_and_unknown_stacks_404s(alice: Heat) -> None:
    resp = alice.post("/stacks", json={"stack_name": "x", "template": tmpl(), "bogus": 1})
    assert resp.status_code == 400 and heat_error(resp)["type"] == "HTTPBadRequest"
    resp = alice.post("/stacks", json={"stack_name": "9starts-with-digit", "template": tmpl()})
    assert resp.status_code == 400 and "Invalid stack name" in heat_error(resp)["message"]
    resp = alice.post("/stacks", content=b"{not json", headers={"Content-Type": "application/json"})
    assert resp.status_code == 400
    resp = alice.get("/stacks/nothing")
    assert resp.status_code == 404
    assert heat_error(resp) == {"message": "The Stack (nothing) could not be found.",
                                "traceback": None, "type": "EntityNotFound"}  # fmt: skip


def test_show_by_name_redirects_to_name_and_id(alice: Heat) -> None:
    sid = alice.create("named", tmpl(r=rnd()))
    resp = alice.get("/stacks/named", follow_redirects=False)
    assert resp.status_code == 302
    assert resp.headers["location"] == f"{alice.base}/stacks/named/{sid}"
    resp = alice.get(f"/stacks/{sid}/events?sort_dir=asc", follow_redirects=False)
    assert resp.headers["location"] == f"{alice.base}/stacks/named/{sid}/events?sort_dir=asc"
    assert alice.wait("named", sid)["stack_status"] == "CREATE_COMPLETE"
    resp = alice.post("/stacks", json={"stack_name": "named", "template": tmpl()})
    assert resp.status_code == 409 and heat_error(resp)["type"] == "StackExists"
    # a stack busy with a task refuses another update
    assert alice.request("DELETE", f"/stacks/named/{sid}").status_code == 204
    assert alice.wait("named", sid)["stack_status"] == "DELETE_COMPLETE"
    assert alice.get("/stacks/named").status_code == 404  # a deleted stack by name: gone
    assert alice.get(f"/stacks/named/{sid}").json()["stack"]["stack_status"] == "DELETE_COMPLETE"


def test_list_filters_sorts_and_pages(alice: Heat) -> None:
    ids = {n: alice.create(n, tmpl(r=rnd())) for n in ("lst-a", "lst-b", "lst-c")}
    for n, sid in ids.items():
        alice.wait(n, sid)
    names = [s["stack_name"] for s in alice.get("/stacks", params={"sort_keys": "stack_name",
                                                                   "sort_dir": "asc"}).json()["stacks"]]  # fmt: skip
    assert names == ["lst-a", "lst-b", "lst-c"]
    page = alice.get("/stacks", params={"sort_keys": "stack_name", "sort_dir": "asc", "limit": 2,
                                        "marker": ids["lst-a"]}).json()["stacks"]  # fmt: skip
    assert [s["stack_name"] for s in page] == ["lst-b", "lst-c"]
    one = alice.get("/stacks", params={"stack_name": "lst-b"}).json()["stacks"]
    assert [s["id"] for s in one] == [ids["lst-b"]]
    done = alice.get("/stacks", params={"status": "CREATE_COMPLETE"}).json()["stacks"]
    assert {s["stack_name"] for s in done} >= set(ids)
    assert alice.get("/stacks", params={"status": "CREATE_FAILED"}).json()["stacks"] == []
    for n, sid in ids.items():
        alice.request("DELETE", f"/stacks/{n}/{sid}")


def test_a_status_alone_filters_and_an_admin_finds_a_name_in_the_urls_project(
    cloud: Server, alice: Heat, bob: Heat
) -> None:
    ids = {who: who.create("twin", tmpl(r=rnd())) for who in (alice, bob)}
    for who, sid in ids.items():
        who.wait("twin", sid)
    for status in ("COMPLETE", "CREATE_COMPLETE"):
        found = alice.get("/stacks", params={"status": status}).json()["stacks"]
        assert ids[alice] in {s["id"] for s in found}, status
    assert alice.get("/stacks", params={"status": "FAILED"}).json()["stacks"] == []
    for who in (bob, alice):
        resp = who.http.get(f"{who.base}/stacks/twin", follow_redirects=False,
                            headers={"X-Auth-Token": admin_token(cloud)})  # fmt: skip
        assert resp.status_code == 302
        assert resp.headers["location"] == f"{who.base}/stacks/twin/{ids[who]}"
    for who, sid in ids.items():
        who.request("DELETE", f"/stacks/twin/{sid}")


def test_events_are_paginated_with_marker_and_limit(alice: Heat) -> None:
    sid = alice.create("evts", tmpl(a=rnd(), b=rnd(), c=rnd()))
    alice.wait("evts", sid)
    all_events = alice.get(f"/stacks/evts/{sid}/events").json()["events"]
    assert len(all_events) == 8  # stack and 3 resources, IN_PROGRESS and COMPLETE
    first = alice.get(f"/stacks/evts/{sid}/events", params={"limit": 3}).json()["events"]
    rest = alice.get(f"/stacks/evts/{sid}/events",
                     params={"marker": first[-1]["id"]}).json()["events"]  # fmt: skip
    assert [e["id"] for e in first + rest] == [e["id"] for e in all_events]
    newest = alice.get(f"/stacks/evts/{sid}/events", params={"sort_dir": "desc", "limit": 1})
    assert newest.json()["events"][0]["resource_status"] == "CREATE_COMPLETE"
    assert newest.json()["events"][0]["resource_name"] == "evts"
    of_a = alice.get(f"/stacks/evts/{sid}/resources/a/events").json()["events"]
    assert [e["resource_status"] for e in of_a] == ["CREATE_IN_PROGRESS", "CREATE_COMPLETE"]
    one = alice.get(f"/stacks/evts/{sid}/resources/a/events/{of_a[1]['id']}").json()["event"]
    assert one["resource_type"] == "OS::Heat::RandomString"
    assert one["resource_properties"]["length"] == 4
    alice.request("DELETE", f"/stacks/evts/{sid}")


def test_another_project_cannot_see_or_touch_a_stack(alice: Heat, bob: Heat) -> None:
    sid = alice.create("private", tmpl(r=rnd()))
    alice.wait("private", sid)
    assert bob.get("/stacks").json()["stacks"] == []
    for method, path in (("GET", "/stacks/private"), ("GET", f"/stacks/{sid}"),
                         ("GET", f"/stacks/private/{sid}"), ("DELETE", f"/stacks/private/{sid}"),
                         ("GET", f"/stacks/private/{sid}/resources"),
                         ("PATCH", f"/stacks/private/{sid}")):  # fmt: skip
        resp = bob.request(method, path, json={} if method == "PATCH" else None)
        assert resp.status_code == 404, (method, path, resp.text)
    # bob's token with alice's project in the URL
    resp = bob.http.get(f"{alice.base}/stacks", headers={"X-Auth-Token": bob.token})
    assert resp.status_code == 403 and heat_error(resp)["type"] == "Forbidden"
    assert alice.stack("private", sid)["stack_status"] == "CREATE_COMPLETE"
    alice.request("DELETE", f"/stacks/private/{sid}")


def test_patch_update_keeps_the_template_and_merges_parameters(alice: Heat) -> None:
    t = {"heat_template_version": V,
         "parameters": {"n": {"type": "number", "default": 4}, "salt": {"type": "string"}},
         "resources": {"r": {"type": "OS::Heat::RandomString",
                             "properties": {"length": {"get_param": "n"},
                                            "salt": {"get_param": "salt"}}}},
         "outputs": {"v": {"value": {"get_attr": ["r", "value"]}}}}  # fmt: skip
    sid = alice.create("patched", t, parameters={"salt": "1"})
    before = alice.wait("patched", sid)["outputs"][0]["output_value"]
    resp = alice.request("PATCH", f"/stacks/patched/{sid}", json={"parameters": {"salt": "1"}})
    assert resp.status_code == 202
    same = alice.wait("patched", sid)
    assert same["stack_status"] == "UPDATE_COMPLETE" and same["outputs"][0]["output_value"] == before
    alice.request("PATCH", f"/stacks/patched/{sid}", json={"parameters": {"salt": "2"}})
    changed = alice.wait("patched", sid)
    assert changed["outputs"][0]["output_value"] != before
    assert changed["parameters"]["salt"] == "2" and changed["parameters"]["n"] == "4"
    resp = alice.request("PUT", f"/stacks/patched/{sid}", json={"parameters": {"n": "x"},
                                                                "template": t})  # fmt: skip
    assert resp.status_code == 400 and "not a number" in heat_error(resp)["message"]
    alice.request("DELETE", f"/stacks/patched/{sid}")


def test_preview_template_versions_and_functions(alice: Heat) -> None:
    resp = alice.post("/stacks/preview", json={"stack_name": "pv", "template": tmpl(
        a=rnd(), b={"type": "OS::Heat::Value", "properties": {"value": {"get_resource": "a"}}})})
    assert resp.status_code == 200, resp.text
    res = {r["resource_name"]: r for r in resp.json()["stack"]["resources"]}
    assert res["a"]["required_by"] == ["b"] and res["b"]["resource_type"] == "OS::Heat::Value"
    assert alice.get("/stacks/pv").status_code == 404  # nothing made
    versions = alice.get("/template_versions").json()["template_versions"]
    wallaby = [v for v in versions if v["version"] == "heat_template_version.2021-04-16"]
    assert wallaby[0]["aliases"] == ["heat_template_version.wallaby"]
    fns = alice.get("/template_versions/heat_template_version.2013-05-23/functions").json()
    assert "list_join" not in {f["functions"] for f in fns["template_functions"]}


def test_a_wait_condition_waits_for_its_handles_signals(alice: Heat) -> None:
    t = {"heat_template_version": V, "resources": {
        "handle": {"type": "OS::Heat::WaitConditionHandle"},
        "ready": {"type": "OS::Heat::WaitCondition", "properties": {
            "handle": {"get_resource": "handle"}, "count": 2, "timeout": 120}},
        "after": {**rnd(), "depends_on": "ready"}},
        "outputs": {"data": {"value": {"get_attr": ["ready", "data"]}},
                    "curl": {"value": {"get_attr": ["handle", "curl_cli"]}}}}  # fmt: skip
    sid = alice.create("waiting", t)

    def handle() -> dict[str, Any]:
        resp = alice.get(f"/stacks/waiting/{sid}/resources/handle")
        if resp.status_code == 404:  # the engine has not reached it yet
            return {"resource_status": "INIT_COMPLETE"}
        return resp.json()["resource"]  # type: ignore[no-any-return]

    import time

    deadline = time.monotonic() + 60
    while handle()["resource_status"] != "CREATE_COMPLETE":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    url = handle()["attributes"]["endpoint"]
    assert url.startswith(alice.base + "/signal/")
    assert alice.stack("waiting", sid)["stack_status"] == "CREATE_IN_PROGRESS"
    busy = alice.get("/stacks", params={"status": "IN_PROGRESS"}).json()["stacks"]
    assert [s["id"] for s in busy] == [sid]  # a status alone, not action IN + status PROGRESS
    # the URL is the credential: no token
    assert alice.http.post(url, json={"status": "SUCCESS", "id": "web0", "data": "up"}).status_code == 200
    time.sleep(0.5)
    assert alice.stack("waiting", sid)["stack_status"] == "CREATE_IN_PROGRESS"
    assert alice.http.post(url, json={"id": "web1", "data": "up too"}).status_code == 200
    done = alice.wait("waiting", sid)
    assert done["stack_status"] == "CREATE_COMPLETE"
    outputs = {o["output_key"]: o["output_value"] for o in done["outputs"]}
    assert json.loads(outputs["data"]) == {"web0": "up", "web1": "up too"}
    assert outputs["curl"].startswith("curl -i -X POST") and url in outputs["curl"]
    assert alice.http.post(alice.base + "/signal/not-a-handle", json={}).status_code == 404
    assert alice.http.post(url, json={"status": "MAYBE"}).status_code == 400
    alice.request("DELETE", f"/stacks/waiting/{sid}")


def settled(heat: Heat, name: str, sid: str) -> str:
    """The status once not IN_PROGRESS, polled without a pause, so that the
    next request lands as close to the change as it can."""
    for _ in range(20000):
        status = str(heat.stack(name, sid)["stack_status"])
        if not status.endswith("IN_PROGRESS"):
            return status
    return status


def test_a_stack_just_shown_complete_is_updated_and_deleted_at_once(alice: Heat) -> None:
    """The engine clears a finished task just after writing COMPLETE: an
    update or delete sent the moment the stack shows COMPLETE is taken,
    never a 409 'busy' (the user saw COMPLETE)."""
    for i in range(4):
        name = f"quick{i}"
        sid = alice.create(name, tmpl(a={"type": "OS::Heat::None"}))
        assert settled(alice, name, sid) == "CREATE_COMPLETE"
        resp = alice.request("PATCH", f"/stacks/{name}/{sid}", json={"parameters": {}})
        assert resp.status_code == 202, resp.text
        assert settled(alice, name, sid) == "UPDATE_COMPLETE"
        resp = alice.request("DELETE", f"/stacks/{name}/{sid}")
        assert resp.status_code == 204, resp.text
        assert alice.wait(name, sid)["stack_status"] == "DELETE_COMPLETE"


def test_stack_actions_refuse_bad_bodies_and_busy_stacks_in_heats_format(
    alice: Heat, bob: Heat
) -> None:
    sid = alice.create("acted", tmpl(a=rnd()))
    assert alice.wait("acted", sid)["stack_status"] == "CREATE_COMPLETE"
    url = f"/stacks/acted/{sid}/actions"
    for body, message in (({"suspend": None, "resume": None}, "Multiple actions specified"),
                          ({}, "No action specified")):  # fmt: skip
        resp = alice.post(url, json=body)
        assert resp.status_code == 400 and heat_error(resp)["message"] == message
    resp = alice.post(url, json={"explode": None})
    assert resp.status_code == 400 and heat_error(resp)
    resp = alice.post(url, json={"cancel_update": None})
    assert resp.status_code == 400
    assert heat_error(resp) == {"type": "NotSupported", "traceback": None, "message":
                                "Cancelling update when stack is CREATE_COMPLETE is not allowed."}
    assert bob.post(f"/stacks/acted/{sid}/actions", json={"check": None}).status_code == 404
    resp = alice.request("PATCH", f"/stacks/acted/{sid}/resources/nope",
                         json={"mark_unhealthy": True})  # fmt: skip
    assert resp.status_code == 404 and heat_error(resp)["type"] == "EntityNotFound"
    resp = alice.request("PATCH", f"/stacks/acted/{sid}/resources/a",
                         json={"mark_unhealthy": "yes"})  # fmt: skip
    assert resp.status_code == 400 and heat_error(resp)
    # marked unhealthy and healthy again
    for flag, status in ((True, "CHECK_FAILED"), (False, "CHECK_COMPLETE")):
        resp = alice.request("PATCH", f"/stacks/acted/{sid}/resources/a",
                             json={"mark_unhealthy": flag, "resource_status_reason": "why"})
        assert resp.status_code == 200, resp.text
        shown = alice.get(f"/stacks/acted/{sid}/resources/a").json()["resource"]
        assert shown["resource_status"] == status
    # by the physical id too, as Heat
    pid = alice.get(f"/stacks/acted/{sid}/resources/a").json()["resource"]["physical_resource_id"]
    resp = alice.request("PATCH", f"/stacks/acted/{sid}/resources/{pid}",
                         json={"mark_unhealthy": True, "resource_status_reason": "by id"})
    assert resp.status_code == 200, resp.text
    shown = alice.get(f"/stacks/acted/{sid}/resources/a").json()["resource"]
    assert (shown["resource_status"], shown["resource_status_reason"]) == ("CHECK_FAILED", "by id")
    # by name: redirected to name/id, the body sent again
    resp = alice.http.post(f"{alice.base}/stacks/acted/actions", json={"check": None},
                           headers={"X-Auth-Token": alice.token})  # fmt: skip
    assert resp.status_code == 302 and resp.headers["location"].endswith(url)
    assert alice.post(url, json={"check": None}).status_code == 200
    assert alice.wait("acted", sid)["stack_status"] == "CHECK_COMPLETE"
    alice.request("DELETE", f"/stacks/acted/{sid}")


def test_cancel_update_stops_the_update_and_rolls_back(alice: Heat) -> None:
    import time

    sid = alice.create("cancelled", tmpl(a=rnd()))
    assert alice.wait("cancelled", sid)["stack_status"] == "CREATE_COMPLETE"
    before = alice.get(f"/stacks/cancelled/{sid}/resources/a").json()["resource"]
    waiting = tmpl(a=rnd(), handle={"type": "OS::Heat::WaitConditionHandle"},
                   ready={"type": "OS::Heat::WaitCondition", "properties": {
                       "handle": {"get_resource": "handle"}, "timeout": 300}})  # fmt: skip
    resp = alice.put(f"/stacks/cancelled/{sid}", json={"template": waiting})
    assert resp.status_code == 202, resp.text
    deadline = time.monotonic() + 60
    while alice.get(f"/stacks/cancelled/{sid}/resources/ready").status_code != 200:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    resp = alice.post(f"/stacks/cancelled/{sid}/actions", json={"suspend": None})
    assert resp.status_code == 409 and heat_error(resp)["type"] == "ActionInProgress"
    resp = alice.post(f"/stacks/cancelled/{sid}/actions", json={"cancel_update": None})
    assert resp.status_code == 200, resp.text
    done = alice.wait("cancelled", sid, timeout=60)
    assert done["stack_status"] == "ROLLBACK_COMPLETE", done["stack_status_reason"]
    events = alice.get(f"/stacks/cancelled/{sid}/events").json()["events"]
    mine = [(e["resource_status"], e["resource_status_reason"]) for e in events
            if e["resource_name"] == "cancelled"]  # fmt: skip
    assert ("UPDATE_FAILED", "Stack UPDATE cancelled") in mine
    listed = alice.get(f"/stacks/cancelled/{sid}/resources").json()["resources"]
    assert [r["resource_name"] for r in listed] == ["a"]
    assert listed[0]["physical_resource_id"] == before["physical_resource_id"]
    assert set(alice.get(f"/stacks/cancelled/{sid}/template").json()["resources"]) == {"a"}
    alice.request("DELETE", f"/stacks/cancelled/{sid}")


def test_cancel_without_rollback_stops_a_create_which_fails_as_heats(alice: Heat) -> None:
    import time

    waiting = tmpl(a=rnd(), handle={"type": "OS::Heat::WaitConditionHandle"},
                   ready={"type": "OS::Heat::WaitCondition", "properties": {
                       "handle": {"get_resource": "handle"}, "timeout": 300}})  # fmt: skip
    sid = alice.create("uncreated", waiting)
    url = f"/stacks/uncreated/{sid}"
    deadline = time.monotonic() + 60
    while alice.get(f"{url}/resources/ready").status_code != 200:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    # with a rollback it is refused during a create, as Heat's
    resp = alice.post(f"{url}/actions", json={"cancel_update": None})
    assert resp.status_code == 400 and heat_error(resp)["message"] == (
        "Cancelling update when stack is CREATE_IN_PROGRESS is not allowed.")
    resp = alice.post(f"{url}/actions", json={"cancel_without_rollback": None})
    assert resp.status_code == 200, resp.text
    started = time.monotonic()
    done = alice.wait("uncreated", sid, timeout=60)
    assert time.monotonic() - started < 30  # not the wait condition's 300 s
    assert (done["stack_status"], done["stack_status_reason"]) == (
        "CREATE_FAILED", "Stack CREATE cancelled")
    resources = {r["resource_name"]: r for r in
                 alice.get(f"{url}/resources").json()["resources"]}  # fmt: skip
    assert resources["ready"]["resource_status"] == "CREATE_FAILED"
    assert resources["a"]["resource_status"] == "CREATE_COMPLETE"  # no rollback: it stays
    # a cancel of the failed stack is refused; it can be deleted
    resp = alice.post(f"{url}/actions", json={"cancel_without_rollback": None})
    assert resp.status_code == 400 and heat_error(resp)["type"] == "NotSupported"
    alice.request("DELETE", url)
    assert alice.wait("uncreated", sid)["stack_status"] == "DELETE_COMPLETE"
