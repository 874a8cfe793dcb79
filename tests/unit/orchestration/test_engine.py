"""The engine on fake resource types: order, parallelism, failure and
rollback, update in place / replace / remove, delete in reverse order."""

from __future__ import annotations

from typing import Any

import pytest

from stratus.orchestration.agent.actions import Actions
from stratus.orchestration.agent.engine import Engine
from stratus.orchestration.agent.state import StackInfo
from stratus.orchestration.agent.update import Updater
from stratus.orchestration.drivers.base import ApiError, Outcome
from stratus.orchestration.drivers.fake import FakeStore, FakeThing
from stratus.orchestration.drivers.registry import build_registry
from stratus.orchestration.template import hot
from stratus.orchestration.template.plan import Plan, build

pytestmark = pytest.mark.asyncio


class World:
    def __init__(self) -> None:
        self.thing = FakeThing()
        self.registry = build_registry({"Test::Thing": self.thing})
        self.store = FakeStore()
        self.engine = Engine(self.store, self.registry)
        self.updater = Updater(self.engine)

    def plan(self, resources: dict[str, Any], params: dict[str, Any] | None = None) -> Plan:
        t = {"heat_template_version": "2018-08-31", "resources": resources,
             "parameters": {k: {"type": "comma_delimited_list"} for k in params or {}}}  # fmt: skip
        return build(t, {}, {}, params or {}, {"OS::stack_name": "s"}, self.registry.__contains__)

    def stack(self, rollback: bool = False) -> StackInfo:
        return StackInfo("sid", "s", "p", not rollback, None)

    @property
    def status(self) -> tuple[str, str]:
        action, status, _ = self.store.status["sid"]
        return action, status


def thing(**props: Any) -> dict[str, Any]:
    deps = props.pop("depends_on", None)
    body: dict[str, Any] = {"type": "Test::Thing", "properties": props}
    if deps:
        body["depends_on"] = deps
    return body


async def test_create_in_dependency_order_with_independent_ones_at_once() -> None:
    w = World()
    p = w.plan({
        "a": thing(delay=0.05), "b": thing(delay=0.05), "c": thing(delay=0.05),
        "d": thing(ref={"get_attr": ["a", "name"]}, depends_on=["b", "c"]),
    })  # fmt: skip
    await w.engine.create(w.stack(), p, None)  # type: ignore[arg-type]
    assert w.status == ("CREATE", "COMPLETE")
    assert w.thing.most_at_once == 3
    assert [n for op, n in w.thing.log][-1] == "d"
    assert w.store.rows["sid"]["d"].properties["ref"] == "a"
    assert w.store.rows["sid"]["d"].requires == ["a", "b", "c"]


async def test_a_failure_stops_the_rest_and_keeps_the_reason() -> None:
    w = World()
    p = w.plan({"a": thing(), "b": thing(fail=True, depends_on="a"), "c": thing(depends_on="b")})
    await w.engine.create(w.stack(), p, None)  # type: ignore[arg-type]
    action, status, reason = w.store.status["sid"]
    assert (action, status) == ("CREATE", "FAILED")
    assert reason == "Resource CREATE failed: BadRequest: resources.b: b was told to fail"
    assert "c" not in w.store.rows["sid"]
    assert w.store.rows["sid"]["b"].status == "FAILED"
    assert len(w.thing.world) == 1  # a stays (no rollback)


async def test_rollback_removes_everything_made() -> None:
    w = World()
    p = w.plan({"a": thing(), "b": thing(), "c": thing(fail=True, depends_on=["a", "b"])})
    await w.engine.create(w.stack(rollback=True), p, None)  # type: ignore[arg-type]
    assert w.status == ("ROLLBACK", "COMPLETE")
    assert w.thing.world == {} and w.store.rows["sid"] == {}


async def test_delete_in_reverse_order_retrying_what_is_in_use() -> None:
    w = World()
    p = w.plan({"a": thing(busy=2), "b": thing(depends_on="a"), "c": thing(depends_on="b")})
    await w.engine.create(w.stack(), p, None)  # type: ignore[arg-type]
    assert await w.engine.delete(w.stack(), None)  # type: ignore[arg-type]
    assert [n for op, n in w.thing.log if op == "delete"] == ["c", "b", "a"]
    assert w.thing.world == {} and w.status == ("DELETE", "COMPLETE")


async def test_update_in_place_replace_add_and_remove() -> None:
    w = World()
    first = w.plan({"keep": thing(), "grow": thing(size=1), "swap": thing(kind="a"),
                    "gone": thing()})  # fmt: skip
    await w.engine.create(w.stack(), first, None)  # type: ignore[arg-type]
    before = {n: s.physical_id for n, s in w.store.rows["sid"].items()}
    second = w.plan({"keep": thing(), "grow": thing(size=5), "swap": thing(kind="b"),
                     "new": thing(ref={"get_attr": ["grow", "size"]})})  # fmt: skip
    await w.updater.update(w.stack(), second, None, first)  # type: ignore[arg-type]
    after = {n: s.physical_id for n, s in w.store.rows["sid"].items()}
    assert w.status == ("UPDATE", "COMPLETE")
    assert after["keep"] == before["keep"] and after["grow"] == before["grow"]
    assert w.thing.world[after["grow"]]["size"] == 5
    assert after["swap"] != before["swap"] and before["swap"] not in w.thing.world
    assert "gone" not in after and before["gone"] not in w.thing.world
    assert w.store.rows["sid"]["new"].properties["ref"] == "5"


async def test_a_failed_update_rolls_back_to_the_previous_definition() -> None:
    w = World()
    first = w.plan({"a": thing(size=1)})
    await w.engine.create(w.stack(), first, None)  # type: ignore[arg-type]
    second = w.plan({"a": thing(size=2), "b": thing(fail=True, depends_on="a")})
    await w.updater.update(w.stack(rollback=True), second, None, first)  # type: ignore[arg-type]
    assert w.status == ("ROLLBACK", "COMPLETE")
    rows = w.store.rows["sid"]
    assert set(rows) == {"a"} and w.thing.world[rows["a"].physical_id or ""]["size"] == 1


async def test_groups_number_their_members_and_scale() -> None:
    w = World()
    group = {"type": "OS::Heat::ResourceGroup", "properties": {"count": 2, "resource_def": {
        "type": "OS::Heat::Value", "properties": {"value": "m-%index%"}}}}  # fmt: skip
    first = w.plan({"g": group})
    await w.engine.create(w.stack(), first, None)  # type: ignore[arg-type]
    st = w.store.rows["sid"]["g"]
    assert st.attribute("value") == ["m-0", "m-1"]
    assert st.attribute("resource.1.value") == "m-1"
    bigger = w.plan({"g": {**group, "properties": {**group["properties"], "count": 3}}})
    await w.updater.update(w.stack(), bigger, None, first)  # type: ignore[arg-type]
    st2 = w.store.rows["sid"]["g"]
    assert st2.attribute("value") == ["m-0", "m-1", "m-2"]
    assert st2.attribute("refs")[:2] == st.attribute("refs")


async def test_a_random_string_is_referenced_by_its_value_not_shown_as_its_id() -> None:
    w = World()
    p = w.plan({"pw": {"type": "OS::Heat::RandomString", "properties": {"length": 10}},
                "use": thing(ref={"get_resource": "pw"})})  # fmt: skip
    await w.engine.create(w.stack(), p, None)  # type: ignore[arg-type]
    pw = w.store.rows["sid"]["pw"]
    assert len(pw.attributes["value"]) == 10
    assert w.store.rows["sid"]["use"].properties["ref"] == pw.attributes["value"]
    assert pw.attributes["value"] not in (pw.physical_id or "")


async def test_group_members_read_their_own_item_of_a_list_by_index() -> None:
    w = World()
    group = {"type": "OS::Heat::ResourceGroup", "properties": {"count": 2, "resource_def": {
        "type": "OS::Heat::Value", "properties": {"value": {"get_param": ["ips", "%index%"]}}}}}  # fmt: skip
    first = w.plan({"g": group}, {"ips": "10.0.0.1,10.0.0.2"})
    await w.engine.create(w.stack(), first, None)  # type: ignore[arg-type]
    assert w.store.rows["sid"]["g"].attribute("value") == ["10.0.0.1", "10.0.0.2"]
    refs = w.store.rows["sid"]["g"].attribute("refs")
    second = w.plan({"g": group}, {"ips": "10.0.0.1,10.0.0.9"})
    await w.updater.update(w.stack(), second, None, first)  # type: ignore[arg-type]
    st = w.store.rows["sid"]["g"]
    assert st.attribute("value") == ["10.0.0.1", "10.0.0.9"]
    assert st.attribute("refs")[0] == refs[0]  # the unchanged member stays



async def test_a_retained_resource_outlives_its_stack() -> None:
    w = World()
    raw = {"a": thing(), "keep": {**thing(depends_on="a"), "deletion_policy": "Retain"}}
    p = w.plan(raw)
    await w.engine.create(w.stack(), p, None)  # type: ignore[arg-type]
    kept = w.store.rows["sid"]["keep"].physical_id
    retain = hot.retained({"resources": raw})
    assert await w.engine.delete(w.stack(), None, retain)  # type: ignore[arg-type]
    assert [n for op, n in w.thing.log if op == "delete"] == ["a"]
    assert list(w.thing.world) == [kept] and w.store.rows["sid"] == {}
    assert w.status == ("DELETE", "COMPLETE")


async def test_a_stack_timeout_stops_every_resource_still_being_made() -> None:
    w = World()
    p = w.plan({"slow": thing(delay=30), "quick": thing()})
    stack = StackInfo("sid", "s", "p", True, 0.002)  # 0.12 s
    await w.engine.create(stack, p, None)  # type: ignore[arg-type]
    assert w.status == ("CREATE", "FAILED")
    assert w.thing.running == 0  # the slow create was cancelled, not left running
    assert [n for op, n in w.thing.log if op == "create"] == ["quick"]
    assert w.store.rows["sid"]["slow"].status == "FAILED"


class ServerApi:
    """Compute's face for OS::Nova::Server: the POST makes a server, which
    then goes to ERROR."""

    def __init__(self) -> None:
        self.servers: set[str] = set()

    async def call(self, service: str, method: str, path: str, **kw: Any) -> Any:
        if method == "POST" and path == "/servers":
            self.servers.add("srv-1")
            return {"server": {"id": "srv-1", "status": "BUILD"}}
        if method == "GET" and path == "/flavors/detail":
            return {"flavors": [{"id": "f1", "name": "small"}]}
        if method == "GET" and path == "/servers/srv-1":
            if "srv-1" not in self.servers:
                raise ApiError(404, "gone")
            return {"server": {"id": "srv-1", "status": "ERROR", "fault": {"message": "no host"}}}
        if method == "DELETE" and path == "/servers/srv-1":
            self.servers.discard("srv-1")
            return None
        raise AssertionError((method, path))


async def test_a_server_whose_wait_fails_is_recorded_and_deleted_by_the_rollback() -> None:
    w = World()
    p = w.plan({"vm": {"type": "OS::Nova::Server", "properties": {"flavor": "small"}}})
    api = ServerApi()
    await w.engine.create(w.stack(rollback=True), p, api)  # type: ignore[arg-type]
    assert w.status == ("ROLLBACK", "COMPLETE")
    assert api.servers == set()


async def test_a_group_update_that_fails_half_way_records_every_member_it_made() -> None:
    w = World()
    group = {"type": "OS::Heat::ResourceGroup", "properties": {"count": 1, "resource_def": {
        "type": "Test::Thing", "properties": {"fail": {"get_param": ["fails", "%index%"]}}}}}  # fmt: skip
    fails = {"fails": "false,false,true,false"}
    first = w.plan({"g": group}, fails)
    await w.engine.create(w.stack(), first, None)  # type: ignore[arg-type]
    bigger = w.plan({"g": {**group, "properties": {**group["properties"], "count": 4}}}, fails)
    await w.updater.update(w.stack(), bigger, None, first)  # type: ignore[arg-type]
    assert w.status == ("UPDATE", "FAILED")
    assert len(w.thing.world) == 3  # members 0, 1 and 3; 2 failed
    recorded = {m["physical_id"] for m in w.store.rows["sid"]["g"].data["members"]}
    assert recorded == set(w.thing.world)
    assert await w.engine.delete(w.stack(), None)  # type: ignore[arg-type]
    assert w.thing.world == {}


class TroveApi:
    """The database service's face: what the instance's POST carried."""

    def __init__(self) -> None:
        self.bodies: list[Any] = []

    async def call(self, service: str, method: str, path: str, **kw: Any) -> Any:
        if method == "POST" and path == "/instances":
            self.bodies.append(kw["json"])
            return {"instance": {"id": "db-1", "status": "BUILD"}}
        if method == "GET" and path == "/instances/db-1":
            return {"instance": {"id": "db-1", "status": "ACTIVE", "ip": ["10.0.0.9"]}}
        raise AssertionError((method, path))


async def test_a_trove_users_databases_named_as_heat_does_reach_trove_as_objects() -> None:
    w = World()
    p = w.plan({"db": {"type": "OS::Trove::Instance", "properties": {
        "flavor": "m1.small", "size": 1, "databases": [{"name": "app"}],
        "users": [{"name": "app", "password": "secret", "databases": ["app"]}]}}})  # fmt: skip
    api = TroveApi()
    await w.engine.create(w.stack(), p, api)  # type: ignore[arg-type]
    assert w.status == ("CREATE", "COMPLETE")
    (body,) = api.bodies
    assert body["instance"]["users"] == [
        {"name": "app", "password": "secret", "databases": [{"name": "app"}]}
    ]


async def test_a_wait_handles_url_is_the_cloud_as_guests_reach_it() -> None:
    import httpx

    from stratus.orchestration.drivers.openstack import HttpApi
    from stratus.orchestration.drivers.wait import WaitConditionHandle

    async with httpx.AsyncClient() as client:
        for guest, want in (("", "http://127.0.0.1:8080"), ("http://198.18.0.1:8080",) * 2):
            api = HttpApi("http://127.0.0.1:8080", "tok", "p1", client, guest)
            out = await WaitConditionHandle().create(api, {}, None)  # type: ignore[arg-type]
            assert out.attributes["endpoint"] == f"{want}/orchestration/v1/p1/signal/{out.physical_id}"
            assert api.endpoint("orchestration") == "http://127.0.0.1:8080/orchestration/v1/p1"


async def test_a_failure_cancels_what_is_still_being_made_on_create() -> None:
    w = World()
    p = w.plan({"waits": thing(delay=30), "fails": thing(fail=True)})
    await w.engine.create(w.stack(), p, None)  # type: ignore[arg-type]
    assert w.status == ("CREATE", "FAILED")
    assert w.store.status["sid"][2].endswith("resources.fails: fails was told to fail")
    assert w.thing.running == 0  # not left waiting out its 30 s
    assert w.store.rows["sid"]["waits"].status == "FAILED"
    w2 = World()
    await w2.engine.create(w2.stack(rollback=True), p, None)  # type: ignore[arg-type]
    assert w2.status == ("ROLLBACK", "COMPLETE")
    assert w2.thing.running == 0 and w2.thing.world == {} and w2.store.rows["sid"] == {}


async def test_a_failing_update_cancels_what_is_still_being_made() -> None:
    import time

    w = World()
    first = w.plan({"a": thing(size=1)})
    await w.engine.create(w.stack(), first, None)  # type: ignore[arg-type]
    second = w.plan({"a": thing(size=2), "waits": thing(delay=30),
                     "fails": thing(fail=True, depends_on="a")})  # fmt: skip
    t0 = time.monotonic()
    await w.updater.update(w.stack(), second, None, first)  # type: ignore[arg-type]
    assert time.monotonic() - t0 < 5  # not the 30 s of "waits"
    assert w.status == ("UPDATE", "FAILED")
    assert w.store.status["sid"][2] == (
        "Resource UPDATE failed: BadRequest: resources.fails: fails was told to fail"
    )
    assert w.thing.running == 0  # cancelled, not left running
    waits = w.store.rows["sid"]["waits"]
    assert waits.status == "FAILED" and waits.reason.startswith("Cancelled: resources.waits")
    assert ("waits", "CREATE", "FAILED") in w.store.events
    assert w.thing.world[w.store.rows["sid"]["a"].physical_id or ""]["size"] == 2


class Pausable(FakeThing):
    """A fake thing that logs suspend and resume, and fails a check once
    gone from its world."""

    async def suspend(self, api: Any, current: Outcome) -> None:
        self.log.append(("suspend", str(current.physical_id).rsplit("-", 1)[0]))

    async def resume(self, api: Any, current: Outcome) -> None:
        self.log.append(("resume", str(current.physical_id).rsplit("-", 1)[0]))

    async def check(self, api: Any, current: Outcome) -> None:
        if current.physical_id not in self.world:
            raise ApiError(404, "gone")


async def test_suspend_goes_dependents_first_resume_in_order_check_finds_the_gone() -> None:
    w = World()
    w.thing = Pausable()
    w.registry = build_registry({"Test::Thing": w.thing})
    w.engine = Engine(w.store, w.registry)
    actions = Actions(w.engine)
    p = w.plan({"a": thing(), "b": thing(depends_on="a"), "c": thing(depends_on="b")})
    await w.engine.create(w.stack(), p, None)  # type: ignore[arg-type]
    w.thing.log.clear()
    assert await actions.run(w.stack(), None, "SUSPEND")  # type: ignore[arg-type]
    assert w.status == ("SUSPEND", "COMPLETE")
    assert [n for op, n in w.thing.log] == ["c", "b", "a"]
    assert {st.status for st in w.store.rows["sid"].values()} == {"COMPLETE"}
    assert {st.action for st in w.store.rows["sid"].values()} == {"SUSPEND"}
    w.thing.log.clear()
    assert await actions.run(w.stack(), None, "RESUME")  # type: ignore[arg-type]
    assert [n for op, n in w.thing.log] == ["a", "b", "c"]
    del w.thing.world[w.store.rows["sid"]["b"].physical_id or ""]
    assert not await actions.run(w.stack(), None, "CHECK")  # type: ignore[arg-type]
    action, status, reason = w.store.status["sid"]
    assert (action, status) == ("CHECK", "FAILED")
    assert reason == "Resource CHECK failed: NotFound: resources.b: gone"
    assert w.store.rows["sid"]["b"].status == "FAILED"
    assert w.store.rows["sid"]["a"].status == "COMPLETE"
