"""Which driver the configuration gives a compute agent."""

from __future__ import annotations

from pathlib import Path

import pytest

from stratus.common.config import ConfigError, load
from stratus.compute.agent.runner import make_driver
from stratus.compute.drivers.base import Capability


def test_libvirt_driver_from_the_environment(tmp_path: Path) -> None:
    pytest.importorskip("libvirt")
    cfg = load(
        tmp_path,
        environ={
            "STRATUS_COMPUTE__DRIVER": "libvirt",
            "STRATUS_COMPUTE__LIBVIRT_URI": "xen:///system",
        },
    )
    driver = make_driver(cfg, "h1")
    assert driver.name == "libvirt"
    assert driver.virt.name == "xen"  # type: ignore[attr-defined]
    assert driver.uri == "xen:///system"  # type: ignore[attr-defined]
    assert Capability.SNAPSHOT not in driver.capabilities
    kvm = make_driver(
        load(
            tmp_path,
            environ={},
            overrides={"compute": {"driver": "libvirt", "libvirt_virt_type": "kvm"}},
        ),
        "h1",
    )
    assert kvm.virt.name == "kvm" and kvm.uri == "qemu:///system"  # type: ignore[attr-defined]


def test_bad_virt_type_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="libvirt_virt_type"):
        load(tmp_path, environ={"STRATUS_COMPUTE__LIBVIRT_VIRT_TYPE": "vbox"})


def test_fake_capabilities_narrow_the_fake_driver(tmp_path: Path) -> None:
    env = {"STRATUS_COMPUTE__DRIVER": "fake", "STRATUS_COMPUTE__FAKE_CAPABILITIES": "[pause]"}
    assert make_driver(load(tmp_path, environ=env), "h1").capabilities == {Capability.PAUSE}
    env["STRATUS_COMPUTE__FAKE_CAPABILITIES"] = "[]"
    assert make_driver(load(tmp_path, environ=env), "h1").capabilities == frozenset()
    del env["STRATUS_COMPUTE__FAKE_CAPABILITIES"]
    assert make_driver(load(tmp_path, environ=env), "h1").capabilities == frozenset(Capability)
    env["STRATUS_COMPUTE__FAKE_CAPABILITIES"] = "[pause, warp]"
    with pytest.raises(ConfigError, match=r"compute.fake_capabilities: unknown \['warp'\]"):
        make_driver(load(tmp_path, environ=env), "h1")
