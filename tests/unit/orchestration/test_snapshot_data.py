"""A snapshot's volume backups and the definition a restore makes of them."""

from __future__ import annotations

from stratus.orchestration.drivers.registry import build_registry
from stratus.orchestration.service.snapshots import backed_up, restored


def test_a_restore_makes_each_backed_up_volume_from_its_backup_and_nothing_else() -> None:
    data = {"resources": {
        "data": {"type": "OS::Cinder::Volume", "resource_data": {"backup_id": "b1"}},
        "logs": {"type": "OS::Cinder::Volume", "resource_data": {}},
        "net": {"type": "OS::Neutron::Net", "resource_data": {"backup_id": "x"}},
    }}  # fmt: skip
    assert backed_up(data) == {"data": "b1"}
    template = {"heat_template_version": "2018-08-31", "resources": {
        "data": {"type": "OS::Cinder::Volume", "properties": {
            "size": {"get_param": "size"}, "name": "d", "backup_id": "old"}},
        "logs": {"type": "OS::Cinder::Volume", "properties": {"size": 1}},
    }}  # fmt: skip
    out = restored(template, backed_up(data))
    assert out["resources"]["data"]["properties"] == {"name": "d", "backup_id": "b1"}
    assert out["resources"]["logs"] == template["resources"]["logs"]
    assert template["resources"]["data"]["properties"]["backup_id"] == "old"  # not changed


def test_a_new_backup_id_replaces_a_volume_and_a_dropped_one_does_not() -> None:
    volume = build_registry()["OS::Cinder::Volume"]
    assert not volume.updatable({"size": 1}, {"backup_id": "b1"})
    assert not volume.updatable({"backup_id": "b1"}, {"backup_id": "b2"})
    assert volume.updatable({"backup_id": "b1"}, {"size": 1})
    assert volume.updatable({"backup_id": "b1", "name": "a"}, {"backup_id": "b1", "name": "b"})
