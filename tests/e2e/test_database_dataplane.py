"""Real database servers on a real network (root): a PostgreSQL and a
MariaDB instance on a tenant network reach ACTIVE; from a namespace plugged
into the same network (a namespace port, as a server on it would be),
``psql`` and ``mysql`` log in as the created users and create tables; a new
user, a new database and root log in too; a killed server comes back by
itself; two replicas of each made by one create follow their source, one
promoted leads the others (MariaDB's from their GTID positions, no new
copy), ejected when lost; a full and an incremental backup restored into
a new instance have the backups' rows and not the later ones; deleting leaves nothing on the host.  One cloud, shared."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import clirun
from tests.conftest import BIN, Server, start_cloud, start_server, stop_cloud

ROOT = os.geteuid() == 0
TOOLS = all(shutil.which(t) for t in ("psql", "mysql", "mariadbd", "mariadb-backup", "losetup"))
pytestmark = [
    pytest.mark.skipif(not ROOT, reason="database servers in namespaces need root"),
    pytest.mark.skipif(not TOOLS, reason="PostgreSQL and MariaDB clients and servers are needed"),
]
TAG = f"sdbt{os.getpid() % 100000}"  # names this test makes on the host
CLIENT_NS = f"{TAG}-cli"
BUILD_TIMEOUT = 240.0


def osc(cloud: Server, *args: str) -> Any:
    result = clirun.run([str(BIN / "openstack"), *args, "-f", "json"], env=cloud.env(),
                            capture_output=True, text=True, timeout=120)  # fmt: skip
    assert result.returncode == 0, f"openstack {' '.join(args)}:\n{result.stderr}"
    return json.loads(result.stdout) if result.stdout.strip() else None


def osc_plain(cloud: Server, *args: str) -> None:
    result = clirun.run([str(BIN / "openstack"), *args], env=cloud.env(),
                            capture_output=True, text=True, timeout=120)  # fmt: skip
    assert result.returncode == 0, f"openstack {' '.join(args)}:\n{result.stderr}"


def wait_for(what: str, check: Any, timeout: float = BUILD_TIMEOUT) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"{what}: not in {timeout:.0f} s"
        time.sleep(0.5)


def settled(cloud: Server, name: str) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        shown = osc(cloud, "database", "instance", "show", name)
        return shown if shown["status"] in ("ACTIVE", "ERROR") else None

    return dict(wait_for(f"{name} settled", check))


def active(cloud: Server, name: str) -> dict[str, Any]:
    shown = settled(cloud, name)
    assert shown["status"] == "ACTIVE", shown
    return shown


def private_address(shown: dict[str, Any]) -> str:
    return next(a["address"] for a in shown["addresses"] if a["type"] == "private")


def psql(host: str, user: str, password: str, db: str, sql: str) -> str:
    return subprocess.run(
        ["ip", "netns", "exec", CLIENT_NS, "psql", "-h", host, "-U", user, "-d", db, "-tA",
         "-v", "ON_ERROR_STOP=1", "-c", sql],
        env={**os.environ, "PGPASSWORD": password, "PGCONNECT_TIMEOUT": "5"},
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout.strip()  # fmt: skip


def mysql(host: str, user: str, password: str, db: str, sql: str) -> str:
    return subprocess.run(
        ["ip", "netns", "exec", CLIENT_NS, "mysql", "-h", host, "-u", user, db, "-N", "-B",
         "--connect-timeout=5", "-e", sql],
        env={**os.environ, "MYSQL_PWD": password},
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout.strip()  # fmt: skip


CLOUD_ENV = {
    "STRATUS_NETWORK__DRIVER": "linux",
    "STRATUS_NETWORK__HOST_NAMESPACE": f"{TAG}-h",
    "STRATUS_COMPUTE__DRIVER": "fake",
    "STRATUS_DBAAS__HOST": TAG,
    "STRATUS_COMPUTE__HOST": TAG,
    # Each instance has a security group of the project's: 12 instances here.
    "STRATUS_NETWORK__QUOTA_SECURITY_GROUP": "20",
}


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_cloud(tmp_path_factory.mktemp("database-e2e"), "sqlite", **CLOUD_ENV)
    try:
        yield srv
    finally:
        # Whatever a failed test left: deleted through the API, so that no
        # server, mount or volume outlives the module.
        try:
            # Replicas first: a source with replicas is not deleted.
            for inst in sorted(osc(srv, "database", "instance", "list"),
                               key=lambda i: i.get("Role") != "replica"):  # fmt: skip
                osc_plain(srv, "database", "instance", "delete", inst["ID"])
            wait_for("instances deleted", lambda: not osc(srv, "database", "instance", "list"), 120)
            # The network too: a stopped cloud keeps its DHCP servers running.
            clirun.run([str(BIN / "openstack"), "port", "delete", f"{TAG}-client"],
                           env=srv.env(), capture_output=True, check=False)  # fmt: skip
            for args in (
                ("router", "remove", "subnet", f"{TAG}-r", f"{TAG}-sub"),
                ("router", "unset", "--external-gateway", f"{TAG}-r"),
                ("router", "delete", f"{TAG}-r"),
                ("network", "delete", f"{TAG}-net"),
            ):
                clirun.run([str(BIN / "openstack"), *args], env=srv.env(),
                               capture_output=True, check=False)  # fmt: skip
            wait_for("the DHCP server gone", lambda: subprocess.run(
                ["pgrep", "-f", f"dnsmasq.*{srv.data_dir}"], capture_output=True,
            ).returncode != 0, 60)  # fmt: skip
        finally:
            stop_cloud(srv)
        for ns in subprocess.run(
            ["ip", "netns", "list"], capture_output=True, text=True
        ).stdout.split("\n"):
            name = ns.split(" ")[0]
            if name.startswith(f"{TAG}-"):
                subprocess.run(["ip", "netns", "delete", name], check=False)


@pytest.fixture(scope="module")
def network(cloud: Server) -> Iterator[str]:
    net = osc(cloud, "network", "create", f"{TAG}-net")["id"]
    osc(cloud, "subnet", "create", f"{TAG}-sub", "--network", net, "--subnet-range", "10.93.0.0/24")
    # A router to the external network: floating IPs reach the instances.
    osc(cloud, "router", "create", f"{TAG}-r")
    osc_plain(cloud, "router", "set", f"{TAG}-r", "--external-gateway", "public")
    osc_plain(cloud, "router", "add", "subnet", f"{TAG}-r", f"{TAG}-sub")
    subprocess.run(["ip", "netns", "add", CLIENT_NS], check=True)
    port = osc(cloud, "port", "create", f"{TAG}-client", "--network", net, "--host", TAG,
               "--binding-profile", f"netns={CLIENT_NS}")  # fmt: skip
    address = port["fixed_ips"][0]["ip_address"]
    wait_for("the client's address", lambda: f" {address}/" in subprocess.run(
        ["ip", "-n", CLIENT_NS, "-o", "addr"], capture_output=True, text=True).stdout, 60)  # fmt: skip
    yield net


@pytest.fixture(scope="module")
def instances(cloud: Server, network: str) -> dict[str, dict[str, Any]]:
    """One PostgreSQL and one MariaDB instance, made at once, both public;
    MariaDB only from the tenant network's range."""
    for name, store, extra in (("pg1", "postgresql", []),
                               ("my1", "mariadb", ["--allowed-cidr", "10.93.0.0/24"])):  # fmt: skip
        osc(cloud, "database", "instance", "create", f"{TAG}{name}", "--flavor", "m1.small",
            "--size", "1", "--datastore", store, "--databases", "app", "--users", "app:s3cret",
            "--nic", f"net-id={network}", "--is-public", *extra)  # fmt: skip
    return {name: active(cloud, f"{TAG}{name}") for name in ("pg1", "my1")}


def test_users_log_in_and_make_tables(cloud: Server, instances: dict[str, dict[str, Any]]) -> None:
    pg, my = private_address(instances["pg1"]), private_address(instances["my1"])
    psql(pg, "app", "s3cret", "app", "CREATE TABLE t (x int); INSERT INTO t VALUES (1), (2)")
    assert psql(pg, "app", "s3cret", "app", "SELECT sum(x) FROM t") == "3"
    mysql(my, "app", "s3cret", "app", "CREATE TABLE t (x int); INSERT INTO t VALUES (1), (2)")
    assert mysql(my, "app", "s3cret", "app", "SELECT sum(x) FROM t") == "3"
    with pytest.raises(subprocess.CalledProcessError):
        psql(pg, "app", "wrong", "app", "SELECT 1")
    # The server runs as its own user, in its own cgroup with the flavor's memory.
    log = cloud.log.read_text()
    assert "s3cret" not in log, "a password was logged"


def public_address(shown: dict[str, Any]) -> str:
    return next(a["address"] for a in shown["addresses"] if a["type"] == "public")


def in_host_namespace(*argv: str, **env: str) -> subprocess.CompletedProcess[str]:
    """A client on the host: in the namespace holding this cloud's bridges
    (``[network] host_namespace``), where the external network's gateway is."""
    return subprocess.run(["ip", "netns", "exec", f"{TAG}-h", *argv], capture_output=True,
                          text=True, env={**os.environ, **env}, timeout=60, check=False)  # fmt: skip


def test_public_addresses_and_allowed_ranges(instances: dict[str, dict[str, Any]]) -> None:
    pg_public = public_address(instances["pg1"])
    done = in_host_namespace("psql", "-h", pg_public, "-U", "app", "-d", "app", "-tAc",
                             "SELECT sum(x) FROM t", PGPASSWORD="s3cret",
                             PGCONNECT_TIMEOUT="5")  # fmt: skip
    assert done.returncode == 0 and done.stdout.strip() == "3", done.stderr
    my_public = public_address(instances["my1"])
    refused = in_host_namespace("mysql", "-h", my_public, "-u", "app", "app", "-N", "-e",
                                "SELECT 1", "--connect-timeout=3", MYSQL_PWD="s3cret")  # fmt: skip
    assert refused.returncode != 0, "MariaDB answered from outside its allowed range"
    my = private_address(instances["my1"])
    assert mysql(my, "app", "s3cret", "app", "SELECT 1") == "1"


def test_new_users_databases_and_root(cloud: Server, instances: dict[str, dict[str, Any]]) -> None:
    pg, my = private_address(instances["pg1"]), private_address(instances["my1"])
    # The general logs on: the statements below are in them (the agent's own,
    # with passwords, are not), published into the project's object store.
    for name in ("pg1", "my1"):
        assert osc(cloud, "database", "log", "set", f"{TAG}{name}", "general",
                   "--enable")["status"] == "Enabled"  # fmt: skip
    for name in ("pg1", "my1"):
        osc_plain(cloud, "database", "db", "create", f"{TAG}{name}", "extra")
        osc_plain(cloud, "database", "user", "create", f"{TAG}{name}", "bob", "b0bpw",
                  "--databases", "extra")  # fmt: skip
    wait_for("bob on PostgreSQL", lambda: _works(lambda: psql(pg, "bob", "b0bpw", "extra",
                                                              "CREATE TABLE b (y int)")))  # fmt: skip
    wait_for("bob on MariaDB", lambda: _works(lambda: mysql(my, "bob", "b0bpw", "extra",
                                                            "CREATE TABLE b (y int)")))  # fmt: skip
    for name in ("pg1", "my1"):
        published = osc(cloud, "database", "log", "set", f"{TAG}{name}", "general", "--publish")
        assert published["status"] == "Published" and published["published"] > 0, published
        tail = clirun.run([str(BIN / "openstack"), "database", "log", "tail", f"{TAG}{name}",
                           "general", "--lines", "500"], env=cloud.env(), capture_output=True,
                          text=True, timeout=120)  # fmt: skip
        assert "CREATE TABLE b" in tail.stdout, tail.stdout + tail.stderr
        assert "b0bpw" not in tail.stdout, "a password was logged"
    root = osc(cloud, "database", "root", "enable", f"{TAG}pg1")
    assert root["name"] == "postgres"
    wait_for("root on PostgreSQL", lambda: _works(
        lambda: psql(pg, "postgres", root["password"], "app", "SELECT 1")))  # fmt: skip
    root = osc(cloud, "database", "root", "enable", f"{TAG}my1")
    wait_for("root on MariaDB", lambda: _works(
        lambda: mysql(my, "root", root["password"], "app", "SELECT 1")))  # fmt: skip


def test_replicas_follow_promote_eject_and_detach(
    cloud: Server, instances: dict[str, dict[str, Any]]
) -> None:
    """Two replicas of each made by one create (PostgreSQL streaming,
    MariaDB GTID replication): a row written on the source is read on both,
    they refuse writes; one promoted to replica source takes writes and the
    old source and the other replica follow it; that source lost and
    ejected, one of the two left takes writes and the other follows it;
    once detached, both take writes apart."""
    pg, my = private_address(instances["pg1"]), private_address(instances["my1"])
    psql(pg, "app", "s3cret", "app", "CREATE TABLE rep (x int)")
    mysql(my, "app", "s3cret", "app", "CREATE TABLE rep (x int)")
    for name in ("pg1", "my1"):
        osc(cloud, "database", "instance", "create", f"{TAG}{name}rep", "--replica-of",
            f"{TAG}{name}", "--replica-count", "2")  # fmt: skip
    shown = {f"{n}rep-{k}": active(cloud, f"{TAG}{n}rep-{k}")
             for n in ("pg1", "my1") for k in (1, 2)}  # fmt: skip
    assert all(s["replica_of"] == instances[n[:3]]["id"] for n, s in shown.items()), shown
    # The replication password the agent made: in the replica's settings, never in the log.
    conf = next(Path("/run/stratus-database").glob(
        f"*/{shown['pg1rep-1']['id']}/volume/data/postgresql.auto.conf")).read_text()  # fmt: skip
    password = conf.split("password=", 1)[1].split()[0].strip("'")
    assert len(password) >= 16 and password not in cloud.log.read_text()
    sets = {
        name: (client, {"": address, **{f"rep-{k}": private_address(shown[f"{name}rep-{k}"])
                                        for k in "12"}})
        for name, client, address in (("pg1", psql, pg), ("my1", mysql, my))
    }  # fmt: skip

    def sums_to(name: str, member: str, total: int) -> None:
        client, addresses = sets[name]
        started = time.monotonic()
        wait_for(f"{total} on {name}{member}", lambda: _value_of(
            client, addresses[member], "SELECT sum(x) FROM rep") == str(total), 60)  # fmt: skip
        print(f"{name}{member}: {total} after {time.monotonic() - started:.2f} s")

    def refuses(name: str, member: str) -> None:
        client, addresses = sets[name]
        with pytest.raises(subprocess.CalledProcessError):
            client(addresses[member], "app", "s3cret", "app", "INSERT INTO rep VALUES (1)")

    def write(name: str, member: str, value: int) -> None:
        client, addresses = sets[name]
        client(addresses[member], "app", "s3cret", "app", f"INSERT INTO rep VALUES ({value})")

    for name in sets:
        write(name, "", 7)
        for k in "12":
            sums_to(name, f"rep-{k}", 7)
            refuses(name, f"rep-{k}")
    # rep-1 promoted to replica source: the old source and rep-2 follow it.
    for name in sets:
        osc_plain(cloud, "database", "instance", "promote", f"{TAG}{name}rep-1")
    for name in sets:
        promoted = active(cloud, f"{TAG}{name}rep-1")
        assert "replica_of" not in promoted
        for member in ("", "rep-2"):
            assert active(cloud, f"{TAG}{name}{member}")["replica_of"] == promoted["id"]
        write(name, "rep-1", 5)
        for member in ("", "rep-2"):
            sums_to(name, member, 12)
            refuses(name, member)
    # MariaDB's members followed it from their GTID positions (no new copy).
    for member in (instances["my1"]["id"], shown["my1rep-2"]["id"]):
        assert f"{member} follows {shown['my1rep-1']['id']} from where it stood" in (
            cloud.log.read_text())  # fmt: skip
    # rep-1 lost (as the agent would mark a server it cannot bring back):
    # ejected, one of the two it had takes writes and the other follows it.
    for name in sets:
        _mark_lost(cloud, shown[f"{name}rep-1"]["id"])
        osc_plain(cloud, "database", "instance", "eject", f"{TAG}{name}rep-1")
    pairs: dict[str, tuple[str, str]] = {}
    for name in sets:
        rows = {m: active(cloud, f"{TAG}{name}{m}") for m in ("", "rep-2")}
        leader = next(m for m, row in rows.items() if "replica_of" not in row)
        follower = "rep-2" if leader == "" else ""
        assert rows[follower]["replica_of"] == rows[leader]["id"], rows
        assert "replica_of" not in osc(cloud, "database", "instance", "show", f"{TAG}{name}rep-1")
        write(name, leader, 1)
        sums_to(name, follower, 13)
        refuses(name, follower)
        pairs[name] = (leader, follower)
        if name == "my1":
            assert (f"{rows[follower]['id']} follows {rows[leader]['id']} from where it "
                    f"stood") in cloud.log.read_text()  # fmt: skip
    assert "what it holds is unknown" not in cloud.log.read_text()
    # The follower detached: both take writes, apart.
    for name, (_leader, follower) in pairs.items():
        osc_plain(cloud, "database", "instance", "detach", f"{TAG}{name}{follower}")
    for name, (leader, follower) in pairs.items():
        assert "replica_of" not in active(cloud, f"{TAG}{name}{follower}")
        write(name, follower, 1)
        sums_to(name, follower, 14)
        sums_to(name, leader, 13)
    # Kept until the last test: a new instance given a deleted one's address
    # would meet the client's stale neighbour entry for it.


def _mark_lost(cloud: Server, instance_id: str) -> None:
    """The instance in ERROR once its last task is over (what a server the
    agent cannot bring back ends as), written to the cloud's database."""
    import sqlite3

    def marked() -> bool:
        with sqlite3.connect(cloud.data_dir / "stratus.db", timeout=30) as db:
            return db.execute(
                "UPDATE database_instance SET status = 'ERROR', generation = generation + 1 "
                "WHERE id = ? AND task IS NULL", (instance_id,),
            ).rowcount == 1  # fmt: skip

    wait_for(f"{instance_id} marked lost", marked, 60)


def _value_of(client: Any, host: str, sql: str) -> str | None:
    try:
        return str(client(host, "app", "s3cret", "app", sql))
    except subprocess.CalledProcessError:
        return None


def _works(call: Any) -> bool:
    try:
        call()
        return True
    except subprocess.CalledProcessError:
        return False


def test_a_killed_server_comes_back(cloud: Server, instances: dict[str, dict[str, Any]]) -> None:
    pg = private_address(instances["pg1"])
    pid_files = list(
        Path("/run/stratus-database").glob(f"*/{instances['pg1']['id']}/volume/data/postmaster.pid")
    )
    assert len(pid_files) == 1
    pid = int(pid_files[0].read_text().split()[0])
    os.kill(pid, signal.SIGKILL)
    wait_for(
        "PostgreSQL back", lambda: _works(lambda: psql(pg, "app", "s3cret", "app", "SELECT 1")), 120
    )
    assert osc(cloud, "database", "instance", "show", f"{TAG}pg1")["status"] == "ACTIVE"


def test_backup_and_restore_keep_the_rows(
    cloud: Server, network: str, instances: dict[str, dict[str, Any]]
) -> None:
    backups = {}
    for name in ("pg1", "my1"):
        backups[name] = osc(cloud, "database", "backup", "create", f"{TAG}{name}-b", "-i",
                            f"{TAG}{name}")["id"]  # fmt: skip
    for name, bid in backups.items():
        wait_for(f"backup of {name}", lambda bid=bid: osc(
            cloud, "database", "backup", "show", bid)["status"] in ("COMPLETED", "FAILED"))  # fmt: skip
        shown = osc(cloud, "database", "backup", "show", bid)
        assert shown["status"] == "COMPLETED", shown
    pg, my = private_address(instances["pg1"]), private_address(instances["my1"])
    active(cloud, f"{TAG}pg1")
    active(cloud, f"{TAG}my1")
    psql(pg, "app", "s3cret", "app", "INSERT INTO t VALUES (100)")
    mysql(my, "app", "s3cret", "app", "INSERT INTO t VALUES (100)")
    # Incremental backups on top (PostgreSQL: the WAL since the full one;
    # MariaDB: the pages changed since its LSN), then later rows.
    for name, bid in list(backups.items()):
        child = osc(cloud, "database", "backup", "create", f"{TAG}{name}-i", "-i", f"{TAG}{name}",
                    "--incremental")  # fmt: skip
        assert child["parent_id"] == bid, child
        backups[name] = child["id"]

    def statuses() -> dict[str, str]:
        listed = osc(cloud, "database", "backup", "list")
        return {b["ID"]: b["Status"] for b in listed if b["ID"] in backups.values()}

    wait_for("the incremental backups", lambda: all(
        s in ("COMPLETED", "FAILED") for s in statuses().values()))  # fmt: skip
    assert set(statuses().values()) == {"COMPLETED"}, statuses()
    psql(pg, "app", "s3cret", "app", "INSERT INTO t VALUES (1000)")
    mysql(my, "app", "s3cret", "app", "INSERT INTO t VALUES (1000)")
    for name, bid in backups.items():
        osc(cloud, "database", "instance", "create", f"{TAG}{name}r", "--flavor", "m1.small",
            "--size", "1", "--backup", bid, "--nic", f"net-id={network}")  # fmt: skip
    pg_r = private_address(active(cloud, f"{TAG}pg1r"))
    my_r = private_address(active(cloud, f"{TAG}my1r"))
    # The full backup's rows and the increment's, not the later one.
    assert (
        psql(pg_r, "app", "s3cret", "app", "SELECT string_agg(x::text, ',' ORDER BY x) FROM t")
        == "1,2,100"
    )
    assert mysql(my_r, "app", "s3cret", "app",
                 "SELECT group_concat(x ORDER BY x) FROM t") == "1,2,100"  # fmt: skip
    psql(pg, "app", "s3cret", "app", "DELETE FROM t WHERE x = 1000")
    assert psql(pg, "app", "s3cret", "app", "SELECT count(*) FROM t") == "3"
    users = {u["Name"] for u in osc(cloud, "database", "user", "list", f"{TAG}pg1r")}
    assert {"app", "bob"} <= users


def test_configuration_and_resize_take_effect(
    cloud: Server, instances: dict[str, dict[str, Any]]
) -> None:
    pg = private_address(instances["pg1"])
    group = osc(cloud, "database", "configuration", "create", f"{TAG}-conf",
                '{"max_connections": 37}', "--datastore", "postgresql")  # fmt: skip
    osc_plain(cloud, "database", "configuration", "attach", f"{TAG}pg1", group["id"])
    wait_for("max_connections 37", lambda: _value(pg, "SHOW max_connections") == "37", 120)
    active(cloud, f"{TAG}pg1")
    osc_plain(cloud, "database", "instance", "resize", "volume", f"{TAG}pg1", "2")
    wait_for("volume 2 GiB", lambda: osc(cloud, "database", "instance", "show",
                                         f"{TAG}pg1")["volume"] == 2, 180)  # fmt: skip
    active(cloud, f"{TAG}pg1")
    assert psql(pg, "app", "s3cret", "app", "SELECT count(*) FROM t") == "3", "data lost"
    df = subprocess.run(["df", "-B1", "--output=size", str(next(Path("/run/stratus-database").glob(
        f"*/{instances['pg1']['id']}/volume")))], capture_output=True, text=True).stdout.split()  # fmt: skip
    assert int(df[-1]) > 3 * 2**30 // 2, f"the filesystem did not grow: {df}"
    osc_plain(cloud, "database", "instance", "resize", "flavor", f"{TAG}pg1", "m1.tiny")
    wait_for("flavor m1.tiny", lambda: osc(cloud, "database", "instance", "show",
                                           f"{TAG}pg1")["flavor"] == "1", 120)  # fmt: skip
    limit = next(Path("/sys/fs/cgroup").glob(
        f"memory/stratus-database/*/{instances['pg1']['id']}/memory.limit_in_bytes"), None)  # fmt: skip
    if limit is not None:
        assert int(limit.read_text()) == 256 * 2**20
    assert _value(pg, "SHOW max_connections") == "37"


def _value(host: str, sql: str) -> str | None:
    try:
        return psql(host, "app", "s3cret", "app", sql)
    except subprocess.CalledProcessError:
        return None


def test_a_cloud_killed_during_a_create_and_a_backup(
    cloud: Server, network: str, instances: dict[str, dict[str, Any]]
) -> None:
    """SIGKILL the cloud while an instance builds and a backup runs; after a
    restart each ends in a final state, and nothing is made twice."""
    osc(cloud, "database", "instance", "create", f"{TAG}pg3", "--flavor", "m1.tiny", "--size",
        "1", "--datastore", "postgresql", "--nic", f"net-id={network}")  # fmt: skip
    backup = osc(cloud, "database", "backup", "create", f"{TAG}-crash", "-i", f"{TAG}my1")["id"]
    osc(cloud, "database", "instance", "create", f"{TAG}pg1c", "--replica-of", f"{TAG}pg1")
    time.sleep(0.5)
    cloud.process.send_signal(signal.SIGKILL)
    cloud.process.wait(30)
    port = int(cloud.url.rsplit(":", 1)[1])
    again = start_server(cloud.data_dir, cloud.database_url, port=port, **CLOUD_ENV)
    cloud.process = again.process  # the module's cloud, restarted
    replica = settled(cloud, f"{TAG}pg1c")
    assert replica["status"] == "ACTIVE" or replica.get("fault"), replica
    shown = settled(cloud, f"{TAG}pg3")
    assert shown["status"] == "ACTIVE" or shown.get("fault"), shown
    wait_for("the backup settled", lambda: osc(cloud, "database", "backup", "show", backup)[
        "status"] in ("COMPLETED", "FAILED"))  # fmt: skip
    active(cloud, f"{TAG}my1")
    volumes = [v for v in osc(cloud, "volume", "list", "--all-projects")
               if v["Name"] == f"trove-{shown['id']}"]  # fmt: skip
    assert len(volumes) == 1, volumes
    for made in (shown, replica):
        ports = osc(cloud, "port", "list", "--device-id", made["id"])
        assert len(ports) == 1, ports


def test_delete_leaves_nothing_on_the_host(
    cloud: Server, instances: dict[str, dict[str, Any]]
) -> None:
    ids = [osc(cloud, "database", "instance", "show", f"{TAG}{n}")["id"]
           for n in ("pg1c", "pg1", "my1", "pg1r", "my1r", "pg3", "pg1rep-1", "my1rep-1",
                     "pg1rep-2", "my1rep-2")]  # fmt: skip
    for iid in ids:
        osc_plain(cloud, "database", "instance", "delete", iid)
    wait_for("instances gone", lambda: not osc(cloud, "database", "instance", "list"), 120)
    namespaces = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    mounts = Path("/proc/self/mounts").read_text()
    for iid in ids:
        assert f"sdb-{iid[:12]}" not in namespaces
        assert iid not in mounts
        assert subprocess.run(["id", f"sdb-{iid[:12]}"], capture_output=True).returncode != 0
    wait_for("volumes deleted", lambda: osc(cloud, "volume", "list", "--all-projects") == [], 120)
    assert socket.gethostname()  # the host itself untouched
