"""Interfaces: bridges, VXLAN devices, taps and veth pairs, made to match a
description with as few ``ip`` runs as possible (one read, one batch of the
changes), and left alone when they already match."""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass
from typing import Any

from stratus.network.drivers.linux.command import CommandError, Place, run

VXLAN_PORT = 4789


@dataclass(frozen=True)
class Link:
    name: str
    kind: str  # bridge, vxlan, tun, veth, ... ("" for a plain device)
    up: bool
    mtu: int
    alias: str
    address: str
    master: str | None
    data: dict[str, Any]  # the kind's details (a VXLAN's id, local address, ...)

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> Link:
        info = raw.get("linkinfo") or {}
        return cls(
            name=raw["ifname"],
            kind=info.get("info_kind", ""),
            up="UP" in raw.get("flags", []),
            mtu=int(raw.get("mtu", 0)),
            alias=raw.get("ifalias", ""),
            address=raw.get("address", ""),
            master=raw.get("master"),
            data=info.get("info_data") or {},
        )


async def links(place: Place) -> dict[str, Link]:
    return {d["ifname"]: Link.parse(d) for d in await place.ip_json("-d", "link", "show")}


async def link(place: Place, name: str) -> Link | None:
    found = await place.ip_json("-d", "link", "show", "dev", name)
    return Link.parse(found[0]) if found else None


def _settings(
    current: Link | None,
    name: str,
    *,
    alias: str,
    mtu: int,
    up: bool,
    master: str | None = None,
) -> list[str]:
    """``ip link set`` lines that make an interface what is asked; a new
    one gets no IPv6 link-local address (the host is not on the networks)."""
    lines = []
    if current is None or current.alias != alias:
        lines.append(f"link set dev {name} alias {alias}")
    if current is None:
        lines.append(f"link set dev {name} addrgenmode none")
    if current is None or current.mtu != mtu:
        lines.append(f"link set dev {name} mtu {mtu}")
    if master is not None and (current is None or current.master != master):
        lines.append(f"link set dev {name} master {master}")
    if current is None or current.up != up:
        lines.append(f"link set dev {name} {'up' if up else 'down'}")
    return lines


async def ensure_bridge(place: Place, name: str, *, alias: str, mtu: int, up: bool) -> None:
    current = await link(place, name)
    lines = []
    if current is not None and current.kind != "bridge":
        lines.append(f"link del dev {name}")
        current = None
    if current is None:
        # No STP, no multicast snooping: a plain learning switch that floods
        # what it does not know (neighbour discovery included).
        lines.append(f"link add name {name} type bridge stp_state 0 mcast_snooping 0")
    lines += _settings(current, name, alias=alias, mtu=mtu, up=up)
    await place.batch(lines)


async def ensure_vxlan(
    place: Place,
    name: str,
    *,
    vni: int,
    local: str,
    device: str | None,
    bridge: str,
    alias: str,
    mtu: int,
    peers: tuple[str, ...],
) -> None:
    """A VXLAN device on ``bridge`` sending to every peer (head-end
    replication with static flood entries; no multicast, no learning from
    the underlay)."""
    current = await link(place, name)
    lines = []
    if current is not None and (
        current.kind != "vxlan"
        or current.data.get("id") != vni
        or current.data.get("local") != local
        or current.data.get("port") != VXLAN_PORT
    ):
        lines.append(f"link del dev {name}")
        current = None
    if current is None:
        dev = f" dev {device}" if device else ""
        lines.append(
            f"link add name {name} type vxlan id {vni} local {local} "
            f"dstport {VXLAN_PORT} nolearning{dev}"
        )
    lines += _settings(current, name, alias=alias, mtu=mtu, up=True, master=bridge)
    await place.batch(lines)
    await _flood_entries(place, name, peers)


async def _flood_entries(place: Place, name: str, peers: tuple[str, ...]) -> None:
    zero = "00:00:00:00:00:00"
    out = await run(place.bridge("-json", "fdb", "show", "dev", name))
    entries = [e for e in (json.loads(out) if out.strip() else []) if e]
    have = {e["dst"] for e in entries if e.get("mac") == zero and e.get("dst")}
    want = set(peers)
    for peer in sorted(want - have):
        await run(place.bridge("fdb", "append", zero, "dev", name, "dst", peer))
    for peer in sorted(have - want):
        await run(place.bridge("fdb", "del", zero, "dev", name, "dst", peer))


async def add_plugged_tap(
    place: Place, name: str, *, bridge: str, alias: str, mtu: int, up: bool
) -> bool:
    """A persistent tap that does not exist yet, made on ``bridge`` and set
    up by one ``ip`` run with no read first (the hot-plug path).  False when
    that failed (the name exists: the batch stops at its first line), for
    ``ensure_plugged_tap`` to look and set."""
    lines = _settings(None, name, alias=alias, mtu=mtu, up=up, master=bridge)
    try:
        await place.batch([f"tuntap add name {name} mode tap vnet_hdr", *lines])
    except CommandError:
        return False
    return True


async def ensure_plugged_tap(
    place: Place, name: str, *, bridge: str, alias: str, mtu: int, up: bool
) -> None:
    """A persistent tap on ``bridge`` as asked: one read and one batch of
    what differs.  An interface of that name that exists is kept whatever it
    is (a veth standing in for a guest in tests)."""
    current = await link(place, name)
    lines = _settings(current, name, alias=alias, mtu=mtu, up=up, master=bridge)
    if current is None:
        lines.insert(0, f"tuntap add name {name} mode tap vnet_hdr")
    await place.batch(lines)


async def ensure_veth(
    host: Place,
    host_if: str,
    inner: Place,
    inner_if: str,
    *,
    mac: str,
    bridge: str,
    alias: str,
    mtu: int,
    up: bool = True,
) -> None:
    """A veth pair from ``host`` (on ``bridge``) into namespace ``inner``,
    the inner end with ``mac``."""
    outer = await link(host, host_if)
    peer = await link(inner, inner_if)
    if outer is None or peer is None or outer.kind != "veth":
        for place, name, found in ((host, host_if, outer), (inner, inner_if, peer)):
            if found is not None:
                await place.run_ip("link", "del", "dev", name)
        await host.run_ip(
            "link", "add", "name", host_if, "type", "veth",
            "peer", "name", inner_if, "address", mac, "netns", str(inner.netns),
        )  # fmt: skip
        outer = peer = None
    await host.batch(_settings(outer, host_if, alias=alias, mtu=mtu, up=up, master=bridge))
    lines = _settings(peer, inner_if, alias=alias, mtu=mtu, up=up)
    if peer is not None and peer.address.lower() != mac.lower():
        lines.insert(0, f"link set dev {inner_if} address {mac}")
    await inner.batch([line for line in lines if "addrgenmode" not in line])


async def delete(place: Place, name: str) -> None:
    try:
        await place.run_ip("link", "del", "dev", name)
    except CommandError as exc:
        if not exc.missing:
            raise


async def set_addresses(place: Place, name: str, wanted: list[str]) -> None:
    """Make the global addresses of an interface exactly ``wanted``
    (``"10.0.0.2/24"``); link-local ones are left alone."""
    found = await place.ip_json("addr", "show", "dev", name)
    have = set()
    for entry in found:
        for a in entry.get("addr_info", []):
            if a.get("scope") != "link":
                have.add(f"{a['local']}/{a['prefixlen']}")
    want = {str(ipaddress.ip_interface(w)) for w in wanted}
    lines = [f"addr del {a} dev {name}" for a in sorted(have - want)]
    # IPv6 addresses without duplicate detection, usable at once (dnsmasq
    # binds them); the addresses are the network service's to give.
    lines += [
        f"addr replace {a} dev {name}" + (" nodad" if ":" in a else "") for a in sorted(want - have)
    ]
    await place.batch(lines)
