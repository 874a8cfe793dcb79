"""What the agent must do: the desired state of a host as a flat table of
objects (``"kind:id"`` -> its spec), compared with what the agent last
applied, gives the steps (remove, ensure) and what each waits for.

There are no phases: each step starts as soon as the steps it depends on
have finished, so a new port never waits behind the removal of another, a
DHCP reload or a router.  A port waits for its network's bridge and for
the groups it uses when their rules change; DHCP and routers wait for their
networks; a group goes only after the ports that used it, a network only
after what was on it.  A group whose rules are what was applied and whose
members alone changed (a port came or went) holds up nothing.  Specs are
frozen dataclasses, so comparing them is cheap and exact."""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass

from stratus.network.drivers.base import (
    DhcpSpec,
    HostState,
    PortSpec,
    Present,
    RouterSpec,
    SecurityGroupSpec,
)

NETWORK = "network"
SECURITY_GROUP = "security_group"
PORT = "port"
DHCP = "dhcp"
ROUTER = "router"

# What a step does to its object.
REMOVE = "remove"
ENSURE = "ensure"
MEMBERS = "members"  # ensure a group whose members alone changed

# Removal order of orphans (objects found on the host whose specs are
# unknown); the kinds of one phase are removed at once.
REMOVE_PHASES: tuple[tuple[str, ...], ...] = ((PORT, DHCP, ROUTER), (SECURITY_GROUP,), (NETWORK,))
# The order steps are started in when several are ready: guests' ports
# first (a boot or a hot-plug waits on them), removals last.
_RANK = {PORT: 0, NETWORK: 1, SECURITY_GROUP: 2, DHCP: 3, ROUTER: 3}

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


@dataclass(frozen=True)
class Step:
    key: str
    action: str  # REMOVE, ENSURE or MEMBERS


def steps(desired: Objects, applied: Objects, skip: Iterable[str] = ()) -> list[Step]:
    """What differs between the desired objects and those applied, less
    ``skip`` (objects being worked on, or waiting to be tried again after
    a failure), in the order to start them."""
    held = set(skip)
    out = [Step(k, REMOVE) for k in applied if k not in desired and k not in held]
    for k, spec in desired.items():
        old = applied.get(k)
        if old != spec and k not in held:
            out.append(Step(k, MEMBERS if _members_only(spec, old) else ENSURE))
    return sorted(out, key=lambda s: (s.action == REMOVE, _RANK[split(s.key)[0]], s.key))


def _members_only(spec: Hashable, old: Hashable | None) -> bool:
    """A group applied before with the same rules: only its members differ."""
    return (
        isinstance(spec, SecurityGroupSpec)
        and isinstance(old, SecurityGroupSpec)
        and old.rules == spec.rules
    )


def waits_for(
    step: Step, busy: Mapping[str, Step], desired: Objects, applied: Objects
) -> list[str]:
    """The keys among ``busy`` (the steps under way, this one's included)
    whose step must finish before ``step`` starts."""
    kind, id = split(step.key)

    def ensuring(k: str) -> bool:  # a step that makes or changes what others stand on
        other = busy.get(k)
        return other is not None and other.action == ENSURE and k != step.key

    if step.action == ENSURE:
        spec = desired[step.key]
        if isinstance(spec, PortSpec):
            needs = [key(NETWORK, spec.network_id)]
            needs += [key(SECURITY_GROUP, g) for g in spec.security_group_ids]
        elif isinstance(spec, DhcpSpec):
            needs = [key(NETWORK, spec.network.id)]
        elif isinstance(spec, RouterSpec):
            needs = [key(NETWORK, n) for n in _router_networks(spec)]
        else:  # networks and groups stand on nothing
            needs = []
        return sorted(k for k in set(needs) if ensuring(k))
    if step.action != REMOVE or kind not in (SECURITY_GROUP, NETWORK):
        return []
    # A group goes after the ports that used it, a network after what was on
    # it; their specs are the applied ones, or the desired ones being ensured.
    out = []
    for k in busy:
        if k == step.key:
            continue
        for spec in (applied.get(k), desired.get(k)):
            if kind == SECURITY_GROUP and isinstance(spec, PortSpec):
                hit = id in spec.security_group_ids
            elif kind == NETWORK:
                hit = id in _networks_of(spec)
            else:
                hit = False
            if hit:
                out.append(k)
                break
    return sorted(out)


def _router_networks(spec: RouterSpec) -> set[str]:
    return {p.network_id for p in (*spec.interfaces, *([spec.gateway] if spec.gateway else []))}


def _networks_of(spec: Hashable | None) -> set[str]:
    """The networks an object sits on (none for a network or a group)."""
    if isinstance(spec, PortSpec):
        return {spec.network_id}
    if isinstance(spec, DhcpSpec):
        return {spec.network.id}
    if isinstance(spec, RouterSpec):
        return _router_networks(spec)
    return set()


def removal(keys: Iterable[str]) -> list[list[str]]:
    """Objects to remove (orphans), in removal order, as phases."""
    keys = sorted(keys)
    out = [[k for k in keys if split(k)[0] in kinds] for kinds in REMOVE_PHASES]
    return [phase for phase in out if phase]
