"""Bad template input is a 400 (StackValidationFailed or InvalidTemplate),
never an exception the API would turn into a 500."""

from __future__ import annotations

from typing import Any

import pytest

from stratus.orchestration.drivers.base import Context
from stratus.orchestration.drivers.heat import RandomString
from stratus.orchestration.errors import HeatError
from stratus.orchestration.service.definition import Definition, plan
from stratus.orchestration.template import functions as fns
from stratus.orchestration.template import hot
from stratus.orchestration.template.plan import build

KNOWN = {"OS::Heat::None"}
PSEUDO = {"OS::stack_name": "st", "OS::stack_id": "sid", "OS::project_id": "p"}


def value(expr: Any, params: dict[str, Any] | None = None) -> Any:
    schemas = {k: {"type": "json"} for k in params or {}}
    t = {"heat_template_version": "2021-04-16", "parameters": schemas,
         "resources": {"r": {"type": "OS::Heat::None"}}}  # fmt: skip
    p = build(t, {}, {}, params or {}, PSEUDO, KNOWN.__contains__)
    return fns.resolve(expr, p.scope(lambda n: n, lambda n, a: None))


@pytest.mark.parametrize("expr", [
    {"digest": ["shake_128", "x"]},
    {"digest": [["sha256"], "x"]},
    {"digest": ["md5-sha1", "x"]},
    {"make_url": {"host": "h", "port": "eighty"}},
    {"make_url": {"host": "h", "port": [80]}},
    {"make_url": {"host": "h", "query": "a=b"}},
    {"make_url": {"host": "h", "query": [["a", "b"]]}},
    {"map_replace": [{"a": 1}, {"keys": ["a"]}]},
    {"map_replace": [{"a": 1}, {"values": "x"}]},
    {"str_split": [",", "a,b", [1]]},
    {"str_split": [",", "a,b", None]},
    {"str_split": ["", "a,b"]},
    {"get_param": ["p", ["k"]]},
    {"get_param": ["p", None]},
])  # fmt: skip
def test_bad_function_arguments_are_a_validation_error(expr: dict[str, Any]) -> None:
    with pytest.raises(HeatError):
        value(expr, {"p": {"k": [1, 2]}})


def test_the_allowed_digests_still_work() -> None:
    assert value({"digest": ["sha256", "x"]}) == (
        "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881"
    )
    assert value({"get_param": ["p", "k", 1]}, {"p": {"k": [1, 2]}}) == 2


def params_plan(constraint: dict[str, Any], given: Any) -> Any:
    t = {"heat_template_version": "2021-04-16",
         "parameters": {"x": {"type": "string", "constraints": [constraint]}}}  # fmt: skip
    return build(t, {}, {}, {"x": given}, PSEUDO, KNOWN.__contains__)


@pytest.mark.parametrize("constraint", [
    {"length": {"min": "2"}},
    {"length": {"max": [3]}},
    {"range": {"min": "1"}},
    {"range": {"max": {"a": 1}}},
    {"modulo": {"step": "2"}},
    {"modulo": {"step": 2, "offset": "1"}},
    {"allowed_values": "abc"},
])  # fmt: skip
def test_constraint_bounds_of_the_wrong_type_are_refused(constraint: dict[str, Any]) -> None:
    with pytest.raises(HeatError):
        params_plan(constraint, "5")


def test_allowed_values_is_not_a_substring_test() -> None:
    with pytest.raises(HeatError):
        params_plan({"allowed_values": "abc"}, "b")
    assert params_plan({"allowed_values": ["abc"]}, "abc").params["x"] == "abc"


def test_an_infinite_integer_property_is_a_validation_error() -> None:
    with pytest.raises(HeatError):
        RandomString().validate({"length": float("inf")}, "resources.r")


def test_yaml_keys_that_are_not_strings_become_strings() -> None:
    doc = hot.load("heat_template_version: 2021-04-16\nresources:\n  1: {type: OS::Heat::None}\n"
                   "  on: {type: OS::Heat::None}\n  ~: {type: OS::Heat::None}\n"
                   "  r: {type: OS::Heat::None}\n")  # fmt: skip
    assert sorted(doc["resources"]) == ["1", "null", "r", "true"]


def test_a_deeply_nested_template_is_an_invalid_template() -> None:
    text = "heat_template_version: 2021-04-16\nresources: {}\noutputs:\n  o:\n    value: "
    with pytest.raises(HeatError):
        hot.load(text + "[" * 5000 + "]" * 5000 + "\n")
    deep: Any = 1
    for _ in range(5000):
        deep = [deep]
    d = Definition({"heat_template_version": "2021-04-16", "outputs": {"o": {"value": deep}}})
    with pytest.raises(HeatError):
        plan(d, {}, PSEUDO)


@pytest.mark.parametrize("props", [
    {"length": 8, "character_classes": [{"class": "DIGITS", "min": 100000000}]},
    {"length": 8, "character_classes": [{"class": "DIGITS", "min": 1e8}]},
    {"length": 8, "character_sequences": [{"sequence": "ab", "min": "100000000"}]},
    {"length": 8, "character_sequences": [{"sequence": "ab", "min": -1}]},
    {"length": 8, "character_sequences": [{"sequence": "ab", "min": "x"}]},
    {"length": 8, "character_classes": [{"class": "DIGITS", "min": 5},
                                        {"class": "LETTERS", "min": 4}]},
])  # fmt: skip
def test_random_string_minimums_are_checked_before_anything_is_built(props: dict[str, Any]) -> None:
    with pytest.raises(HeatError):
        RandomString().validate(props, "resources.r")


@pytest.mark.asyncio
async def test_random_string_minimums_are_honoured() -> None:
    props = RandomString().validate(
        {"length": 6, "character_classes": ["DIGITS", {"class": "LOWERCASE", "min": 5}]}, "r")
    ctx = Context("s", "sid", "r")
    value = (await RandomString().create(None, props, ctx)).attributes["value"]
    assert len(value) == 6 and sum(ch.isdigit() for ch in value) >= 1
    assert sum(ch.islower() for ch in value) >= 5


@pytest.mark.parametrize("extra", [{"deletion_policy": "Snapshot"}, {"deletion_policy": "snapshot"},
                                   {"external_id": "abc"}])  # fmt: skip
def test_unsupported_resource_keys_are_refused(extra: dict[str, Any]) -> None:
    t = {"heat_template_version": "2021-04-16", "resources": {"r": {"type": "OS::Heat::None", **extra}}}
    with pytest.raises(HeatError, match="not supported"):
        build(t, {}, {}, {}, PSEUDO, KNOWN.__contains__)


REFS = {"get_attr": ["grp", "refs"]}
ONE = {"get_attr": ["grp", "refs", 0]}


@pytest.mark.parametrize("salt", [
    {"list_join": [",", REFS]},
    {"list_join": [",", {"list_concat": [REFS, ["x"]]}]},
    {"list_join": [",", {"list_concat_unique": [REFS, REFS]}]},
    {"list_join": [",", {"filter": [["x"], REFS]}]},
    {"list_join": [",", {"repeat": {"template": "h-<%r%>", "for_each": {"<%r%>": REFS}}}]},
    {"str_replace": {"template": "a-$x", "params": {"$x": {"map_merge": [{"a": "b"}, ONE]}}}},
    {"str_replace_vstrict": {"template": "a-$x", "params": {"$x": ONE}}},
    {"contains": ["a", REFS]},
    {"str_split": [",", ONE, 1]},
    {"digest": ["sha256", ONE]},
    {"make_url": {"host": ONE, "port": {"get_attr": ["grp", "port"]}}},
    {"str_replace": {"template": "x", "params": {"map_replace": [ONE, {"keys": {"a": "b"}}]}}},
])  # fmt: skip
def test_functions_over_attributes_validate_before_the_resources_exist(salt: Any) -> None:
    from stratus.orchestration.drivers.registry import build_registry

    t = {"heat_template_version": "2021-04-16", "resources": {
        "grp": {"type": "OS::Heat::ResourceGroup",
                "properties": {"count": 2, "resource_def": {"type": "OS::Heat::None"}}},
        "r": {"type": "OS::Heat::RandomString", "properties": {"salt": salt}}}}  # fmt: skip
    p = plan(Definition(t), build_registry(), PSEUDO)
    assert set(p.resources) == {"grp", "r"}


def test_a_known_bad_value_still_fails_validation_beside_unknown_ones() -> None:
    from stratus.orchestration.drivers.registry import build_registry

    t = {"heat_template_version": "2021-04-16", "resources": {
        "grp": {"type": "OS::Heat::ResourceGroup",
                "properties": {"resource_def": {"type": "OS::Heat::None"}}},
        "r": {"type": "OS::Heat::RandomString", "properties": {
            "salt": {"list_join": [",", REFS, "not-a-list"]}}}}}  # fmt: skip
    p = plan(Definition(t), build_registry(), PSEUDO)  # unknown: the whole join waits
    assert "r" in p.resources
    t["resources"]["r"]["properties"]["salt"] = {"list_join": [",", "not-a-list"]}
    with pytest.raises(HeatError):
        plan(Definition(t), build_registry(), PSEUDO)


def test_a_parameter_not_given_is_unknown_to_validate_not_null() -> None:
    from stratus.orchestration.drivers.registry import build_registry

    t = {"heat_template_version": "2021-04-16",
         "parameters": {"names": {"type": "comma_delimited_list"}},
         "resources": {"r": {"type": "OS::Heat::RandomString", "properties": {
             "salt": {"list_join": ["-", {"get_param": "names"}]}}}}}  # fmt: skip
    p = plan(Definition(t), build_registry(), PSEUDO, strict=False)
    assert "r" in p.resources
