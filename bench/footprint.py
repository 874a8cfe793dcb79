"""Start time and idle memory of the default all-in-one (issue 16's targets:
ready within 3 s, the idle cloud under 250 MiB).

Starts ``stratus up`` with its defaults (every service, the qemu driver,
``[server] workers`` as the version measured has it: one per core now) on
fresh temporary data folders and free ports on 127.0.0.1, and measures:

1. start: spawn -> first 200 from GET /identity/v3, on a fresh data folder
   (bootstrap included) and on a restart of it;
2. idle memory: once the cloud has settled (the tiny image built and
   registered, ``--settle`` seconds more), the processes of the cloud (the
   primary and its API workers) summed: PSS (each shared page counted once,
   split between its sharers: what the cloud costs the machine), USS (pages
   of its own) and RSS (what ``ps`` shows, shared pages counted per process).

``--commit REV`` measures the src/ of another commit in the same run
(``--commit`` twice compares); each version's figures are printed side by
side.

Usage: .venv/bin/python bench/footprint.py [--starts 3] [--settle 10] [--commit REV ...]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import harness as ib  # noqa: E402  (what every benchmark shares)
import objectstore as ob  # noqa: E402  (process trees)

TARGET_START_S = 3.0
TARGET_PSS_MIB = 250.0
MIB = 1 << 20


def memory(pid: int) -> dict[str, int]:
    """Pss, USS (Private_*) and Rss of one process, in bytes."""
    fields: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        key, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[-1] == "kB":
            fields[key] = int(parts[0]) * 1024
    return {
        "pss": fields.get("Pss", 0),
        "uss": fields.get("Private_Clean", 0) + fields.get("Private_Dirty", 0),
        "rss": fields.get("Rss", 0),
    }


def command(pid: int) -> str:
    argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    return " ".join(a.decode(errors="replace") for a in argv[1:4] if a)


@dataclass
class Figures:
    fresh: list[float] = field(default_factory=list)
    restart: list[float] = field(default_factory=list)
    pss: list[int] = field(default_factory=list)
    uss: list[int] = field(default_factory=list)
    rss: list[int] = field(default_factory=list)
    processes: list[int] = field(default_factory=list)


def wait_tiny(client: httpx.Client, srv: ib.Server, timeout: float = 120.0) -> None:
    """Until the bootstrap's tiny image is active (the cloud's start-up work done)."""
    token = ib.issue(client, srv.base, ib.password_body(srv.password()))[0]
    image = srv.base.replace("/identity", "/image")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        resp = client.get(f"{image}/v2/images", params={"name": "tiny"}, headers={"X-Auth-Token": token})
        found = resp.json().get("images", []) if resp.status_code == 200 else []
        if found and found[0]["status"] == "active":
            return
        time.sleep(0.2)
    raise RuntimeError(f"the tiny image was not active after {timeout:.0f} s:\n{srv.log_tail()}")


def measure(label: str, tmp: Path, starts: int, settle: float) -> Figures:
    figures = Figures()
    print(f"\n{label}", flush=True)
    with httpx.Client() as client:
        for n in range(starts):
            data = tmp / f"{label.split()[0]}-{n}"
            for kind in ("fresh", "restart"):
                ib.wait_quiet(10.0)
                srv = ib.Server(data)
                srv.start()
                try:
                    ready = srv.wait_ready(client, timeout=120.0)  # a slow start is a figure, not a failure
                    getattr(figures, kind).append(ready)
                    if kind == "restart":
                        wait_tiny(client, srv)
                        time.sleep(settle)
                        pids = ob.tree(srv.pid)
                        mem = [memory(pid) for pid in pids]
                        figures.pss.append(sum(m["pss"] for m in mem))
                        figures.uss.append(sum(m["uss"] for m in mem))
                        figures.rss.append(sum(m["rss"] for m in mem))
                        figures.processes.append(len(pids))
                        shown = ", ".join(
                            f"{pid} {command(pid)!r} PSS {m['pss'] / MIB:.0f}" for pid, m in zip(pids, mem, strict=True)
                        )
                        print(f"  idle: {shown}", flush=True)
                    else:
                        wait_tiny(client, srv)  # the first start's work done before the restart
                finally:
                    srv.stop()
                print(f"  {kind:7s} start: ready in {ready:.2f} s", flush=True)
    return figures


def summary(rows: list[tuple[str, Figures]]) -> None:
    print("\nSummary (median of the starts; memory after the cloud settled)")
    header = ("version", "fresh start", "restart", "processes", "PSS", "USS", "RSS (ps)")
    lines = [header]
    for label, f in rows:
        lines.append(
            (
                label,
                f"{statistics.median(f.fresh):.2f} s (max {max(f.fresh):.2f})",
                f"{statistics.median(f.restart):.2f} s (max {max(f.restart):.2f})",
                str(max(f.processes)),
                f"{statistics.median(f.pss) / MIB:.0f} MiB",
                f"{statistics.median(f.uss) / MIB:.0f} MiB",
                f"{statistics.median(f.rss) / MIB:.0f} MiB",
            )
        )
    widths = [max(len(row[i]) for row in lines) for i in range(len(header))]
    for i, row in enumerate(lines):
        print("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
        if i == 0:
            print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    label, now = rows[0]
    start_ok = max(now.fresh + now.restart) < TARGET_START_S
    pss_ok = max(now.pss) / MIB < TARGET_PSS_MIB
    print(
        f"\n{label}: start < {TARGET_START_S:g} s: {'yes' if start_ok else 'MISSED'}; "
        f"idle PSS < {TARGET_PSS_MIB:g} MiB: {'yes' if pss_ok else 'MISSED'}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--starts", type=int, default=3, help="fresh starts (each then restarted)")
    parser.add_argument("--settle", type=float, default=10.0, help="seconds idle before memory is read")
    parser.add_argument("--commit", action="append", default=[], help="also measure this commit's src/")
    args = parser.parse_args()
    print(f"Stratus footprint, {time.strftime('%Y-%m-%d %H:%M:%S')}; {os.cpu_count()} CPUs, {ib.cpu_model()}")
    rows: list[tuple[str, Figures]] = []
    with tempfile.TemporaryDirectory(prefix="stratus-footprint-") as name:
        tmp = Path(name)
        rows.append((f"{ib.describe_tree()}", measure(ib.describe_tree(), tmp, args.starts, args.settle)))
        saved = os.environ.get("PYTHONPATH")
        for rev in args.commit:
            source = ib.extract_commit(rev, tmp / f"source-{rev}")
            os.environ["PYTHONPATH"] = os.pathsep.join([str(source), *filter(None, [saved])])
            try:
                label = f"commit {ib.git('rev-parse', '--short=12', rev)}"
                rows.append((label, measure(label, tmp, args.starts, args.settle)))
            finally:
                if saved is None:
                    os.environ.pop("PYTHONPATH", None)
                else:
                    os.environ["PYTHONPATH"] = saved
    summary(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
