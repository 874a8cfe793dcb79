"""Building and rebalancing a ring.

The builder owns the devices and the previous assignment.  ``rebalance()``:

1. computes each device's *target* number of partition-replicas: proportional to
   weight, but with no zone holding more than one replica of every partition
   when there are at least as many zones as replicas (water-filling: a capped
   zone's surplus goes to the others by weight), and no device more than one;
2. frees the slots that must move: those on removed devices (always), and,
   for partitions not moved in the last ``min_part_hours``, those on
   zero-weight devices, duplicates in one zone, and the surplus of devices
   above target -- at most one replica of a partition per rebalance, and
   preferring partitions that can go to an under-target zone;
3. gives every free slot to the device that wants partitions most among those
   in a zone (then region) the partition does not use yet.

Only freed slots move, so adding one device to N moves about 1/(N+1) of the
partition-replicas.
"""

from __future__ import annotations

import random
import secrets
from array import array
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from stratus.objectstore.ring.balance import Rebalance
from stratus.objectstore.ring.ring import (
    FORMAT,
    MAX_PART_POWER,
    NO_DEVICE,
    Device,
    Ring,
    array_from_bytes,
    array_to_bytes,
    read_ring_file,
    write_ring_file,
)


@dataclass(slots=True)
class RebalanceResult:
    moved: int  # partition-replicas assigned to a different device than before
    balance: float  # the worst device's deviation from its weight share, in %


class RingBuilder:
    """Devices, weights and the assignment of partitions to them."""

    def __init__(
        self,
        part_power: int,
        replicas: int,
        min_part_hours: int = 0,
        *,
        hash_prefix: str | None = None,
        hash_suffix: str | None = None,
    ) -> None:
        if not 0 <= part_power <= MAX_PART_POWER:
            raise ValueError(f"part_power must be 0..{MAX_PART_POWER}")
        if replicas < 1:
            raise ValueError("replicas must be at least 1")
        self.part_power = part_power
        self.replicas = replicas
        self.min_part_hours = min_part_hours
        self.hash_prefix = secrets.token_hex(8) if hash_prefix is None else hash_prefix
        self.hash_suffix = secrets.token_hex(8) if hash_suffix is None else hash_suffix
        self.devices: dict[int, Device] = {}
        self.removed: set[int] = set()  # removed, but still holding partitions
        self.next_id = 0
        self.assignments: list[array[int]] | None = None
        self.last_moved = array("I", bytes(4 << part_power))  # minutes since the epoch
        self.version = 0

    @classmethod
    def create(cls, part_power: int, replicas: int, min_part_hours: int = 0) -> RingBuilder:
        return cls(part_power, replicas, min_part_hours)

    @property
    def partitions(self) -> int:
        return 1 << self.part_power

    # -- devices ---------------------------------------------------------------

    def add_device(
        self,
        region: int,
        zone: int,
        ip: str,
        port: int,
        device: str,
        weight: float,
        meta: str = "",
        id: int | None = None,
    ) -> Device:
        dev_id = self.next_id if id is None else id
        if dev_id in self.devices or not 0 <= dev_id < NO_DEVICE:
            raise ValueError(f"device id {dev_id} is taken or out of range")
        if weight < 0:
            raise ValueError("weight must not be negative")
        for other in self.devices.values():
            if (other.ip, other.port, other.device) == (ip, port, device):
                raise ValueError(f"{ip}:{port}/{device} is already in the ring")
        dev = Device(dev_id, region, zone, ip, port, device, float(weight), meta)
        self.devices[dev_id] = dev
        self.next_id = max(self.next_id, dev_id + 1)
        return dev

    def remove_device(self, dev_id: int) -> None:
        """Take a device out; its partitions move at the next rebalance."""
        self._get(dev_id)
        self.removed.add(dev_id)

    def set_weight(self, dev_id: int, weight: float) -> None:
        if weight < 0:
            raise ValueError("weight must not be negative")
        self._get(dev_id).weight = float(weight)

    def _get(self, dev_id: int) -> Device:
        if dev_id not in self.devices or dev_id in self.removed:
            raise KeyError(f"no device {dev_id}")
        return self.devices[dev_id]

    def _active(self) -> list[Device]:
        return [d for i, d in self.devices.items() if i not in self.removed and d.weight > 0]

    # -- targets ---------------------------------------------------------------

    def targets(self) -> dict[int, int]:
        """Partition-replicas each active device should hold."""
        active = self._active()
        parts, slots = self.partitions, self.partitions * self.replicas
        if len(active) < self.replicas:
            raise ValueError(f"{self.replicas} replicas need at least as many weighted devices")
        zones: dict[tuple[int, int], list[Device]] = {}
        for dev in active:
            zones.setdefault(dev.zone_key, []).append(dev)
        zone_cap = float(parts) if len(zones) >= self.replicas else None
        zone_share = _waterfill(
            {z: sum(d.weight for d in ds) for z, ds in zones.items()}, slots, zone_cap
        )
        shares: dict[int, float] = {}
        for zone, devs in zones.items():
            shares.update(
                _waterfill({d.id: d.weight for d in devs}, zone_share[zone], float(parts))
            )
        return _round_shares(shares, slots)

    # -- rebalancing -----------------------------------------------------------

    def rebalance(self, seed: int | None = None) -> RebalanceResult:
        """Move as few partition-replicas as it takes to meet the targets
        (see the module's description)."""
        if self.assignments is None:
            self.assignments = [
                array("H", [NO_DEVICE]) * self.partitions for _ in range(self.replicas)
            ]
        moved = Rebalance(
            self.assignments,
            self.devices,
            self.targets(),
            self.removed,
            self.last_moved,
            self.min_part_hours,
            random.Random(seed),
        ).run()
        for dev_id in list(self.removed):
            del self.devices[dev_id]
        self.removed.clear()
        self.version += 1
        return RebalanceResult(moved=moved, balance=self.balance())

    # -- reporting -------------------------------------------------------------

    def part_counts(self) -> dict[int, int]:
        counts = dict.fromkeys(self.devices, 0)
        for row in self.assignments or []:
            for dev_id in row:
                if dev_id in counts:
                    counts[dev_id] += 1
        return counts

    def balance(self) -> float:
        """The worst deviation (in %) of any weighted device from its weight share."""
        counts = self.part_counts()
        weights = {i: d.weight for i, d in self.devices.items() if i not in self.removed}
        total = sum(weights.values())
        slots = self.partitions * self.replicas
        worst = 0.0
        for dev_id, weight in weights.items():
            if weight > 0:
                want = slots * weight / total
                worst = max(worst, abs(counts.get(dev_id, 0) - want) * 100 / want)
        return worst

    def describe(self) -> str:
        counts = self.part_counts()
        total = sum(d.weight for d in self.devices.values()) or 1.0
        slots = self.partitions * self.replicas
        lines = [
            f"{self.partitions} partitions, {self.replicas} replicas, "
            f"{len(self.devices)} devices, min_part_hours {self.min_part_hours}, "
            f"version {self.version}, balance {self.balance():.2f}%",
            f"{'id':>4} {'region':>6} {'zone':>4} {'address':<21} {'device':<12} "
            f"{'weight':>8} {'partitions':>10} {'balance %':>9}",
        ]
        for dev in sorted(self.devices.values(), key=lambda d: d.id):
            want = slots * dev.weight / total
            bal = (counts[dev.id] - want) * 100 / want if want else 0.0
            flag = " (removed)" if dev.id in self.removed else ""
            lines.append(
                f"{dev.id:>4} {dev.region:>6} {dev.zone:>4} {f'{dev.ip}:{dev.port}':<21} "
                f"{dev.device:<12} {dev.weight:>8.2f} {counts[dev.id]:>10} {bal:>9.2f}{flag}"
            )
        return "\n".join(lines)

    # -- files -----------------------------------------------------------------

    def get_ring(self) -> Ring:
        if self.assignments is None:
            raise ValueError("the ring was never rebalanced")
        in_use = {i for row in self.assignments for i in set(row)}
        devices = [d for i, d in sorted(self.devices.items()) if i in in_use or d.weight > 0]
        return Ring(
            self.part_power,
            self.replicas,
            devices,
            [array("H", row) for row in self.assignments],
            hash_prefix=self.hash_prefix,
            hash_suffix=self.hash_suffix,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "part_power": self.part_power,
            "replicas": self.replicas,
            "min_part_hours": self.min_part_hours,
            "hash_prefix": self.hash_prefix,
            "hash_suffix": self.hash_suffix,
            "devices": [asdict(d) for d in self.devices.values()],
            "removed": sorted(self.removed),
            "next_id": self.next_id,
            "assignments": None
            if self.assignments is None
            else [array_to_bytes(row) for row in self.assignments],
            "last_moved": array_to_bytes(self.last_moved),
            "version": self.version,
        }

    def save(self, path: str | Path) -> None:
        """Write the builder and its ring (when balanced) to one file, atomically."""
        ring = self.get_ring().to_dict() if self.assignments is not None else None
        write_ring_file(path, {"format": FORMAT, "ring": ring, "builder": self.to_dict()})

    @classmethod
    def load(cls, path: str | Path) -> RingBuilder:
        data = read_ring_file(path).get("builder")
        if data is None:
            raise ValueError(f"{path}: a ring file without its builder")
        builder = cls(
            data["part_power"],
            data["replicas"],
            data["min_part_hours"],
            hash_prefix=data["hash_prefix"],
            hash_suffix=data["hash_suffix"],
        )
        builder.devices = {d["id"]: Device(**d) for d in data["devices"]}
        builder.removed = set(data["removed"])
        builder.next_id = data["next_id"]
        if data["assignments"] is not None:
            builder.assignments = [array_from_bytes("H", row) for row in data["assignments"]]
        builder.last_moved = array_from_bytes("I", data["last_moved"])
        builder.version = data["version"]
        return builder


def _waterfill(weights: dict[Any, float], total: float, cap: float | None) -> dict[Any, float]:
    """Split ``total`` by weight, no share above ``cap``; capped surplus goes to
    the others by weight."""
    shares: dict[Any, float] = {}
    left = dict(weights)
    remaining = total
    while left:
        weight = sum(left.values())
        if weight <= 0:
            break
        over = [] if cap is None else [k for k, w in left.items() if remaining * w / weight > cap]
        if not over:
            shares.update({k: remaining * w / weight for k, w in left.items()})
            return shares
        for key in over:
            shares[key] = float(cap)  # type: ignore[arg-type]
            remaining -= float(cap)  # type: ignore[arg-type]
            del left[key]
    shares.update(dict.fromkeys(left, 0.0))
    return shares


def _round_shares(shares: dict[int, float], total: int) -> dict[int, int]:
    """Integers summing to ``total``, each the floor or ceiling of its share
    (largest remainders round up)."""
    out = {k: int(v) for k, v in shares.items()}
    short = total - sum(out.values())
    by_remainder: Iterable[int] = sorted(shares, key=lambda k: out[k] - shares[k])
    for key in list(by_remainder)[: max(short, 0)]:
        out[key] += 1
    return out


def folder_salt(folder: str | Path) -> tuple[str, str] | None:
    """The hash prefix and suffix of a ring already in ``folder``: every ring
    of a cluster must share them (like Swift's swift_hash_path_* settings)."""
    for path in sorted(Path(folder).glob("*.ring.gz")):
        try:
            ring = RingBuilder.load(path)
        except Exception:  # noqa: BLE001 - an unreadable file has no salt to share
            continue
        return ring.hash_prefix, ring.hash_suffix
    return None
