"""``tgtadm``, the control tool of the userspace iSCSI target tgt: its
command lines, and what its target listing says (``iscsi_export.py``
drives it)."""

from __future__ import annotations

import re
from typing import NamedTuple

RO_SUFFIX = "-ro"  # the IQN of a volume's read-only members' target ends so
LUN = 1  # the volume's LUN in its targets
CONTROL_PORT = 0  # the socket is private to this tgtd: its number does not matter


def admin_args(op: str, mode: str, **params: str | int) -> list[str]:
    """A ``tgtadm`` command line (after the binary) for this agent's tgtd."""
    args = ["-C", str(CONTROL_PORT), "--lld", "iscsi", "--op", op, "--mode", mode]
    names = {"tid": "--tid", "lun": "--lun", "iqn": "--targetname", "user": "--user",
             "password": "--password", "backing": "--backing-store", "bstype": "--bstype",
             "address": "--initiator-address", "force": "--force", "params": "--params"}  # fmt: skip
    for key, value in params.items():
        args += [names[key], str(value)] if key != "force" else ["--force"]
    return args


class Target(NamedTuple):
    tid: int
    accounts: set[str]  # the CHAP accounts bound to it
    complete: bool  # it has the volume's LUN (of its mode) and admits initiators


def parse_targets(text: str) -> dict[str, Target]:
    """``--op show --mode target``: each target's IQN with its tid, the
    CHAP accounts bound to it, and whether it is complete (the volume's LUN,
    read-only on a read-only target and only there, and an ACL), which a
    pass that failed or died midway leaves it not."""
    found: dict[str, tuple[int, set[str], set[str]]] = {}
    section = last = lun = ""
    for line in text.splitlines():
        head = re.match(r"Target (\d+): (\S+)", line)
        depth = len(line) - len(line.lstrip(" "))
        if head:
            last = head.group(2)
            found[last] = (int(head.group(1)), set(), set())
        elif depth == 4:
            section = line.strip()
        elif depth == 8 and found and section == "Account information:":
            found[last][1].add(line.strip())
        elif depth == 8 and found and section in ("LUN information:", "ACL information:"):
            lun = line.strip()
            found[last][2].add(lun)
        elif depth == 12 and found and lun == f"LUN: {LUN}" and line.strip() == "Readonly: Yes":
            found[last][2].add("readonly")
    return {
        iqn: Target(tid, accounts, f"LUN: {LUN}" in other and "ALL" in other
                    and ("readonly" in other) == iqn.endswith(RO_SUFFIX))  # fmt: skip
        for iqn, (tid, accounts, other) in found.items()
    }
