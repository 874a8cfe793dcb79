"""A quota check and the insert it guards are one step: creates of one
project sent all at once never pass its quota together."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.conftest import Server, start_cloud, stop_cloud
from tests.functional.compute.conftest import FAKE, tiny_image, unique
from tests.functional.identity.helpers import user_with_role

AT_ONCE = 8
LIMIT = 2


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory, database: str) -> Iterator[Server]:
    srv = start_cloud(
        tmp_path_factory.mktemp("quota-races"),
        database,
        **FAKE,
        STRATUS_COMPUTE__QUOTA_INSTANCES=str(LIMIT),
        STRATUS_COMPUTE__QUOTA_SERVER_GROUPS=str(LIMIT),
        STRATUS_IMAGE__QUOTA_IMAGES=str(LIMIT),
    )
    tiny_image(srv)
    yield srv
    stop_cloud(srv)


def all_at_once(requests: list[tuple[str, str, dict[str, object]]], token: str) -> list[int]:
    def send(req: tuple[str, str, dict[str, object]]) -> int:
        method, url, body = req
        with httpx.Client(timeout=60) as c:
            return c.request(method, url, json=body, headers={"X-Auth-Token": token}).status_code

    with ThreadPoolExecutor(AT_ONCE) as pool:
        return list(pool.map(send, requests))


def test_servers_created_at_once_never_pass_the_instances_quota(cloud: Server) -> None:
    _user, project, token = user_with_role(cloud, "member")
    image = tiny_image(cloud)
    url = f"{cloud.url}/compute/v2.1/servers"
    body = {"server": {"name": unique("race"), "imageRef": image, "flavorRef": "1"}}
    statuses = all_at_once([("POST", url, body)] * AT_ONCE, token)
    assert sorted(statuses) == [202] * LIMIT + [403] * (AT_ONCE - LIMIT), statuses
    listed = httpx.get(f"{url}/detail", headers={"X-Auth-Token": token}).json()["servers"]
    assert len(listed) == LIMIT and all(s["tenant_id"] == project["id"] for s in listed)


def test_max_count_boots_what_the_quota_allows_in_one_step(cloud: Server) -> None:
    _user, _project, token = user_with_role(cloud, "member")
    url = f"{cloud.url}/compute/v2.1/servers"
    body = {"server": {"name": unique("many"), "imageRef": tiny_image(cloud), "flavorRef": "1", "min_count": 1, "max_count": 2**31 - 1}}
    resp = httpx.post(url, json=body, headers={"X-Auth-Token": token}, timeout=60)
    assert resp.status_code == 202, resp.text
    listed = httpx.get(f"{url}/detail", headers={"X-Auth-Token": token}).json()["servers"]
    assert len(listed) == LIMIT


def test_server_groups_created_at_once_never_pass_their_quota(cloud: Server) -> None:
    _user, _project, token = user_with_role(cloud, "member")
    url = f"{cloud.url}/compute/v2.1/os-server-groups"
    body = {"server_group": {"name": unique("g"), "policies": ["affinity"]}}
    statuses = all_at_once([("POST", url, body)] * AT_ONCE, token)
    assert sorted(statuses) == [200] * LIMIT + [403] * (AT_ONCE - LIMIT), statuses


def test_images_created_at_once_never_pass_the_image_quota(cloud: Server) -> None:
    _user, _project, token = user_with_role(cloud, "member")
    url = f"{cloud.url}/image/v2/images"
    body = {"name": unique("img"), "disk_format": "raw", "container_format": "bare"}
    statuses = all_at_once([("POST", url, body)] * AT_ONCE, token)
    assert sorted(statuses) == [201] * LIMIT + [413] * (AT_ONCE - LIMIT), statuses
