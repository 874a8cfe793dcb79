"""The template engine: HOT versions, parameters and their constraints,
conditions, intrinsic functions, references and the dependency graph."""

from __future__ import annotations

from typing import Any

import pytest

from stratus.orchestration.errors import (
    CircularDependency,
    InvalidTemplate,
    InvalidTemplateReference,
    ResourceTypeNotFound,
    StackValidationFailed,
    UserParameterMissing,
)
from stratus.orchestration.template import functions as fns
from stratus.orchestration.template import hot
from stratus.orchestration.template.plan import Plan, build, levels

KNOWN = {"OS::Heat::Value", "OS::Heat::None", "OS::Heat::RandomString"}


def plan(raw: dict[str, Any] | str, params: dict[str, Any] | None = None,
         env: dict[str, Any] | None = None, files: dict[str, str] | None = None) -> Plan:  # fmt: skip
    t = hot.load(raw) if isinstance(raw, str) else raw
    return build(t, env or {}, files or {}, params or {},
                 {"OS::stack_name": "st", "OS::stack_id": "sid", "OS::project_id": "p"},
                 KNOWN.__contains__)  # fmt: skip


def value(expr: Any, version: str = "2021-04-16", params: dict[str, Any] | None = None,
          files: dict[str, str] | None = None) -> Any:  # fmt: skip
    schemas = {k: {"type": "json" if isinstance(v, (dict, list)) else "string"}
               for k, v in (params or {}).items()}  # fmt: skip
    p = plan({"heat_template_version": version, "parameters": schemas,
              "resources": {"r": {"type": "OS::Heat::None"}}}, params, files=files)  # fmt: skip
    return fns.resolve(expr, p.scope(lambda n: f"id-{n}", lambda n, a: {"a": [1, {"b": "deep"}]}.get(a)))


@pytest.mark.parametrize("version", ["2013-05-23", "2016-10-14", "2021-04-16", "wallaby", "rocky"])
def test_known_versions_load(version: str) -> None:
    p = plan(f"heat_template_version: {version}\nresources: {{}}\n")
    assert p.resources == {}


def test_yaml_dates_stay_strings_and_unknown_versions_are_refused() -> None:
    assert hot.load("heat_template_version: 2018-08-31\n")["heat_template_version"] == "2018-08-31"
    with pytest.raises(InvalidTemplate, match="should be one of"):
        plan("heat_template_version: 2012-01-01\n")
    with pytest.raises(InvalidTemplate):
        plan("resources: {}\n")


def test_bad_yaml_and_unknown_sections_are_400s() -> None:
    with pytest.raises(StackValidationFailed, match="Error parsing"):
        hot.load("heat_template_version: [\n")
    with pytest.raises(StackValidationFailed, match="section is invalid: bogus"):
        plan({"heat_template_version": "2018-08-31", "bogus": 1})
    with pytest.raises(StackValidationFailed, match="not a valid keyword"):
        plan({"heat_template_version": "2018-08-31",
              "resources": {"r": {"type": "OS::Heat::None", "propertys": {}}}})  # fmt: skip


def test_parameters_types_defaults_and_constraints() -> None:
    t = {
        "heat_template_version": "2018-08-31",
        "parameters": {
            "name": {"type": "string", "default": "web",
                     "constraints": [{"length": {"min": 2, "max": 5}},
                                     {"allowed_pattern": "[a-z]+"}]},
            "count": {"type": "number", "default": 2, "constraints": [{"range": {"min": 1, "max": 3}}]},
            "flavor": {"type": "string", "default": "m1.small",
                       "constraints": [{"allowed_values": ["m1.small", "m1.tiny"]}]},
            "nets": {"type": "comma_delimited_list", "default": "a,b"},
            "on": {"type": "boolean", "default": "yes"},
            "data": {"type": "json", "default": {"k": 1}},
            "secret": {"type": "string", "hidden": True},
        },
    }  # fmt: skip
    p = plan(t, {"secret": "s3"})
    assert p.params["count"] == 2 and p.params["nets"] == ["a", "b"] and p.params["on"] is True
    assert p.params["data"] == {"k": 1} and p.params["OS::stack_name"] == "st"
    assert plan(t, {"secret": "s", "count": "3"}).params["count"] == 3
    for bad, message in [({"name": "toolongname"}, "length"), ({"name": "AB"}, "pattern"),
                         ({"count": "9"}, "out of range"), ({"count": "x"}, "not a number"),
                         ({"flavor": "m1.huge"}, "allowed value"), ({"on": "maybe"}, "Unrecognized")]:  # fmt: skip
        with pytest.raises(StackValidationFailed, match=message):
            plan(t, {"secret": "s", **bad})
    with pytest.raises(UserParameterMissing, match="secret"):
        plan(t)
    with pytest.raises(StackValidationFailed, match="not defined"):
        plan(t, {"secret": "s", "nope": 1})


def test_constraint_description_replaces_the_message() -> None:
    t = {"heat_template_version": "2018-08-31", "parameters": {"p": {
        "type": "string", "constraints": [{"length": {"min": 8}, "description": "too short!"}]}}}
    with pytest.raises(StackValidationFailed, match="too short!"):
        plan(t, {"p": "abc"})


def test_environment_parameters_and_defaults() -> None:
    t = {"heat_template_version": "2018-08-31",
         "parameters": {"a": {"type": "string"}, "b": {"type": "string", "default": "t"}}}
    p = plan(t, {}, {"parameters": {"a": "env"}, "parameter_defaults": {"b": "envdef"}})
    assert (p.params["a"], p.params["b"]) == ("env", "envdef")
    assert plan(t, {"a": "user"}, {"parameters": {"a": "env"}}).params["a"] == "user"
    with pytest.raises(StackValidationFailed, match="unknown section"):
        plan(t, {"a": "x"}, {"bogus": {}})


def test_get_param_get_resource_get_attr_with_paths() -> None:
    assert value({"get_param": ["m", "k", 1]}, params={"m": {"k": ["x", "y"]}}) == "y"
    assert value({"get_param": "OS::stack_id"}) == "sid"
    assert value({"get_resource": "r"}) == "id-r"
    assert value({"get_attr": ["r", "a", 1, "b"]}) == "deep"
    with pytest.raises(InvalidTemplateReference):
        value({"get_resource": "missing"})


def test_string_functions() -> None:
    assert value({"str_replace": {"template": "hi $n, $n2", "params": {"$n": "a", "$n2": 2}}}) == "hi a, 2"
    with pytest.raises(StackValidationFailed, match="not found"):
        value({"str_replace_strict": {"template": "x", "params": {"$y": "1"}}})
    with pytest.raises(StackValidationFailed, match="empty"):
        value({"str_replace_vstrict": {"template": "x$y", "params": {"$y": ""}}})
    assert value({"list_join": [",", ["a", "b"], ["c"]]}) == "a,b,c"
    assert value({"str_split": [",", "a,b,c", 1]}) == "b"
    assert value({"str_split": [",", "a,b"]}) == ["a", "b"]
    assert value({"digest": ["sha256", "x"]}) == (
        "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881")
    url = value({"make_url": {"scheme": "http", "host": "h", "port": 80, "path": "/p",
                              "query": {"a": "1"}}})  # fmt: skip
    assert url == "http://h:80/p?a=1"
    assert value({"get_file": "f.txt"}, files={"f.txt": "body"}) == "body"
    with pytest.raises(StackValidationFailed, match="No content"):
        value({"get_file": "nope"})


def test_list_and_map_functions() -> None:
    assert value({"repeat": {"for_each": {"%p%": [1, 2]}, "template": {"port": "%p%"}}}) == [
        {"port": "1"}, {"port": "2"}]  # fmt: skip
    assert value({"map_merge": [{"a": 1}, {"a": 2, "b": 3}]}) == {"a": 2, "b": 3}
    assert value({"map_replace": [{"k": "v"}, {"keys": {"k": "K"}, "values": {"v": "V"}}]}) == {"K": "V"}
    assert value({"list_concat": [[1], [1, 2]]}) == [1, 1, 2]
    assert value({"list_concat_unique": [[1], [1, 2]]}) == [1, 2]
    assert value({"filter": [[None], [1, None, 2]]}) == [1, 2]
    assert value({"contains": ["a", ["a", "b"]]}) is True


def test_functions_newer_than_the_template_are_refused() -> None:
    with pytest.raises(StackValidationFailed, match="not supported by this template version"):
        plan({"heat_template_version": "2013-05-23", "resources": {
            "r": {"type": "OS::Heat::Value", "properties": {"value": {"list_join": [",", []]}}}}})


def test_conditions_select_resources_and_outputs() -> None:
    t = {
        "heat_template_version": "2016-10-14",
        "parameters": {"env": {"type": "string", "default": "prod"}},
        "conditions": {
            "is_prod": {"equals": [{"get_param": "env"}, "prod"]},
            "not_prod": {"not": "is_prod"},
            "both": {"and": ["is_prod", {"or": [True, False]}]},
        },
        "resources": {
            "big": {"type": "OS::Heat::None", "condition": "is_prod"},
            "small": {"type": "OS::Heat::None", "condition": "not_prod"},
            "v": {"type": "OS::Heat::Value",
                  "properties": {"value": {"if": ["both", "yes", "no"]}}},
        },
        "outputs": {"o": {"value": 1, "condition": "not_prod"}},
    }  # fmt: skip
    prod = plan(t)
    assert set(prod.resources) == {"big", "v"} and prod.outputs() == {}
    dev = plan(t, {"env": "dev"})
    assert set(dev.resources) == {"small", "v"} and set(dev.outputs()) == {"o"}
    assert fns.resolve(prod.resources["v"].properties, prod.scope())["value"] == "yes"
    with pytest.raises(StackValidationFailed, match="invalid in conditions"):
        plan({**t, "conditions": {"c": {"get_resource": "v"}}})
    with pytest.raises(StackValidationFailed, match="Invalid condition"):
        plan({**t, "conditions": {"c": "nope"}})


def test_dependencies_from_references_and_depends_on() -> None:
    p = plan({"heat_template_version": "2018-08-31", "resources": {
        "a": {"type": "OS::Heat::None"},
        "b": {"type": "OS::Heat::Value", "properties": {"value": {"get_attr": ["a", "x"]}}},
        "c": {"type": "OS::Heat::Value", "properties": {"value": {"get_resource": "a"}}},
        "d": {"type": "OS::Heat::None", "depends_on": ["b", "c"]},
    }})  # fmt: skip
    assert p.deps == {"a": set(), "b": {"a"}, "c": {"a"}, "d": {"b", "c"}}
    assert p.levels() == [["a"], ["b", "c"], ["d"]]


def test_cycles_unknown_types_and_bad_references_are_400s() -> None:
    with pytest.raises(CircularDependency, match="a, b"):
        plan({"heat_template_version": "2018-08-31", "resources": {
            "a": {"type": "OS::Heat::None", "depends_on": "b"},
            "b": {"type": "OS::Heat::Value", "properties": {"value": {"get_resource": "a"}}}}})  # fmt: skip
    with pytest.raises(ResourceTypeNotFound, match="OS::Nope"):
        plan({"heat_template_version": "2018-08-31", "resources": {"a": {"type": "OS::Nope"}}})
    with pytest.raises(InvalidTemplateReference, match='"zz"'):
        plan({"heat_template_version": "2018-08-31", "resources": {
            "a": {"type": "OS::Heat::None", "depends_on": "zz"}}})  # fmt: skip
    with pytest.raises(InvalidTemplateReference, match="output"):
        plan({"heat_template_version": "2018-08-31", "resources": {},
              "outputs": {"o": {"value": {"get_attr": ["zz", "x"]}}}})  # fmt: skip
    assert levels({"x": set(), "y": {"x"}}) == [["x"], ["y"]]


def test_resource_registry_aliases_types() -> None:
    t = {"heat_template_version": "2018-08-31", "resources": {"a": {"type": "My::Thing"}}}
    p = plan(t, env={"resource_registry": {"My::Thing": "OS::Heat::None"}})
    assert p.resources["a"].type == "OS::Heat::None"
    with pytest.raises(StackValidationFailed, match="nested stack"):
        plan(t, env={"resource_registry": {"My::Thing": "thing.yaml"}})


def test_the_documented_example_template_is_valid() -> None:
    from pathlib import Path

    from stratus.orchestration.drivers.registry import build_registry
    from stratus.orchestration.service.definition import definition
    from stratus.orchestration.service.definition import plan as checked

    text = (Path(__file__).parents[3] / "docs" / "examples" / "app.yaml").read_text()
    d = definition(text, None, {}, {"count": "2"})
    p = checked(d, build_registry(), {"OS::stack_name": "app", "OS::stack_id": "x",
                                   "OS::project_id": "p"})  # fmt: skip
    assert p.deps["members"] >= {"pool", "web"} and "router_interface" in p.deps["web"]
    assert p.levels()[0] and set(p.outputs()) == {"url", "db_address", "uploads"}
