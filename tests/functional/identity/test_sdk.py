"""openstacksdk against Stratus, configured by the clouds.yaml `stratus up` writes."""

from __future__ import annotations

from collections.abc import Iterator

import openstack
import pytest
from openstack.connection import Connection

from tests.conftest import Server
from tests.functional.identity.helpers import unique


@pytest.fixture
def conn(server: Server, monkeypatch: pytest.MonkeyPatch) -> Iterator[Connection]:
    for key in [k for k in __import__("os").environ if k.startswith("OS_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(server.clouds_yaml))
    connection = openstack.connect(cloud="stratus")
    yield connection
    connection.close()


def test_connect_lists_projects(conn: Connection) -> None:
    names = {p.name for p in conn.identity.projects()}
    assert {"admin", "service"} <= names
    assert conn.current_project.name == "admin"


def test_user_create_find_delete(conn: Connection) -> None:
    name = unique("sdk-user")
    user = conn.identity.create_user(name=name, password="sdk-pass-1", domain_id="default", email="a@b.c")
    assert user.id
    found = conn.identity.find_user(name)
    assert found is not None and found.id == user.id
    assert found.email == "a@b.c"
    assert conn.identity.get_user(user.id).name == name
    conn.identity.delete_user(user)
    assert conn.identity.find_user(name) is None


def test_project_create_find_update_delete(conn: Connection) -> None:
    name = unique("sdk-proj")
    project = conn.identity.create_project(name=name, description="d1", domain_id="default")
    assert conn.identity.find_project(name).id == project.id
    conn.identity.update_project(project, description="d2")
    assert conn.identity.get_project(project.id).description == "d2"
    conn.identity.delete_project(project)
    assert conn.identity.find_project(name) is None
