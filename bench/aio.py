"""The out-of-the-box all-in-one (issue 16's performance targets), measured in
one run:

1. 4 KiB PUT and GET against the default ``stratus up`` (every service, one
   API process per core) and, side by side, against OpenStack Swift 2.38's
   all-in-one on the same machine (``swift_aio.py``: its defaults, one worker
   per core for each server, SAIO's proxy pipeline with tempauth and
   memcached, one replica): requests/s and server CPU per request of both,
   and Stratus's rate as a multiple of Swift's (target: 5x);
2. what logs and metrics cost: two clouds with identity and the object store
   (as the identity and object-store benchmarks run them), one with the
   access log and metrics on (the defaults), one with both off
   (``[logging] access_log = false``, ``[metrics] enabled = false``); token
   validation and 4 KiB PUT and GET on each, alternately, ``--repeat`` times;
   server CPU per request of both and the difference (target: < 5 %).

Every load is wrk (``-t1 -c16``, ``--duration`` s after a 2 s warm-up, the
Lua scripts of bench/objectstore.py), nothing pinned: the servers place
their processes themselves.  Server CPU is utime + stime of every process of
the server (Stratus: the primary and its API workers; Swift: every server,
its workers and memcached) over the run, divided by the requests.

Usage: .venv/bin/python bench/aio.py [--duration 10] [--repeat 3] [--objects 1000] [--no-swift]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import harness as ib  # noqa: E402  (what every benchmark shares)
import objectstore as ob  # noqa: E402
import swift_aio  # noqa: E402

HOST = ib.HOST
TARGET_SWIFT_RATIO = 5.0
TARGET_OVERHEAD = 0.05
QUIET_OFF = {"STRATUS_LOGGING__ACCESS_LOG": "false", "STRATUS_METRICS__ENABLED": "false"}


class StratusAIO(ob.Served):
    """``stratus up`` with its defaults (plus ``env``), loaded by
    ``objectstore.wrk`` as ``objectstore.Cloud`` is."""

    def __init__(self, root: Path, env: dict[str, str] | None = None):
        root.mkdir(parents=True)
        self.server = ib.Server(root / "data", env=env or {})
        self.http = httpx.Client(timeout=httpx.Timeout(60.0, read=600.0, write=600.0))
        self.token = ""
        self.account = ""

    def start(self) -> None:
        self.server.start()
        self.server.wait_ready(self.http, timeout=60.0)
        self.token, body = ib.issue(self.http, self.server.base, ib.password_body(self.server.password()))
        self.account = f"http://{HOST}:{self.server.port}/object-store/v1/AUTH_{body['project']['id']}"
        deadline = time.monotonic() + 30
        while len(self.pids) < self.processes() and time.monotonic() < deadline:
            time.sleep(0.1)  # the API workers start once the primary is ready

    def processes(self) -> int:
        """How many API processes the cloud should have ([server] workers)."""
        workers = (self.server.env or {}).get("STRATUS_SERVER__WORKERS", "auto")
        return len(os.sched_getaffinity(0)) if workers == "auto" else int(workers)

    @property
    def pids(self) -> list[int]:
        return [p for p in ob.tree(self.server.pid) if b"stratus" in Path(f"/proc/{p}/cmdline").read_bytes()]

    def stop(self) -> None:
        self.http.close()
        self.server.stop()


Target = StratusAIO | swift_aio.SwiftAIO


def prepare(target: Target, objects: int) -> None:
    target.put_container("bench-put")
    target.put_container("bench-get")
    names = [f"get-{i:06d}" for i in range(objects)]
    ob.create_objects(target, "bench-get", names, b"g" * 4096)  # type: ignore[arg-type]


def load(target: Target, kind: str, label: str, args: argparse.Namespace, tmp: Path, repeat: int = 1, **extra: Any) -> ib.LoadResult:
    common: dict[str, Any] = {"connections": 16, "duration": args.duration, "repeat": repeat, "workdir": tmp, "pin": False}
    if kind == "put":
        return ob.wrk(target, label, f"{target.account}/bench-put/", method="PUT", prefix="put", size=4096, **common)  # type: ignore[arg-type]
    if kind == "get":
        return ob.wrk(target, label, f"{target.account}/bench-get/", prefix="get-", objects=args.objects, **common)  # type: ignore[arg-type]
    # token validation, as the identity benchmark loads it
    url = f"http://{HOST}:{target.server.port}/identity/v3/auth/tokens"  # type: ignore[union-attr]
    return ob.wrk(target, label, url, subject=target.token, **common, **extra)  # type: ignore[arg-type]


def versus_swift(args: argparse.Namespace, tmp: Path) -> list[tuple[str, str, str, str]]:
    print("\n1. 4 KiB objects: the default Stratus all-in-one beside Swift 2.38's, one after the other", flush=True)
    rows = []
    stratus = StratusAIO(tmp / "stratus-default", dict(kv.split("=", 1) for kv in args.set))
    swift = swift_aio.SwiftAIO(tmp / "swift") if not args.no_swift else None
    try:
        stratus.start()
        print(f"  Stratus: {len(stratus.pids)} processes (the primary, its API workers and any helper it runs); {ib.describe_tree()}")
        prepare(stratus, args.objects)
        if swift is not None:
            swift.start()
            print(f"  Swift {swift_aio.SWIFT_VERSION}: {len(swift.pids)} processes (4 servers and their workers, memcached)")
            prepare(swift, args.objects)
        for kind in ("put", "get"):
            results = {}
            for name, target in (("Stratus", stratus), ("Swift", swift)):
                if target is None:
                    continue
                print(f"\n  {name} 4 KiB {kind.upper()}", flush=True)
                results[name] = load(target, kind, f"{name} {kind}", args, tmp, repeat=args.repeat)
                ib.print_load(results[name], None)
            mine = results["Stratus"]
            other = results.get("Swift")
            ratio = mine.rps / other.rps if other else 0.0
            rows.append(
                (
                    f"4 KiB {kind.upper()}",
                    f"{mine.rps:.0f}/s, {mine.cpu_ms:.2f} ms CPU",
                    f"{other.rps:.0f}/s, {other.cpu_ms:.2f} ms CPU" if other else "-",
                    f"{ratio:.1f}x ({'yes' if ratio >= TARGET_SWIFT_RATIO else 'MISSED'})" if other else "-",
                )
            )
    finally:
        stratus.stop()
        if swift is not None:
            swift.stop()
    return rows


def observability_cost(args: argparse.Namespace, tmp: Path) -> list[tuple[str, str, str, str]]:
    print("\n2. Logs and metrics on and off: identity and the object store, alternately", flush=True)
    env = dict(ob.SERVICES_ENV)
    on = StratusAIO(tmp / "stratus-on", env)
    off = StratusAIO(tmp / "stratus-off", {**env, **QUIET_OFF})
    rows = []
    try:
        for cloud in (on, off):
            cloud.start()
            prepare(cloud, args.objects)
        for kind, name in (("validate", "token validation"), ("put", "4 KiB PUT"), ("get", "4 KiB GET")):
            cpu: dict[str, list[float]] = {"on": [], "off": []}
            for n in range(args.repeat):
                for label, cloud in (("on", on), ("off", off)):
                    r = load(cloud, kind, f"{name}, logs+metrics {label}", args, tmp)
                    cpu[label].append(r.cpu_ms)
                    print(f"  {name:16s} {label:3s} run {n + 1}: {r.rps:6.0f}/s, {r.cpu_ms:.3f} ms CPU/req (other load {r.others * 100:.0f} %)", flush=True)
            mid_on, mid_off = statistics.median(cpu["on"]), statistics.median(cpu["off"])
            delta = mid_on / mid_off - 1
            rows.append(
                (
                    name,
                    f"{mid_on:.3f} ms",
                    f"{mid_off:.3f} ms",
                    f"{delta * 100:+.1f} % ({'yes' if delta < TARGET_OVERHEAD else 'MISSED'})",
                )
            )
    finally:
        on.stop()
        off.stop()
    return rows


def table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    lines = [header, *rows]
    widths = [max(len(r[i]) for r in lines) for i in range(len(header))]
    for i, row in enumerate(lines):
        print("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
        if i == 0:
            print("|" + "|".join("-" * (w + 2) for w in widths) + "|")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=float, default=10.0, help="seconds of each load run [10]")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each load (best rate; median CPU on/off) [3]")
    ap.add_argument("--objects", type=int, default=1000, help="4 KiB objects cycled by the GETs [1000]")
    ap.add_argument("--no-swift", action="store_true", help="skip Swift")
    ap.add_argument("--only", choices=("swift", "overhead"), help="one of the two parts")
    ap.add_argument(
        "--set", action="append", default=[], metavar="STRATUS_X__Y=V",
        help="a setting for the default cloud of part 1 (to compare with the defaults)",
    )
    args = ap.parse_args()
    for key in [k for k in os.environ if k.startswith("STRATUS_")]:
        del os.environ[key]  # the clouds run with their defaults, whatever this shell says
    print(f"Stratus all-in-one benchmark, {time.strftime('%Y-%m-%d %H:%M:%S')}")
    print(f"machine: {os.cpu_count()} CPUs, {ib.cpu_model()}; wrk -t1 -c16 -d{args.duration:g}s, nothing pinned")
    with tempfile.TemporaryDirectory(prefix="stratus-aio-") as name:
        tmp = Path(name)
        swift_rows = versus_swift(args, tmp) if args.only != "overhead" else []
        cost_rows = observability_cost(args, tmp) if args.only != "swift" else []
    print("\nSummary")
    if swift_rows:
        table(("figure", "Stratus (defaults)", f"Swift {swift_aio.SWIFT_VERSION} (defaults)", f"rate ratio (target >= {TARGET_SWIFT_RATIO:g}x)"), swift_rows)
    if cost_rows:
        print()
        table(("server CPU per request", "logs+metrics on", "off", f"difference (target < {TARGET_OVERHEAD * 100:g} %)"), cost_rows)
    if ib.failures:
        print(f"\n{len(ib.failures)} measurement(s) went wrong:")
        for f in ib.failures:
            print(f"  {f}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
