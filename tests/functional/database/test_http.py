"""Bad input and other projects, in Trove's error format over raw HTTP:
never a 500, always ``{"<fault>": {"code": N, "message": ...}}``."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import Server
from tests.functional.database.conftest import Trove, osc, osc_json, unique, wait_until
from tests.functional.identity.helpers import user_with_role


@pytest.fixture(scope="module")
def member(cloud: Server) -> Iterator[Trove]:
    _user, project, token = user_with_role(cloud, "member")
    yield Trove(cloud, token, project["id"])


@pytest.fixture(scope="module")
def stranger(cloud: Server) -> Iterator[Trove]:
    _user, project, token = user_with_role(cloud, "member")
    yield Trove(cloud, token, project["id"])


def body(**instance: Any) -> dict[str, Any]:
    base = {"name": unique("db"), "flavorRef": "1", "volume": {"size": 1},
            "datastore": {"type": "postgresql", "version": "15"}}  # fmt: skip
    return {"instance": {**base, **instance}}


def active(api: Trove, instance_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while True:
        shown = api.request("GET", f"/instances/{instance_id}").json()["instance"]
        if shown["status"] in ("ACTIVE", "ERROR") or time.monotonic() > deadline:
            return dict(shown)
        time.sleep(0.1)


@pytest.fixture(scope="module")
def instance(member: Trove) -> dict[str, Any]:
    resp = member.request("POST", "/instances", json=body(databases=[{"name": "app"}]))
    assert resp.status_code == 200, resp.text
    shown = active(member, resp.json()["instance"]["id"])
    assert shown["status"] == "ACTIVE"
    return shown


def test_unknown_datastore_and_version_are_404(member: Trove) -> None:
    resp = member.request("POST", "/instances", json=body(datastore={"type": "oracle"}))
    assert "oracle" in member.fault(resp, 404, "itemNotFound")
    resp = member.request("POST", "/instances",
                          json=body(datastore={"type": "postgresql", "version": "9.6"}))  # fmt: skip
    assert "9.6" in member.fault(resp, 404, "itemNotFound")
    resp = member.request("GET", "/datastores/postgresql/versions/9.6")
    member.fault(resp, 404, "itemNotFound")


def test_unknown_flavor_and_bad_sizes(member: Trove) -> None:
    member.fault(member.request("POST", "/instances", json=body(flavorRef="nope")), 404,
                 "itemNotFound")  # fmt: skip
    member.fault(member.request("POST", "/instances", json=body(volume={"size": 0})), 400,
                 "badRequest")  # fmt: skip
    resp = member.request("POST", "/instances", json=body(volume={"size": 5000}))
    assert "5000" in member.fault(resp, 413, "overLimit")
    member.fault(member.request("POST", "/instances", json=body(volume={"size": "big"})), 400,
                 "badRequest")  # fmt: skip
    member.fault(member.request("POST", "/instances", json=body(volume=None)), 400, "badRequest")


def test_names_the_datastore_forbids(member: Trove) -> None:
    for users in ([{"name": "postgres", "password": "x"}], [{"name": "Bad-Name", "password": "x"}],
                  [{"name": "ok", "password": ""}]):  # fmt: skip
        resp = member.request("POST", "/instances", json=body(users=users))
        member.fault(resp, 400, "badRequest")
    resp = member.request("POST", "/instances", json=body(databases=[{"name": "template1"}]))
    assert "reserved" in member.fault(resp, 400, "badRequest")
    resp = member.request("POST", "/instances", json=body(
        datastore={"type": "mariadb"}, users=[{"name": "root", "password": "x"}]))  # fmt: skip
    assert "reserved" in member.fault(resp, 400, "badRequest")


def test_malformed_bodies(member: Trove) -> None:
    member.fault(member.request("POST", "/instances", json=body(colour="red")), 400, "badRequest")
    member.fault(member.request("POST", "/instances", content=b"{nope"), 400, "badRequest")
    member.fault(member.request("POST", "/instances", json={"instance": None}), 400, "badRequest")
    member.fault(member.request("POST", "/instances", json=body(nics=[{"net-id": "missing"}])),
                 404, "itemNotFound")  # fmt: skip
    member.fault(member.request("POST", "/instances",
                                json=body(access={"is_public": True, "allowed_cidrs": ["x/99"]})),
                 400, "badRequest")  # fmt: skip


def test_accounts_and_actions_on_an_instance(member: Trove, instance: dict[str, Any]) -> None:
    iid = instance["id"]
    resp = member.request(
        "POST", f"/instances/{iid}/databases", json={"databases": [{"name": "app"}]}
    )
    assert "already exists" in member.fault(resp, 400, "badRequest")
    member.fault(member.request("DELETE", f"/instances/{iid}/databases/nothere"), 404,
                 "itemNotFound")  # fmt: skip
    member.fault(member.request("GET", f"/instances/{iid}/users/ghost"), 404, "itemNotFound")
    resp = member.request("POST", f"/instances/{iid}/users",
                          json={"users": [{"name": "a", "password": "p", "colour": 1}]})  # fmt: skip
    member.fault(resp, 400, "badRequest")
    resp = member.request(
        "POST", f"/instances/{iid}/action", json={"resize": {"volume": {"size": 1}}}
    )
    assert "larger" in member.fault(resp, 400, "badRequest")
    resp = member.request("POST", f"/instances/{iid}/action", json={"reboot": {}})
    member.fault(resp, 400, "badRequest")
    member.fault(member.request("GET", "/backups/none"), 404, "itemNotFound")


def test_another_project_sees_nothing(
    member: Trove, stranger: Trove, instance: dict[str, Any]
) -> None:
    iid = instance["id"]
    assert iid not in {i["id"] for i in stranger.request("GET", "/instances").json()["instances"]}
    for method, path in (("GET", f"/instances/{iid}"), ("DELETE", f"/instances/{iid}"),
                         ("GET", f"/instances/{iid}/databases"), ("POST", f"/instances/{iid}/root")):  # fmt: skip
        stranger.fault(stranger.request(method, path), 404, "itemNotFound")
    # Its own project's URL with the other's id in it: refused, not served.
    resp = stranger.http.get(f"{str(member.http.base_url).rstrip('/')}/instances/{iid}",
                             headers={"X-Auth-Token": stranger.token})  # fmt: skip
    assert resp.status_code == 400, resp.text
    assert active(member, iid)["status"] == "ACTIVE"


def test_quota_on_instances(member: Trove, cloud: Server) -> None:
    # 100 GiB of volumes by default: a 101st would pass the largest size first.
    resp = member.request("POST", "/instances", json=body(volume={"size": 100}))
    assert resp.status_code in (200, 413), resp.text
    if resp.status_code == 200:
        again = member.request("POST", "/instances", json=body(volume={"size": 100}))
        assert "volumes" in member.fault(again, 413, "overLimit")
        member.request("DELETE", f"/instances/{resp.json()['instance']['id']}")


def test_quotas_shown_to_the_project_and_set_by_an_admin(cloud: Server) -> None:
    _user, project, token = user_with_role(cloud, "member")
    own = Trove(cloud, token, project["id"])
    admin = Trove(cloud, cloud.admin_token(), project["id"])
    shown = own.request("GET", f"/mgmt/quotas/{project['id']}").json()["quotas"]
    assert {q["resource"]: (q["in_use"], q["limit"]) for q in shown} == {
        "instances": (0, 10), "volumes": (0, 100), "backups": (0, 50)}  # fmt: skip
    # Members may not change their limits, nor see another project's.
    own.fault(own.request("PUT", f"/mgmt/quotas/{project['id']}",
                          json={"quotas": {"instances": 50}}), 403, "forbidden")  # fmt: skip
    other = own.request("GET", f"/mgmt/quotas/{uuid.uuid4().hex}")
    assert other.status_code in (403, 404), other.text
    # Bad input is a 400 in Trove's format.
    for bad in ({"quotas": {"cores": 3}}, {"quotas": {"instances": -2}}, {"quotas": {}},
                {"quotas": {"instances": "3"}}, {"quota": {"instances": 3}}):  # fmt: skip
        admin.fault(admin.request("PUT", f"/mgmt/quotas/{project['id']}", json=bad), 400,
                    "badRequest")  # fmt: skip
    done = admin.request("PUT", f"/mgmt/quotas/{project['id']}",
                         json={"quotas": {"instances": 1, "volumes": 3}})  # fmt: skip
    assert done.status_code == 200 and done.json() == {"quotas": {"instances": 1, "volumes": 3}}
    # The new limits hold: a 4 GiB volume is over, one instance fits, a second does not.
    own.fault(own.request("POST", "/instances", json=body(volume={"size": 4})), 413, "overLimit")
    first = own.request("POST", "/instances", json=body())
    assert first.status_code == 200, first.text
    second = own.request("POST", "/instances", json=body())
    assert "instances" in own.fault(second, 413, "overLimit")
    shown = own.request("GET", f"/mgmt/quotas/{project['id']}").json()["quotas"]
    assert {q["resource"]: (q["in_use"], q["limit"]) for q in shown}["instances"] == (1, 1)
    # The openstack CLI (troveclient) reads and sets them too.
    listed = osc_json(cloud, "database", "quota", "show", project["id"])
    assert {q["Resource"]: q["Limit"] for q in listed}["volumes"] == 3
    osc(cloud, "database", "quota", "update", project["id"], "instances", "-1")
    again = own.request("POST", "/instances", json=body())
    assert again.status_code == 200, again.text
    for resp in (first, again):
        own.request("DELETE", f"/instances/{resp.json()['instance']['id']}")


def test_replicas_follow_their_source_until_detached(
    cloud: Server, member: Trove, stranger: Trove, instance: dict[str, Any]
) -> None:
    """Trove's replica shapes, rules and state transitions (the fake driver
    copies the source's databases; real replication is in the e2e)."""
    net = httpx.post(f"{cloud.url}/network/v2.0/networks", json={"network": {"name": unique("n")}},
                     headers={"X-Auth-Token": member.token}, timeout=30).json()["network"]["id"]  # fmt: skip
    made = member.request("POST", "/instances", json=body(
        databases=[{"name": "app"}], nics=[{"net-id": net}], flavorRef="2"))  # fmt: skip
    source = active(member, made.json()["instance"]["id"])
    sid = source["id"]
    assert source["status"] == "ACTIVE" and "replicas" not in source

    def replica(**fields: Any) -> httpx.Response:
        return member.request("POST", "/instances", json={"instance": {
            "name": unique("r"), "replica_of": sid, "replica_count": 1, **fields}})  # fmt: skip

    missing = member.request("POST", "/instances", json=body(replica_of=str(uuid.uuid4())))
    member.fault(missing, 404, "itemNotFound")
    stranger.fault(stranger.request("POST", "/instances", json=body(replica_of=sid)), 404,
                   "itemNotFound")  # fmt: skip
    assert "mariadb" in member.fault(replica(datastore={"type": "mariadb"}), 400, "badRequest")
    member.fault(replica(databases=[{"name": "x"}]), 400, "badRequest")
    for count in (0, 17, -1):
        assert "Replica count" in member.fault(replica(replica_count=count), 400, "badRequest")
    # The quota counts every replica asked for (10 instances by default).
    assert "instances" in member.fault(replica(replica_count=16), 413, "overLimit")
    no_network = member.request("POST", "/instances", json=body(replica_of=instance["id"]))
    assert "network" in member.fault(no_network, 400, "badRequest")

    # As troveclient sends it: no flavor, no volume; both are the source's.
    created = replica()
    assert created.status_code == 200, created.text
    new = created.json()["instance"]
    rid = new["id"]
    assert new["replica_of"]["id"] == sid and new["replica_of"]["links"]
    assert new["flavor"]["id"] == "2" and new["volume"]["size"] == 1
    assert new["datastore"] == source["datastore"]
    assert active(member, rid)["status"] == "ACTIVE"
    shown = member.request("GET", f"/instances/{sid}").json()["instance"]
    assert [r["id"] for r in shown["replicas"]] == [rid]
    listed = {i["id"]: i for i in member.request("GET", "/instances").json()["instances"]}
    assert listed[rid]["replica_of"]["id"] == sid
    assert [r["id"] for r in listed[sid]["replicas"]] == [rid]

    # replica_count: more replicas at once, each an instance of its own
    # named NAME-1 .. NAME-N (Trove's names); the last one is answered.
    name = unique("rr")
    many = replica(name=name, replica_count=2)
    assert many.status_code == 200, many.text
    assert many.json()["instance"]["name"] == f"{name}-2"
    both = {i["name"]: i["id"] for i in member.request("GET", "/instances").json()["instances"]
            if i["name"].startswith(name)}  # fmt: skip
    assert set(both) == {f"{name}-1", f"{name}-2"} and many.json()["instance"]["id"] in both.values()
    for iid in both.values():
        follower = active(member, iid)
        assert follower["replica_of"]["id"] == sid and follower["volume"]["size"] == 1
    shown = member.request("GET", f"/instances/{sid}").json()["instance"]
    assert {r["id"] for r in shown["replicas"]} == {rid, *both.values()}

    # A replica of a replica is forbidden, a replica takes no writes through
    # the API, and a source with replicas is not deleted.
    again = member.request("POST", "/instances", json=body(replica_of=rid))
    assert "replica of a replica" in member.fault(again, 403, "forbidden")
    resp = member.request("POST", f"/instances/{rid}/databases",
                          json={"databases": [{"name": "more"}]})  # fmt: skip
    assert "replica" in member.fault(resp, 400, "badRequest")
    member.fault(member.request("DELETE", f"/instances/{sid}"), 403, "forbidden")
    resp = member.request("PATCH", f"/instances/{rid}", json={"instance": {"replica_of": sid}})
    member.fault(resp, 400, "badRequest")

    # promote_to_replica_source: the replica becomes the source and its old
    # source follows it; eject_replica_source only for a source that is lost.
    def action(iid: str, name: str) -> httpx.Response:
        return member.request("POST", f"/instances/{iid}/action", json={name: {}})

    assert "not a replica" in member.fault(action(sid, "promote_to_replica_source"), 400,
                                           "badRequest")  # fmt: skip
    assert "reachable" in member.fault(action(sid, "eject_replica_source"), 400, "badRequest")
    assert "not a replica source" in member.fault(action(rid, "eject_replica_source"), 400,
                                                  "badRequest")  # fmt: skip
    stranger.fault(stranger.request("POST", f"/instances/{rid}/action",
                                    json={"promote_to_replica_source": {}}), 404, "itemNotFound")  # fmt: skip
    assert action(rid, "promote_to_replica_source").status_code == 202
    promoted, demoted = active(member, rid), active(member, sid)
    assert promoted["status"] == demoted["status"] == "ACTIVE"
    # The old source and the other replicas follow the promoted one.
    assert "replica_of" not in promoted
    assert {r["id"] for r in promoted["replicas"]} == {sid, *both.values()}
    assert demoted["replica_of"]["id"] == rid and "replicas" not in demoted
    for iid in both.values():
        assert active(member, iid)["replica_of"]["id"] == rid
    sid, rid = rid, sid  # the roles swapped

    # Detached (PATCH replica_of null, as troveclient): standalone, with the
    # databases it copied; the source has no replica left and may go.
    done = member.request("PATCH", f"/instances/{rid}", json={"instance": {"replica_of": None}})
    assert done.status_code == 202, done.text
    detached = active(member, rid)
    assert detached["status"] == "ACTIVE" and "replica_of" not in detached
    dbs = member.request("GET", f"/instances/{rid}/databases").json()["databases"]
    assert [d["name"] for d in dbs] == ["app"]
    left = member.request("GET", f"/instances/{sid}").json()["instance"]["replicas"]
    assert {r["id"] for r in left} == set(both.values())
    resp = member.request("PATCH", f"/instances/{rid}", json={"instance": {"replica_of": None}})
    assert "not a replica" in member.fault(resp, 400, "badRequest")
    for iid in (rid, *both.values(), sid):
        assert member.request("DELETE", f"/instances/{iid}").status_code == 202


def backup_done(api: Trove, backup_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while True:
        shown = api.request("GET", f"/backups/{backup_id}").json()["backup"]
        if shown["status"] in ("COMPLETED", "FAILED") or time.monotonic() > deadline:
            return dict(shown)
        time.sleep(0.1)


def test_incremental_backups_restore_their_chain(
    member: Trove, stranger: Trove, instance: dict[str, Any]
) -> None:
    """incremental: 1 makes a backup on top of the instance's latest one; a
    restore applies the chain (the fake driver's backups name databases);
    deleting a parent deletes its children, as Trove does."""
    made = member.request("POST", "/instances", json=body(databases=[{"name": "one"}]))
    iid = active(member, made.json()["instance"]["id"])["id"]

    def backup(**fields: Any) -> dict[str, Any]:
        resp = member.request("POST", "/backups", json={"backup": {
            "name": unique("b"), "instance": iid, **fields}})  # fmt: skip
        assert resp.status_code == 202, resp.text
        shown = backup_done(member, resp.json()["backup"]["id"])
        assert shown["status"] == "COMPLETED", shown
        assert active(member, iid)["status"] == "ACTIVE"
        return shown

    def databases(instance_id: str, wanted: list[str]) -> list[str]:
        deadline = time.monotonic() + 30
        while True:
            names = [d["name"] for d in member.request(
                "GET", f"/instances/{instance_id}/databases").json()["databases"]]  # fmt: skip
            if sorted(names) == wanted or time.monotonic() > deadline:
                return sorted(names)
            time.sleep(0.1)

    # No backup yet: an incremental one is a full one.
    full = backup(incremental=1)
    assert full["parent_id"] is None
    member.request("POST", f"/instances/{iid}/databases", json={"databases": [{"name": "two"}]})
    assert databases(iid, ["one", "two"]) == ["one", "two"]
    first = backup(incremental=True)
    assert first["parent_id"] == full["id"]
    member.request("DELETE", f"/instances/{iid}/databases/one")
    assert databases(iid, ["two"]) == ["two"]
    second = backup(incremental=1, description="after one went")
    assert second["parent_id"] == first["id"]
    # A parent given by id must be a completed backup of the same instance.
    resp = member.request("POST", "/backups", json={"backup": {
        "name": "x", "instance": iid, "parent_id": instance["id"]}})  # fmt: skip
    member.fault(resp, 404, "itemNotFound")
    other = backup_done(member, member.request("POST", "/backups", json={"backup": {
        "name": unique("b"), "instance": instance["id"]}}).json()["backup"]["id"])  # fmt: skip
    resp = member.request("POST", "/backups", json={"backup": {
        "name": "x", "instance": iid, "parent_id": other["id"]}})  # fmt: skip
    assert other["id"] in member.fault(resp, 400, "badRequest")
    stranger.fault(stranger.request("GET", f"/backups/{second['id']}"), 404, "itemNotFound")

    # Restored from the last one: the full backup and both increments applied.
    restored = member.request("POST", "/instances", json=body(
        restorePoint={"backupRef": second["id"]}))  # fmt: skip
    rid = active(member, restored.json()["instance"]["id"])["id"]
    assert databases(rid, ["two"]) == ["two"]
    # Deleting the middle one takes the last with it, and keeps the full one.
    assert member.request("DELETE", f"/backups/{first['id']}").status_code == 202
    resp = member.request("POST", "/instances", json=body(restorePoint={"backupRef": second["id"]}))
    assert resp.status_code in (400, 404), resp.text
    deadline = time.monotonic() + 30
    while {b["id"] for b in member.request("GET", f"/instances/{iid}/backups").json()["backups"]} \
            != {full["id"]}:  # fmt: skip
        assert time.monotonic() < deadline, "the children of a deleted backup stayed"
        time.sleep(0.1)
    for gone in (first, second):
        member.fault(member.request("GET", f"/backups/{gone['id']}"), 404, "itemNotFound")
    for resp_id in (rid, iid):
        assert member.request("DELETE", f"/instances/{resp_id}").status_code == 202
    member.request("DELETE", f"/backups/{other['id']}")


def test_backups_are_segments_and_a_manifest(
    cloud: Server, member: Trove, instance: dict[str, Any]
) -> None:
    """A backup is streamed into the object store as segments of [dbaas]
    backup_segment_size (64 KiB here) and a static large object manifest at
    its name; a restore reads it whole; deleting it deletes the segments."""
    admin = {"X-Auth-Token": cloud.admin_token()}
    projects = httpx.get(f"{cloud.auth_url}/projects", params={"name": "service"}, headers=admin)
    swift = httpx.Client(base_url=f"{cloud.url}/v1/AUTH_{projects.json()['projects'][0]['id']}",
                         headers=admin, timeout=30)  # fmt: skip
    made = member.request("POST", "/backups", json={"backup": {
        "name": unique("b"), "instance": instance["id"]}})  # fmt: skip
    assert made.status_code == 202, made.text
    shown = backup_done(member, made.json()["backup"]["id"])
    assert shown["status"] == "COMPLETED", shown
    name = f"{shown['id']}.tar"

    raw = swift.get(f"/database_backups/{name}", params={"multipart-manifest": "get"})
    assert raw.status_code == 200 and raw.headers["x-static-large-object"] == "True", raw.text
    manifest = raw.json()
    listed = swift.get("/database_backups_segments",
                       params={"format": "json", "prefix": f"{name}/"}).json()  # fmt: skip
    assert [s["name"] for s in manifest] == [
        f"/database_backups_segments/{o['name']}" for o in listed]  # fmt: skip
    assert len(manifest) >= 3, manifest
    assert {s["bytes"] for s in manifest[:-1]} == {64 * 1024} and 0 < manifest[-1]["bytes"] <= 64 * 1024
    assert [s["hash"] for s in manifest] == [o["hash"] for o in listed]
    whole = swift.get(f"/database_backups/{name}")
    assert whole.status_code == 200 and len(whole.content) == sum(s["bytes"] for s in manifest)
    assert round(len(whole.content) / 2**30, 6) == shown["size"]
    assert "app" in json.loads(whole.content)["databases"]

    restored = member.request("POST", "/instances", json=body(
        restorePoint={"backupRef": shown["id"]}))  # fmt: skip
    rid = active(member, restored.json()["instance"]["id"])
    assert rid["status"] == "ACTIVE", rid
    deadline = time.monotonic() + 30
    while "app" not in {d["name"] for d in member.request(
            "GET", f"/instances/{rid['id']}/databases").json()["databases"]}:  # fmt: skip
        assert time.monotonic() < deadline, "the restored instance lacks the backup's database"
        time.sleep(0.1)

    assert member.request("DELETE", f"/backups/{shown['id']}").status_code == 202
    wait_until("the backup deleted",
               lambda: member.request("GET", f"/backups/{shown['id']}").status_code == 404)  # fmt: skip
    assert swift.get(f"/database_backups/{name}").status_code == 404
    left = swift.get("/database_backups_segments", params={"format": "json", "prefix": f"{name}/"})
    assert left.status_code == 200 and left.json() == []
    assert member.request("DELETE", f"/instances/{rid['id']}").status_code == 202
    swift.close()


def test_logs_enabled_published_and_discarded(
    cloud: Server, member: Trove, stranger: Trove, instance: dict[str, Any]
) -> None:
    """Trove's guest logs: a USER log is off until enabled; publishing
    copies what is new in it to the object store, discarding forgets it."""
    iid = instance["id"]

    def act(**fields: Any) -> httpx.Response:
        return member.request("POST", f"/instances/{iid}/log", json=fields)

    listed = member.request("GET", f"/instances/{iid}/log").json()["logs"]
    assert listed == [{"name": "general", "type": "USER", "status": "Disabled", "published": 0,
                       "pending": 0, "container": "database_logs",
                       "prefix": f"{iid}/postgresql-general/",
                       "metafile": f"{iid}/postgresql-general_metafile"}]  # fmt: skip
    assert "enable" in member.fault(act(name="general", publish=1), 400, "badRequest")
    member.fault(act(name="nope", publish=1), 404, "itemNotFound")
    member.fault(act(name="general", enable=1, disable=1), 400, "badRequest")
    member.fault(act(name="general", colour=1), 400, "badRequest")
    stranger.fault(stranger.request("GET", f"/instances/{iid}/log"), 404, "itemNotFound")
    # As troveclient's `database log set --enable` sends it.
    shown = osc_json(cloud, "database", "log", "set", iid, "general", "--enable")
    assert shown["status"] == "Enabled" and shown["published"] == 0
    # A statement is logged now (the fake server writes it), then published.
    member.request("POST", f"/instances/{iid}/databases", json={"databases": [{"name": "logged"}]})
    deadline = time.monotonic() + 30
    while (shown := act(name="general").json()["log"])["pending"] == 0:
        assert time.monotonic() < deadline, shown
        time.sleep(0.1)
    published = act(name="general", publish=1)
    assert published.status_code == 200, published.text
    log = published.json()["log"]
    assert log["status"] == "Published" and log["published"] > 0 and log["pending"] == 0
    discarded = act(name="general", discard=1, disable=1).json()["log"]
    assert discarded["published"] == 0 and discarded["status"] == "Disabled"

    # MariaDB's: its error log (SYS) is always on; USER ones start off.
    made = member.request("POST", "/instances", json=body(datastore={"type": "mariadb"}))
    mid = active(member, made.json()["instance"]["id"])["id"]
    rows = osc_json(cloud, "database", "log", "list", mid)
    assert {(r["Name"], r["Type"], r["Status"]) for r in rows} == {
        ("error", "SYS", "Ready"), ("general", "USER", "Disabled"),
        ("slow_query", "USER", "Disabled")}  # fmt: skip
    resp = member.request("POST", f"/instances/{mid}/log", json={"name": "error", "enable": 1})
    assert "SYS" in member.fault(resp, 400, "badRequest")
    resp = member.request("POST", f"/instances/{mid}/log", json={"name": "error", "publish": 1})
    assert resp.json()["log"]["status"] == "Published", resp.text
    assert member.request("DELETE", f"/instances/{mid}").status_code == 202


def test_network_quota_refuses_creates_up_front(cloud: Server) -> None:
    """Each instance on a network takes a security group, a port and (when
    public) a floating IP in the project: a create the project's network
    quota can't hold is a 413 at once, and nothing of it is stored."""
    _user, project, token = user_with_role(cloud, "member")
    pid = project["id"]
    own = Trove(cloud, token, pid)
    neutron = f"{cloud.url}/network/v2.0"

    def network(method: str, path: str, tok: str = token, **kw: Any) -> Any:
        resp = httpx.request(method, f"{neutron}{path}", headers={"X-Auth-Token": tok},
                             timeout=30, **kw)  # fmt: skip
        assert resp.status_code < 300, resp.text
        return resp.json() if resp.content else None

    def limit(**values: int) -> None:
        network("PUT", f"/quotas/{pid}", cloud.admin_token(), json={"quota": values})

    net = network("POST", "/networks", json={"network": {"name": unique("n")}})["network"]["id"]
    network("GET", "/security-groups")  # the project's default group: one of the quota
    limit(security_group=2)
    first = own.request("POST", "/instances", json=body(nics=[{"net-id": net}]))
    assert first.status_code == 200, first.text
    sid = first.json()["instance"]["id"]
    assert active(own, sid)["status"] == "ACTIVE"
    network("POST", "/security-groups", json={"security_group": {"name": "mine"}})

    refused = unique("full")
    resp = own.request("POST", "/instances", json=body(name=refused, nics=[{"net-id": net}]))
    assert "security_group" in own.fault(resp, 413, "overLimit")
    resp = own.request("POST", "/instances", json={"instance": {
        "name": refused, "replica_of": sid, "replica_count": 1}})  # fmt: skip
    assert "security_group" in own.fault(resp, 413, "overLimit")
    limit(security_group=10, floatingip=0)
    resp = own.request("POST", "/instances", json=body(
        name=refused, nics=[{"net-id": net}], access={"is_public": True}))  # fmt: skip
    assert "floatingip" in own.fault(resp, 413, "overLimit")
    # Room for two more groups: three replicas at once are refused, two fit.
    limit(security_group=4)
    resp = own.request("POST", "/instances", json={"instance": {
        "name": refused, "replica_of": sid, "replica_count": 3}})  # fmt: skip
    assert "security_group" in own.fault(resp, 413, "overLimit")
    made = own.request("POST", "/instances", json={"instance": {
        "name": "two", "replica_of": sid, "replica_count": 2}})  # fmt: skip
    assert made.status_code == 200, made.text

    listed = {i["name"]: i["id"] for i in own.request("GET", "/instances").json()["instances"]}
    assert set(listed) == {first.json()["instance"]["name"], "two-1", "two-2"}
    shown = own.request("GET", f"/mgmt/quotas/{pid}").json()["quotas"]
    assert {q["resource"]: q["in_use"] for q in shown}["instances"] == 3
    for name in ("two-1", "two-2"):
        assert active(own, listed[name])["status"] == "ACTIVE"
        own.request("DELETE", f"/instances/{listed[name]}")
    wait_until("the replicas gone", lambda: len(own.request("GET", "/instances").json()["instances"]) == 1)
    own.request("DELETE", f"/instances/{sid}")
