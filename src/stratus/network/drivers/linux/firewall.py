"""The host's filtering in nftables (see ``nftrules`` for its shape): slots
of the ports, conntrack zones of the networks, and one transaction per
change.  What it remembers (a port's slot, a bridge's zone) is read back
from the ruleset at start, so a restarted agent goes on where it stopped.

Changes asked for while another is being applied wait, then go together
in one ``nft`` run (a port's rules and its group's new members, several
ports of one pass): one process and one read of the ruleset instead of
one each.  Each script stands alone, so when the joint run fails each is
run again on its own and only the one at fault fails."""

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
        self._queue: list[tuple[str, asyncio.Future[None]]] = []  # waiting for _serial

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
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append((script, done))
        try:
            async with self._serial:
                if not done.done():  # nobody took it along: this run takes all that wait
                    await asyncio.sleep(0)  # the others of this pass, started with it, join
                    batch, self._queue = self._queue, []
                    try:
                        await self._run(batch)
                    finally:  # cancelled half-way: the next run takes what is left
                        self._queue[:0] = [(t, f) for t, f in batch if not f.done()]
        except asyncio.CancelledError:
            # A caller that gave up takes its script back: no later run
            # applies what nobody waits for.
            if (script, done) in self._queue:
                self._queue.remove((script, done))
            done.cancel()
            raise
        try:
            await done
        except CommandError:
            # What this process remembers may be behind the ruleset (another
            # run changed it): read it again, and let the caller retry.
            await self._load()
            raise

    async def _run(self, batch: list[tuple[str, asyncio.Future[None]]]) -> None:
        try:
            await self.place.nft("".join(script.rstrip("\n") + "\n" for script, _ in batch))
        except CommandError as exc:
            if len(batch) == 1:
                _settle(batch[0][1], exc)
                return
            for script, done in batch:  # alone, so that only the one at fault fails
                try:
                    await self.place.nft(script)
                    _settle(done, None)
                except CommandError as alone:
                    _settle(done, alone)
            return
        for _, done in batch:
            _settle(done, None)

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


def _settle(done: asyncio.Future[None], error: CommandError | None) -> None:
    """A run's outcome to its caller, unless the caller gave up (cancelled)."""
    if done.done():
        return
    if error is None:
        done.set_result(None)
    else:
        done.set_exception(error)
