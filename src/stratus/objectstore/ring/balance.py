"""One rebalance of a ring builder's assignment (see :mod:`.builder`):
free the slots that must or may move, then give each free slot to the
device that wants it most."""

from __future__ import annotations

import heapq
import random
import time
from array import array

from stratus.objectstore.ring.ring import NO_DEVICE, Device

Slot = tuple[int, int]  # partition, replica


class Rebalance:
    def __init__(
        self,
        rows: list[array[int]],
        devices: dict[int, Device],
        targets: dict[int, int],
        removed: set[int],
        last_moved: array[int],
        min_part_hours: int,
        rng: random.Random,
    ) -> None:
        self.rows = rows
        self.devices = devices
        self.targets = targets
        self.removed = removed
        self.last_moved = last_moved
        self.rng = rng
        self.replicas = len(rows)
        self.now = int(time.time() // 60)
        self.hold = min_part_hours * 60
        self.counts = dict.fromkeys(targets, 0)
        self.held: dict[int, list[Slot]] = {i: [] for i in targets}
        self.free: list[Slot] = []
        self.moved_parts: set[int] = set()

    def run(self) -> int:
        """Rebalance; how many partition-replicas moved."""
        previous = [array("H", row) for row in self.rows]
        self.release_misplaced()
        self.release_surplus()
        self.assign()
        return self.record_moves(previous)

    def _held(self, part: int) -> bool:
        return bool(self.hold) and self.now - self.last_moved[part] < self.hold

    def _release(self, part: int, r: int) -> None:
        self.rows[r][part] = NO_DEVICE
        self.free.append((part, r))
        self.moved_parts.add(part)

    def release_misplaced(self) -> None:
        """1. Slots that must or may move: removed, zero weight, duplicates."""
        rows, devs, targets = self.rows, self.devices, self.targets
        n_zones = len({devs[i].zone_key for i in targets})
        for part in range(len(rows[0]) if rows else 0):
            may_move = not self._held(part)
            seen_devs: set[int] = set()
            seen_zones: set[tuple[int, int]] = set()
            for r in range(self.replicas):
                dev_id = rows[r][part]
                if dev_id == NO_DEVICE:
                    self.free.append((part, r))
                    continue
                gone = dev_id in self.removed
                unwanted = dev_id not in targets
                zone = devs[dev_id].zone_key
                dup = dev_id in seen_devs or (zone in seen_zones and n_zones >= self.replicas)
                if gone or (may_move and (unwanted or dup) and part not in self.moved_parts):
                    self._release(part, r)
                    continue
                seen_devs.add(dev_id)
                seen_zones.add(zone)
                if not unwanted:
                    self.counts[dev_id] += 1
                    self.held[dev_id].append((part, r))

    def release_surplus(self) -> None:
        """2. The surplus of devices above target, preferring partitions that
        can go to a zone under its target."""
        devs, targets, counts, rows = self.devices, self.targets, self.counts, self.rows
        wanting_zones = {devs[i].zone_key for i in targets if counts[i] < targets[i]}
        for dev_id in targets:
            surplus = counts[dev_id] - targets[dev_id]
            if surplus <= 0:
                continue
            own_zone = devs[dev_id].zone_key
            slots = self.held[dev_id]
            self.rng.shuffle(slots)
            for part, r in slots:
                if surplus <= 0:
                    break
                if part in self.moved_parts or self._held(part):
                    continue
                if own_zone not in wanting_zones:
                    other = {devs[rows[x][part]].zone_key for x in range(self.replicas) if x != r}
                    if wanting_zones <= other:
                        continue  # nowhere better to go in a zone of its own
                self._release(part, r)
                counts[dev_id] -= 1
                surplus -= 1

    def assign(self) -> None:
        """3. Give every free slot to the device that wants it most, among
        those in a zone (then region) the partition does not use yet."""
        rows, devs, replicas = self.rows, self.devices, self.replicas
        free, targets, counts, rng = self.free, self.targets, self.counts, self.rng
        n_regions = len({devs[i].region for i in targets})
        n_zones = len({devs[i].zone_key for i in targets})
        heap = [(counts[i] - targets[i], rng.random(), i) for i in targets]
        heapq.heapify(heap)
        free.sort()
        for part, r in free:
            used = [rows[x][part] for x in range(replicas) if rows[x][part] != NO_DEVICE]
            used_zones = {devs[i].zone_key for i in used}
            used_regions = {devs[i].region for i in used}
            region_possible = len(used_regions) < n_regions
            zone_possible = len(used_zones) < n_zones
            best: tuple[int, int, int, int] | None = None
            best_entry: tuple[int, float, int] | None = None
            popped: list[tuple[int, float, int]] = []
            while heap:
                entry = heapq.heappop(heap)
                neg_want, _, dev_id = entry
                if neg_want != counts[dev_id] - targets[dev_id]:
                    continue  # stale
                popped.append(entry)
                dev = devs[dev_id]
                if dev_id in used:
                    level = 2
                elif dev.zone_key in used_zones:
                    level = 1
                else:
                    level = 0
                region_level = 0 if dev.region not in used_regions else 1
                key = (level, 0 if neg_want < 0 else 1, region_level, neg_want)
                if best is None or key < best:
                    best, best_entry = key, entry
                ideal_level = 0 if zone_possible else 1
                if key[0] == ideal_level and key[1] == 0:
                    if key[2] == 0 or not region_possible:
                        break
                if neg_want >= 0 and best[0] == ideal_level:
                    break  # nothing further wants partitions
            if best_entry is None:
                raise ValueError("no device can take a partition")
            dev_id = best_entry[2]
            rows[r][part] = dev_id
            counts[dev_id] += 1
            for entry in popped:
                if entry is not best_entry:
                    heapq.heappush(heap, entry)
            heapq.heappush(heap, (counts[dev_id] - targets[dev_id], rng.random(), dev_id))

    def record_moves(self, previous: list[array[int]]) -> int:
        moved = 0
        touched = {part for part, _ in self.free}
        for r in range(self.replicas):
            new, old = self.rows[r], previous[r]
            for part in touched:
                if new[part] != old[part]:
                    self.last_moved[part] = self.now
                    if old[part] != NO_DEVICE:
                        moved += 1
        return moved
