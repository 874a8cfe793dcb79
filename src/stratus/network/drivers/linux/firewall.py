"""The host's filtering in nftables (see ``nftrules`` for its shape): slots
of the ports, conntrack zones of the networks, and one transaction per
change.  What it remembers (a port's slot, a bridge's zone) is read back
from the ruleset at start, so a restarted agent goes on where it stopped."""

from __future__ import annotations

import asyncio
import logging

from stratus.network.drivers.base import PortSpec, SecurityGroupSpec
from stratus.network.drivers.linux import names as n
from stratus.network.drivers.linux import nftrules as r
from stratus.network.drivers.linux.command import CommandError, Place

log = logging.getLogger(__name__)


class Firewall:
    def __init__(self, place: Place):
        self.place = place
        self.slots: dict[str, int] = {}  # tap name -> slot
        self.zones: dict[str, int] = {}  # bridge name -> conntrack zone
        self._lock = asyncio.Lock()  # slots are given out one at a time
        # One transaction at a time: nft reads the ruleset, then commits; a
        # commit by another nft in between makes it fail or retry.
        self._serial = asyncio.Lock()

    async def start(self) -> None:
        await self.place.nft(r.base_script())
        await self._load()

    async def _load(self) -> None:
        self.slots = {
            key: value & r.MAX_SLOT for key, value in await self._map("bridge", "in_marks")
        }
        self.zones = dict(await self._map("inet", "zones"))

    async def _map(self, family: str, name: str) -> list[tuple[str, int]]:
        found = await self.place.nft_json("list", "map", family, n.TABLE, name)
        out = []
        for item in found:
            for key, value in (item.get("map") or {}).get("elem", []):
                out.append((str(key), int(value)))
        return out

    async def chains(self) -> set[str]:
        """Names of the chains in this host's tables."""
        found = await self.place.nft_json("list", "chains")
        return {
            c["chain"]["name"] for c in found if "chain" in c and c["chain"].get("table") == n.TABLE
        }

    async def _apply(self, script: str) -> None:
        try:
            async with self._serial:
                await self.place.nft(script)
        except CommandError:
            # What this process remembers may be behind the ruleset (another
            # run changed it): read it again, and let the caller retry.
            await self._load()
            raise

    # -- ports --------------------------------------------------------------

    async def ensure_port(self, spec: PortSpec) -> None:
        async with self._lock:
            slot = self.slots.get(spec.tap)
            if slot is None:
                used = set(self.slots.values())
                slot = next((s for s in range(1, r.MAX_SLOT + 1) if s not in used), None)
                if slot is None:
                    raise CommandError(["nft"], 1, "no free port slot on this host")
                self.slots[spec.tap] = slot
        await self._apply(r.port_script(spec, slot))  # on failure: slots read again

    async def remove_port(self, port_id: str) -> None:
        tap = n.tap_name(port_id)
        # Without a slot there are no marks, but a crash may have left chains.
        slot = self.slots.get(tap, 0)
        await self._apply(r.unfilter_script(port_id, tap, slot))
        self.slots.pop(tap, None)

    # -- security groups ------------------------------------------------------

    async def ensure_group(self, spec: SecurityGroupSpec) -> None:
        await self._apply(r.group_script(spec))

    async def remove_group(self, group_id: str) -> None:
        await self._apply(r.ungroup_script(group_id))
        try:
            async with self._serial:
                await self.place.nft(r.unset_script(group_id))
        except CommandError as exc:
            # Another group's rule still names it as remote: left empty.
            log.debug("member sets of group %s kept: %s", group_id, exc.stderr)

    # -- conntrack zones ------------------------------------------------------

    async def ensure_zone(self, bridge: str, zone: int) -> None:
        old = self.zones.get(bridge)
        if old != zone:
            await self._apply(r.zone_script(bridge, zone, old))
            self.zones[bridge] = zone

    async def remove_zone(self, bridge: str) -> None:
        if bridge in self.zones:
            await self._apply(r.unzone_script(bridge))
            self.zones.pop(bridge, None)
