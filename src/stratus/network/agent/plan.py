"""What the agent must do: the desired state of a host as a flat table of
objects (``"kind:id"`` -> its spec), compared with what the agent last
applied, gives the objects to remove and to ensure, in phases that respect
their dependencies (a port needs its network's bridge and its groups; a
network goes only after what was on it).  A group whose rules are what
was applied and whose members alone changed (a port came or went) holds up
nothing: it goes beside the ports, so a new port is not kept waiting for
the group's member sets.  Specs are frozen dataclasses, so comparing them is
cheap and exact."""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field

from stratus.network.drivers.base import HostState, Present, SecurityGroupSpec

NETWORK = "network"
SECURITY_GROUP = "security_group"
PORT = "port"
DHCP = "dhcp"
ROUTER = "router"

# Removal and creation order; the kinds of one phase are done at once.
REMOVE_PHASES: tuple[tuple[str, ...], ...] = ((PORT, DHCP, ROUTER), (SECURITY_GROUP,), (NETWORK,))
ENSURE_PHASES: tuple[tuple[str, ...], ...] = ((NETWORK,), (SECURITY_GROUP,), (PORT, DHCP, ROUTER))

Objects = dict[str, Hashable]


def key(kind: str, id: str) -> str:
    return f"{kind}:{id}"


def split(k: str) -> tuple[str, str]:
    kind, _, id = k.partition(":")
    return kind, id


def objects(state: HostState) -> Objects:
    """A host's desired state as ``"kind:id"`` -> spec (a network's spec
    comes with its VXLAN peers)."""
    out: Objects = {}
    for net in state.networks:
        out[key(NETWORK, net.id)] = (net, tuple(sorted(state.peers.get(net.id, ()))))
    out.update((key(SECURITY_GROUP, g.id), g) for g in state.security_groups)
    out.update((key(PORT, p.id), p) for p in state.ports)
    out.update((key(DHCP, d.network.id), d) for d in state.dhcp)
    out.update((key(ROUTER, r.id), r) for r in state.routers)
    return out


def present_keys(present: Present) -> set[str]:
    return (
        {key(NETWORK, i) for i in present.networks}
        | {key(SECURITY_GROUP, i) for i in present.security_groups}
        | {key(PORT, i) for i in present.ports}
        | {key(DHCP, i) for i in present.dhcp}
        | {key(ROUTER, i) for i in present.routers}
    )


def _phases(keys: Iterable[str], phases: tuple[tuple[str, ...], ...]) -> list[list[str]]:
    keys = sorted(keys)
    out = [[k for k in keys if split(k)[0] in kinds] for kinds in phases]
    return [phase for phase in out if phase]


@dataclass
class Plan:
    remove: list[list[str]] = field(default_factory=list)  # phases of keys
    ensure: list[list[str]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.remove or self.ensure)

    def keys(self) -> list[str]:
        return [k for phase in self.remove + self.ensure for k in phase]


def plan(desired: Objects, applied: Objects, skip: Iterable[str] = ()) -> Plan:
    """What differs between the desired objects and those applied, less
    ``skip`` (objects waiting to be tried again after a failure)."""
    held = set(skip)
    gone = [k for k in applied if k not in desired and k not in held]
    changed = [k for k, spec in desired.items() if applied.get(k) != spec and k not in held]
    members = [k for k in changed if _members_only(desired[k], applied.get(k))]
    ensure = _phases(set(changed) - set(members), ENSURE_PHASES)
    if members:
        last = ensure[-1] if ensure and split(ensure[-1][0])[0] in ENSURE_PHASES[-1] else None
        if last is None:
            ensure.append(last := [])
        last[:] = sorted([*last, *members])
    return Plan(_phases(gone, REMOVE_PHASES), ensure)


def _members_only(spec: Hashable, old: Hashable | None) -> bool:
    """A group applied before with the same rules: only its members differ."""
    return (
        isinstance(spec, SecurityGroupSpec)
        and isinstance(old, SecurityGroupSpec)
        and old.rules == spec.rules
    )


def removal(keys: Iterable[str]) -> list[list[str]]:
    """Objects to remove (orphans), in removal order."""
    return _phases(keys, REMOVE_PHASES)
