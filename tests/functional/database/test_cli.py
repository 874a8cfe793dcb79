"""The `openstack database ...` commands a user runs (python-troveclient's
plugin), against the database agent's fake driver."""

from __future__ import annotations

import time

from tests.conftest import Server
from tests.functional.database.conftest import (
    Trove,
    osc,
    osc_json,
    unique,
    wait_status,
    wait_until,
)


def test_datastores_show_the_installed_versions(cloud: Server) -> None:
    names = {d["Name"] for d in osc_json(cloud, "datastore", "list")}
    assert names == {"postgresql", "mariadb"}
    versions = osc_json(cloud, "datastore", "version", "list", "postgresql")
    assert [v["Name"] for v in versions] == ["15"]
    assert [v["Name"] for v in osc_json(cloud, "datastore", "version", "list", "mariadb")] == [
        "10.11"
    ]
    params = osc_json(cloud, "database", "configuration", "parameter", "list", "--datastore",
                      "postgresql", "15")  # fmt: skip
    assert "max_connections" in {p["Name"] for p in params}


def test_instance_lifecycle_with_databases_users_and_root(cloud: Server) -> None:
    net = osc_json(cloud, "network", "create", unique("net"))["id"]
    name = unique("db")
    created = osc_json(
        cloud, "database", "instance", "create", name, "--flavor", "m1.small", "--size", "1",
        "--datastore", "postgresql", "--datastore-version", "15", "--databases", "app",
        "--users", "app:secret", "--nic", f"net-id={net}", "--is-public",
    )  # fmt: skip
    assert created["status"] == "BUILD" and created["datastore"] == "postgresql"
    shown = wait_status(cloud, name)
    assert shown["status"] == "ACTIVE", shown
    assert shown["public"] is True and shown["volume"] == 1 and shown["flavor"] == "2"
    kinds = {a["type"] for a in shown["addresses"]}
    assert kinds == {"private", "public"}, shown["addresses"]
    listed = {i["Name"]: i for i in osc_json(cloud, "database", "instance", "list")}
    assert listed[name]["Status"] == "ACTIVE"

    assert [d["Name"] for d in osc_json(cloud, "database", "db", "list", name)] == ["app"]
    osc(cloud, "database", "db", "create", name, "second")
    wait_until("the second database", lambda: {d["Name"] for d in osc_json(
        cloud, "database", "db", "list", name)} == {"app", "second"})  # fmt: skip
    osc(cloud, "database", "user", "create", name, "bob", "bobpw", "--databases", "second")
    users = {u["Name"]: u for u in osc_json(cloud, "database", "user", "list", name)}
    assert set(users) == {"app", "bob"} and users["bob"]["Databases"] == "second"
    osc(cloud, "database", "user", "grant", "access", name, "bob", "app")
    access = osc_json(cloud, "database", "user", "show", "access", name, "bob")
    assert {a["Name"] for a in access} == {"app", "second"}
    osc(cloud, "database", "user", "revoke", "access", name, "bob", "app")
    osc(cloud, "database", "user", "delete", name, "bob")
    osc(cloud, "database", "db", "delete", name, "second")
    wait_until("bob and second gone", lambda: (
        {u["Name"] for u in osc_json(cloud, "database", "user", "list", name)} == {"app"}
        and {d["Name"] for d in osc_json(cloud, "database", "db", "list", name)} == {"app"}
    ))  # fmt: skip

    assert osc_json(cloud, "database", "root", "show", name)["is_root_enabled"] is False
    root = osc_json(cloud, "database", "root", "enable", name)
    assert root["name"] == "postgres" and len(root["password"]) >= 16
    assert osc_json(cloud, "database", "root", "show", name)["is_root_enabled"] is True

    osc(cloud, "database", "instance", "restart", name)
    assert wait_status(cloud, name)["status"] == "ACTIVE"
    osc(cloud, "database", "instance", "resize", "flavor", name, "m1.medium")
    wait_until("resized", lambda: wait_status(cloud, name)["flavor"] == "3")
    osc(cloud, "database", "instance", "resize", "volume", name, "2")
    wait_until("grown", lambda: wait_status(cloud, name)["volume"] == 2)

    # A replica by troveclient (no flavor: its source's), then detached.
    api = Trove(cloud, cloud.admin_token(), shown["tenant_id"])
    replica = osc_json(cloud, "database", "instance", "create", unique("r"), "--replica-of", name)
    assert replica["replica_of"] == shown["id"] and replica["flavor"] == "3", replica
    assert http_status(api, replica["id"]) == "ACTIVE"
    # Promoted to replica source: the old source follows it; eject is only
    # for a source that is lost (this one answers, so troveclient shows the 400).
    osc(cloud, "database", "instance", "promote", replica["id"])
    assert http_status(api, shown["id"]) == "ACTIVE"
    demoted = api.request("GET", f"/instances/{shown['id']}").json()["instance"]
    assert demoted["replica_of"]["id"] == replica["id"], demoted
    ejected = osc(cloud, "database", "instance", "eject", replica["id"], check=False)
    assert ejected.returncode != 0 and "reachable" in ejected.stderr, ejected.stderr
    osc(cloud, "database", "instance", "detach", name)
    assert http_status(api, shown["id"]) == "ACTIVE"
    assert "replica_of" not in api.request("GET", f"/instances/{shown['id']}").json()["instance"]
    api.request("DELETE", f"/instances/{replica['id']}")

    osc(cloud, "database", "instance", "delete", name)
    wait_until("deleted", lambda: osc(cloud, "database", "instance", "show", name,
                                      check=False).returncode != 0)  # fmt: skip


def http_status(api: Trove, instance_id: str) -> str:
    """The instance's status once it settled (or stopped changing for 60 s)."""
    deadline = time.monotonic() + 60
    while True:
        status = str(api.request("GET", f"/instances/{instance_id}").json()["instance"]["status"])
        if status in ("ACTIVE", "ERROR") or time.monotonic() > deadline:
            return status
        time.sleep(0.1)


def test_backup_and_restore_into_a_new_instance(cloud: Server) -> None:
    name = unique("db")
    osc(cloud, "database", "instance", "create", name, "--flavor", "m1.tiny", "--size", "1",
        "--datastore", "mariadb", "--databases", "kept")  # fmt: skip
    assert wait_status(cloud, name)["status"] == "ACTIVE"
    backup = osc_json(cloud, "database", "backup", "create", unique("b"), "-i", name)
    wait_until("backup completed", lambda: osc_json(
        cloud, "database", "backup", "show", backup["id"])["status"] == "COMPLETED")  # fmt: skip
    assert wait_status(cloud, name)["status"] == "ACTIVE"
    # --incremental: on top of the instance's latest backup.
    child = osc_json(cloud, "database", "backup", "create", unique("b"), "-i", name,
                     "--incremental")  # fmt: skip
    assert child["parent_id"] == backup["id"]
    assert wait_status(cloud, name)["status"] == "ACTIVE"
    listed = osc_json(cloud, "database", "backup", "list")
    assert backup["id"] in {b["ID"] for b in listed}
    restored = unique("r")
    osc(cloud, "database", "instance", "create", restored, "--flavor", "m1.tiny", "--size", "1",
        "--backup", child["id"])  # fmt: skip
    shown = wait_status(cloud, restored)
    assert shown["status"] == "ACTIVE" and shown["datastore"] == "mariadb"
    assert [d["Name"] for d in osc_json(cloud, "database", "db", "list", restored)] == ["kept"]
    # Deleting the full backup deletes the incremental one on top of it.
    osc(cloud, "database", "backup", "delete", backup["id"])
    wait_until("backups deleted", lambda: not {backup["id"], child["id"]} & {
        b["ID"] for b in osc_json(cloud, "database", "backup", "list")})  # fmt: skip
    for inst in (name, restored):
        osc(cloud, "database", "instance", "delete", inst)


def test_configuration_groups(cloud: Server) -> None:
    bad = osc(cloud, "database", "configuration", "create", unique("c"),
              '{"max_connections": "many"}', "--datastore", "postgresql", check=False)  # fmt: skip
    assert bad.returncode != 0 and "integer" in bad.stderr
    group = osc_json(cloud, "database", "configuration", "create", unique("c"),
                     '{"max_connections": 50}', "--datastore", "postgresql")  # fmt: skip
    assert group["values"] == {"max_connections": 50} or "50" in str(group["values"])
    name = unique("db")
    osc(cloud, "database", "instance", "create", name, "--flavor", "m1.tiny", "--size", "1",
        "--datastore", "postgresql")  # fmt: skip
    assert wait_status(cloud, name)["status"] == "ACTIVE"
    osc(cloud, "database", "configuration", "attach", name, group["id"])
    shown = wait_status(cloud, name)
    assert shown["status"] == "ACTIVE" and shown.get("configuration") == group["id"], shown
    attached = osc_json(cloud, "database", "configuration", "instances", group["id"])
    assert [i["Name"] for i in attached] == [name]
    refused = osc(cloud, "database", "configuration", "delete", group["id"], check=False)
    assert refused.returncode != 0 and "detach" in refused.stderr
    osc(cloud, "database", "configuration", "detach", name)
    wait_until("detached", lambda: not osc_json(
        cloud, "database", "configuration", "instances", group["id"]))  # fmt: skip
    assert wait_status(cloud, name)["status"] == "ACTIVE"
    osc(cloud, "database", "configuration", "delete", group["id"])
    osc(cloud, "database", "instance", "delete", name)
