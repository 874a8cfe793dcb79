"""The pure-data resource types and the scaling arithmetic, without a cloud."""

from __future__ import annotations

import asyncio
import email
from typing import Any

import pytest

from stratus.orchestration.drivers.base import Context
from stratus.orchestration.drivers.registry import build_registry
from stratus.orchestration.drivers.scaling import new_size
from stratus.orchestration.errors import StackValidationFailed

REGISTRY = build_registry()


def make(kind: str, props: dict[str, Any], configs: dict[str, str] | None = None) -> Any:
    t = REGISTRY[kind]
    ctx = Context("s", "0" * 32, "r", config=(configs or {}).get)
    return asyncio.run(t.create(None, t.validate(props, "resources.r"), ctx))  # type: ignore[arg-type]


def test_a_multipart_part_is_flattened_and_a_config_id_becomes_its_text() -> None:
    inner = make("OS::Heat::MultipartMime", {"parts": [
        {"config": "a", "subtype": "x-shellscript", "filename": "a.sh"}, {"config": "b"}]})
    cid = "1f0e4a3c-2b3d-4e5f-8a9b-0c1d2e3f4a5b"
    outer = make("OS::Heat::MultipartMime", {"parts": [
        {"config": inner.physical_id, "type": "multipart"}, {"config": cid},
        {"config": "é"}]}, {inner.physical_id: inner.attributes["config"], cid: "#cloud-config\n"})
    parts = email.message_from_string(outer.attributes["config"]).get_payload()
    assert [(p.get_content_subtype(), p.get_filename(), p.get_payload(decode=True)) for p in parts] == [
        ("x-shellscript", "a.sh", b"a"), ("plain", None, b"b"), ("plain", None, b"#cloud-config\n"),
        ("plain", None, "é".encode())]  # fmt: skip
    assert parts[3].get_content_charset() == "utf-8"


def test_cloud_config_is_a_header_and_yaml() -> None:
    out = make("OS::Heat::CloudConfig", {"cloud_config": {"runcmd": ["true"]}})
    assert out.attributes["config"] == "#cloud-config\nruncmd:\n- 'true'\n"


@pytest.mark.parametrize(("kind", "props", "message"), [
    ("OS::Heat::MultipartMime", {"parts": [{"config": "x", "type": "zip"}]}, "not an allowed"),
    ("OS::Heat::MultipartMime", {"parts": [{"text": "x"}]}, "each part is a map"),
    ("OS::Heat::SoftwareConfig", {"inputs": [{"type": "String"}]}, "with a name"),
    ("OS::Nova::ServerGroup", {"policies": ["near"]}, "not an allowed value"),
    ("OS::Heat::AutoScalingGroup", {"min_size": 3, "max_size": 1,
                                    "resource": {"type": "OS::Heat::None"}}, "MaxSize"),
    ("OS::Heat::AutoScalingGroup", {"min_size": 1, "max_size": 2, "desired_capacity": 5,
                                    "resource": {"type": "OS::Heat::None"}}, "DesiredCapacity"),
    ("OS::Heat::ScalingPolicy", {"auto_scaling_group_id": "g", "adjustment_type": "double",
                                 "scaling_adjustment": 1}, "not an allowed value"),
])  # fmt: skip
def test_bad_properties_are_validation_failures(kind: str, props: dict[str, Any], message: str) -> None:
    with pytest.raises(StackValidationFailed, match=message):
        REGISTRY[kind].validate(props, "resources.r")


@pytest.mark.parametrize(("current", "kind", "adjustment", "step", "size"), [
    (2, "change_in_capacity", 2, 0, 4), (2, "change_in_capacity", -3, 0, -1),
    (5, "exact_capacity", 1, 0, 1), (3, "percent_change_in_capacity", -50, 0, 2),
    (1, "percent_change_in_capacity", 10, 0, 2), (10, "percent_change_in_capacity", 25, 0, 12),
    (10, "percent_change_in_capacity", 10, 3, 13),
])  # fmt: skip
def test_adjustments_follow_heats_rules(current: int, kind: str, adjustment: float, step: int,
                                        size: int) -> None:  # fmt: skip
    assert new_size(current, kind, adjustment, step) == size


def test_an_autoscaling_group_drops_its_oldest_members_a_resource_group_its_highest() -> None:
    from stratus.orchestration.drivers.heat import ResourceGroup
    from stratus.orchestration.drivers.scaling import AutoScalingGroup

    three = dict.fromkeys((0, 1, 2), {})
    assert AutoScalingGroup._plan(three, 2) == ([0], [])
    assert AutoScalingGroup._plan({1: {}, 2: {}}, 4) == ([], [3, 4])  # after the newest
    assert AutoScalingGroup._plan({}, 2) == ([], [0, 1])
    assert ResourceGroup._plan(three, 2) == ([2], [])
    assert ResourceGroup._plan({1: {}}, 3) == ([], [0, 2])
