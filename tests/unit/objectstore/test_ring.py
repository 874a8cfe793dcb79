"""The ring and its builder: balance, zones, movement, determinism, files."""

from __future__ import annotations

from pathlib import Path

import pytest

from stratus.objectstore.ring.builder import RingBuilder
from stratus.objectstore.ring.ring import Ring, hash_path


def build(
    zones: int = 3, per_zone: int = 2, part_power: int = 10, replicas: int = 3, regions: int = 1
) -> RingBuilder:
    b = RingBuilder(part_power, replicas, hash_prefix="pre", hash_suffix="suf")
    for z in range(zones):
        for d in range(per_zone):
            b.add_device(z % regions, z, f"10.0.{z}.1", 6200, f"sd{d}", 100.0)
    b.rebalance(seed=1)
    return b


def slot_counts(ring: Ring) -> dict[int, int]:
    counts = {d.id: 0 for d in ring.devices}
    for part in range(ring.partitions):
        for dev in ring.nodes(part):
            counts[dev.id] += 1
    return counts


def test_weights_are_honoured() -> None:
    b = RingBuilder(12, 3, hash_prefix="", hash_suffix="")
    weights = [100, 200, 300, 100, 200, 300, 100, 200, 300, 150, 150, 300]
    for i, w in enumerate(weights):
        b.add_device(0, i % 4, f"10.0.0.{i}", 6200, "sda", w)
    b.rebalance(seed=3)
    counts = slot_counts(b.get_ring())
    total = sum(weights)
    for dev_id, w in enumerate(weights):
        want = 4096 * 3 * w / total
        assert abs(counts[dev_id] - want) / want < 0.03
    assert b.balance() < 3


def test_replicas_in_distinct_zones_and_regions() -> None:
    ring = build(zones=4, per_zone=3, regions=2).get_ring()
    for part in range(ring.partitions):
        nodes = ring.nodes(part)
        assert len({d.zone_key for d in nodes}) == 3
        assert len({d.region for d in nodes}) == 2


def test_zone_cap_when_zone_weights_differ() -> None:
    b = RingBuilder(10, 3)
    b.add_device(0, 0, "10.0.0.1", 6200, "a", 1000)  # would want most replicas
    b.add_device(0, 1, "10.0.1.1", 6200, "a", 100)
    b.add_device(0, 2, "10.0.2.1", 6200, "a", 100)
    b.add_device(0, 2, "10.0.2.1", 6200, "b", 100)
    b.rebalance(seed=1)
    ring = b.get_ring()
    assert all(len({d.zone for d in ring.nodes(p)}) == 3 for p in range(ring.partitions))


def test_distinct_devices_when_zones_are_too_few() -> None:
    b = RingBuilder(8, 3)
    for d in range(4):
        b.add_device(0, 0, "10.0.0.1", 6200, f"sd{d}", 100)
    b.rebalance(seed=1)
    ring = b.get_ring()
    assert all(len({d.id for d in ring.nodes(p)}) == 3 for p in range(ring.partitions))


def test_adding_a_device_moves_about_one_nth() -> None:
    b = build(zones=3, per_zone=3, part_power=12)
    before = b.get_ring()
    b.add_device(0, 3, "10.0.3.1", 6200, "new", 100.0)
    result = b.rebalance(seed=2)
    after = b.get_ring()
    moved = sum(
        len({d.id for d in before.nodes(p)} - {d.id for d in after.nodes(p)})
        for p in range(after.partitions)
    )
    slots = after.partitions * 3
    assert moved == result.moved
    assert moved <= slots / 10 * 1.1  # 1/N of the slots, N = 10 devices
    assert slot_counts(after)[9] == pytest.approx(slots / 10, rel=0.03)
    # At most one replica of a partition moved in one rebalance.
    for p in range(after.partitions):
        assert len({d.id for d in before.nodes(p)} & {d.id for d in after.nodes(p)}) >= 2
    assert all(len({d.zone for d in after.nodes(p)}) == 3 for p in range(after.partitions))


def test_adding_to_a_full_zone_respects_the_zone_cap() -> None:
    b = build(zones=3, per_zone=3, part_power=10)
    b.add_device(0, 1, "10.0.1.9", 6200, "new", 100.0)
    result = b.rebalance(seed=2)
    ring = b.get_ring()
    # Zone 1 already holds one replica of every partition: the new device
    # takes a share of its zone's, and only those move.
    assert slot_counts(ring)[9] == 1024 / 4
    assert result.moved == 1024 / 4
    assert all(len({d.zone for d in ring.nodes(p)}) == 3 for p in range(ring.partitions))


def test_removing_and_reweighting() -> None:
    b = build(zones=3, per_zone=2)
    b.remove_device(0)
    b.rebalance(seed=4)
    ring = b.get_ring()
    assert 0 not in {d.id for d in ring.devices}
    assert all(len({d.zone for d in ring.nodes(p)}) == 3 for p in range(ring.partitions))
    b.set_weight(3, 0)
    b.rebalance(seed=5)
    assert slot_counts(b.get_ring()).get(3, 0) == 0


def test_min_part_hours_holds_partitions() -> None:
    b = RingBuilder(8, 3, min_part_hours=1)
    for z in range(3):
        b.add_device(0, z, f"10.0.{z}.1", 6200, "sda", 100)
    b.rebalance(seed=1)
    b.add_device(0, 0, "10.0.0.2", 6200, "sdb", 100)
    assert b.rebalance(seed=2).moved == 0  # everything moved within the hour


def test_partition_mapping_is_deterministic() -> None:
    ring = build().get_ring()
    part = ring.partition("AUTH_a", "c", "o")
    assert part == ring.partition("AUTH_a", "c", "o")
    digest = hash_path("AUTH_a", "c", "o", prefix=b"pre", suffix=b"suf")
    assert part == int.from_bytes(digest[:4], "big") >> (32 - 10)
    assert ring.hash("AUTH_a", "c", "o") == digest.hex()
    assert ring.partition_of_hash(digest.hex()) == part
    assert ring.locate("AUTH_a", "c", "o") == (part, digest.hex(), ring.nodes(part))
    other = build()  # a different secret maps names elsewhere
    other.hash_prefix = "x"
    assert other.get_ring().hash("AUTH_a", "c", "o") != digest.hex()
    with pytest.raises(ValueError):
        hash_path("a", None, "o")


def test_handoffs_are_stable_and_prefer_other_zones() -> None:
    ring = build(zones=5, per_zone=2).get_ring()
    for part in (0, 17, 500):
        primaries = {d.id for d in ring.nodes(part)}
        handoffs = list(ring.handoffs(part))
        assert handoffs == list(ring.handoffs(part))
        assert not primaries & {d.id for d in handoffs}
        assert len(handoffs) == 10 - 3
        used = {d.zone for d in ring.nodes(part)}
        assert {d.zone for d in handoffs[:2]} == {0, 1, 2, 3, 4} - used


def test_save_and_load(tmp_path: Path) -> None:
    b = build()
    path = tmp_path / "object.builder"
    b.save(path)
    loaded = RingBuilder.load(path)
    assert loaded.to_dict() == b.to_dict()
    ring = Ring.load(path)
    assert [ring.nodes(p) for p in range(ring.partitions)] == [
        b.get_ring().nodes(p) for p in range(ring.partitions)
    ]
    b.get_ring().save(tmp_path / "object.ring.gz")
    ring2 = Ring.load(tmp_path / "object.ring.gz")
    assert ring2.hash("a", "c") == ring.hash("a", "c")
    loaded.add_device(0, 0, "10.0.9.1", 6200, "sdz", 100)
    loaded.rebalance(seed=9)
    assert loaded.version == b.version + 1
    with pytest.raises(ValueError):
        Ring.load(_unbalanced(tmp_path))


def _unbalanced(tmp_path: Path) -> Path:
    b = RingBuilder(4, 1)
    b.add_device(0, 0, "10.0.0.1", 6200, "sda", 1)
    b.save(tmp_path / "new.builder")
    return tmp_path / "new.builder"


def test_describe_and_errors() -> None:
    b = build()
    text = b.describe()
    assert "balance" in text and "sd1" in text and len(text.splitlines()) == 2 + 6
    with pytest.raises(ValueError):
        b.add_device(0, 0, "10.0.0.1", 6200, "sd0", 100)  # taken
    with pytest.raises(KeyError):
        b.set_weight(99, 1)
    few = RingBuilder(4, 3)
    few.add_device(0, 0, "10.0.0.1", 6200, "sda", 1)
    with pytest.raises(ValueError):
        few.rebalance()
