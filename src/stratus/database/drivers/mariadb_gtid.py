"""MariaDB's global transaction ids as replication uses them: how far a
server stands (a GTID list per replication domain), whether one may follow
another from where it stands, and each instance's server id."""

from __future__ import annotations

from stratus.database.drivers.base import ServerSpec


def _gtids(gtids: str) -> dict[int, tuple[int, int]]:
    """A GTID list ("0-1-42,1-2-7") as domain -> (server id, sequence number)."""
    out = {}
    for gtid in gtids.split(","):
        parts = gtid.strip().split("-")
        if len(parts) == 3 and all(p.isdigit() for p in parts):
            out[int(parts[0])] = (int(parts[1]), int(parts[2]))
    return out


def gtid_prefix(mine: str, theirs: str) -> bool:
    """Whether a server at GTID position ``mine`` may follow one at
    ``theirs`` from where it stands: in each of its domains no further than
    the other, and at the same transaction when as far.  (A history that
    went another way below that is refused by the source itself.)"""
    have, other = _gtids(mine), _gtids(theirs)
    if not have:  # from the start of a binary log that may not hold it all
        return not other
    for domain, (server, seq) in have.items():
        if domain not in other:
            return False
        their_server, their_seq = other[domain]
        if seq > their_seq or (seq == their_seq and server != their_server):
            return False
    return True


def gtid_total(gtids: str) -> int:
    """The sequence numbers of a GTID list ("0-1-42,1-2-7") summed."""
    total = 0
    for gtid in gtids.split(","):
        parts = gtid.strip().split("-")
        if len(parts) == 3 and parts[2].isdigit():
            total += int(parts[2])
    return total


def server_id(spec: ServerSpec) -> int:
    """A server id of its own for each instance (replication needs them apart)."""
    return int(spec.instance_id.replace("-", "")[:7], 16) + 1
