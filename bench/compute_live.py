"""Performance figures of live migration (os-migrateLive) between two compute
hosts on this machine, without shared storage.

Starts its own ``stratus up`` (host ``bench-a``, its agent in-process) on a
fresh temporary data folder and a free port on 127.0.0.1, plus a
``stratus compute-agent --host bench-b`` process on the same data folder and
database, boots one m1.tiny guest (256 MiB, the tiny image, TCG) with a
counter on its console, then:

1. live-migrates it ``--repeat`` (5) times, back and forth, one at a time
   (``POST /servers/{id}/action {"os-migrateLive": {"host": ...}}`` at 2.30),
   each after waiting for the machine to go quiet.  For each:
   * **total**: the driver's whole migration, from ``drive-mirror`` to
     ``query-migrate`` completed (disk and memory), as the source agent
     recorded it on the instance action (``compute_live_migration`` event);
   * **downtime**: ``query-migrate``'s ``downtime`` (the guest was stopped);
   * **API → ACTIVE**: wall time from the POST to the server being ACTIVE on
     the other host with no task (GET every 0.1 s; includes the agents'
     polling of the migration rows: 0.5 s to notice, 0.1 s while waiting);
   * CPU of the two Stratus processes (the API with its agent, and the other
     agent) over that time, the benchmark's GETs included;
   * the counter on the guest's console must go on (no restart).
2. baseline, in the same run: the same sequence (``drive-mirror`` to an NBD
   export + ``migrate``, bandwidth cap raised, downtime limit 100 ms) by hand
   over QMP between two bare qemu processes of the same guest image with the
   driver's command line, ``--repeat`` times.  It is what QEMU alone takes
   on this machine now; Stratus's figures are set beside it.

Every run is labelled QUIET / busy / NOISY from the CPU the rest of the
machine used in the half second before it (migrations under TCG are CPU-bound).

Exit status 0 when every figure was measured, even if a target was missed
(MISSED); 1 when a measurement itself went wrong.

Usage: .venv/bin/python bench/compute_live.py [--repeat 5] [--quiet-wait 20] [--keep]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid as uuidlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import compute as cb  # noqa: E402  (the compute benchmark's cloud and process helpers)
import harness as bh  # noqa: E402  (what every benchmark shares)

HOST = bh.HOST  # 127.0.0.1, never anything else
A, B = "bench-a", "bench-b"
TARGET_TOTAL_S = 2.0
TARGET_DOWNTIME_MS = 100.0
BOOT_TIMEOUT = 120.0
MIGRATE_TIMEOUT = 120.0
# GET /servers/{id} every 0.1 s during a migration: finer polling makes the
# all-in-one (API and one host's agent in one process) busy serving the poll.
POLL = 0.1
TICKER = b"""#!/bin/sh
(i=0; while true; do i=$((i+1)); echo "tick $i"; sleep 1; done) >/dev/ttyS0 2>&1 &
"""
TICK = re.compile(r"^tick (\d+)\s*$", re.M)
DETAILS = re.compile(r"completed in (\d+) ms, downtime (\d+) ms")


@dataclass
class Run:
    total_ms: float
    downtime_ms: float
    api_s: float | None  # None for the bare baseline
    cpu_s: float | None
    others: float
    polls: int = 0  # GET /servers/{id} made meanwhile (their CPU is in cpu_s)
    split: tuple[float, float, float] = (0.0, 0.0, 0.0)  # A itself, A's reaped children, B


def call(cloud: cb.Cloud, method: str, path: str, version: str, expect: int = 200, **kw: Any) -> Any:
    """A compute request at ``version`` (the cloud's helper pins 2.96)."""
    assert cloud.http is not None
    headers = {"X-Auth-Token": cloud.token, "OpenStack-API-Version": f"compute {version}"}
    resp = cloud.http.request(method, f"{cloud.url}/compute/v2.1{path}", headers=headers, **kw)
    if resp.status_code != expect:
        raise RuntimeError(f"{method} {path} answered {resp.status_code}: {resp.text[:300]}")
    return resp.json() if resp.content else None


def label(others: float) -> str:
    return f"other load {others * 100:.0f} % of a core ({cb.noise(others)})"


def quiet(max_wait: float) -> float:
    return bh.wait_quiet(max_wait)


# -- Stratus: two hosts ---------------------------------------------------------------------


class TwoHosts:
    def __init__(self, work: Path) -> None:
        self.data = work / "data"
        self.data.mkdir()
        env = {"STRATUS_COMPUTE__HOST": A, "STRATUS_COMPUTE__ACCEL": "tcg"}
        self.cloud = cb.Cloud(self.data, env)
        self.agent: subprocess.Popen[bytes] | None = None
        self.agent_log = work / "agent-b.log"

    def start(self) -> None:
        self.cloud.start()
        env = {k: v for k, v in os.environ.items() if not k.startswith("STRATUS_")}
        env.update(
            STRATUS_SERVER__PUBLIC_URL=self.cloud.url, STRATUS_COMPUTE__ACCEL="tcg"
        )
        with open(self.agent_log, "ab") as log:
            self.agent = subprocess.Popen(
                [*bh.stratus_command(), "compute-agent", "--data-dir", str(self.data), "--host", B],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
            )
        deadline = time.monotonic() + 90
        while True:
            services = self.cloud.compute("GET", "/os-services").json()["services"]
            if {s["host"] for s in services if s["state"] == "up"} >= {A, B}:
                return
            if self.agent.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"host {B} never came up:\n{self.agent_log.read_text()[-2000:]}")
            time.sleep(0.2)

    def agent_cpu(self) -> float:
        return cb.pid_cpu(self.agent.pid) if self.agent is not None else 0.0

    def console(self, server_id: str, host: str) -> str:
        path = self.data / "compute" / host / "instances" / server_id / "console.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        if self.agent is not None and self.agent.poll() is None:
            self.agent.send_signal(signal.SIGTERM)
            try:
                self.agent.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.agent.kill()
        self.cloud.stop()


def boot(hosts: TwoHosts, image: str) -> tuple[str, str]:
    cloud = hosts.cloud
    user_data = base64.b64encode(TICKER).decode()
    server_id = cloud.create("live-bench", image, user_data=user_data)
    deadline = time.monotonic() + BOOT_TIMEOUT
    while True:
        shown = cloud.show(server_id)
        host = shown.get("OS-EXT-SRV-ATTR:host") or ""
        if shown["status"] == "ERROR":
            raise RuntimeError(f"the guest went to ERROR: {shown.get('fault')}")
        if host and "tick 2" in hosts.console(server_id, host):
            return server_id, host
        if time.monotonic() > deadline:
            raise RuntimeError("the guest did not boot in time")
        time.sleep(0.2)


def migrate(hosts: TwoHosts, server_id: str, source: str, quiet_wait: float) -> Run:
    cloud = hosts.cloud
    dest = B if source == A else A
    others = quiet(quiet_wait)
    before = max([int(t) for t in TICK.findall(hosts.console(server_id, source))] or [0])
    own0, kids0 = cloud.cpu()
    agent0 = hosts.agent_cpu()
    t0 = time.monotonic()
    body = {"os-migrateLive": {"host": dest, "block_migration": "auto"}}
    call(cloud, "POST", f"/servers/{server_id}/action", "2.30", 202, json=body)
    polls = 1
    while True:
        shown = cloud.show(server_id)
        if shown["OS-EXT-STS:task_state"] is None:
            break
        if time.monotonic() - t0 > MIGRATE_TIMEOUT:
            raise RuntimeError("the live migration did not finish in time")
        polls += 1
        time.sleep(POLL)
    api = time.monotonic() - t0
    own1, kids1 = cloud.cpu()
    split = (own1 - own0, kids1 - kids0, hosts.agent_cpu() - agent0)
    cpu = sum(split)
    if shown["OS-EXT-SRV-ATTR:host"] != dest or shown["status"] != "ACTIVE":
        raise RuntimeError(f"the migration failed: {shown['status']} on {shown['OS-EXT-SRV-ATTR:host']}")
    total, downtime = driver_figures(cloud, server_id)
    deadline = time.monotonic() + 30
    while True:  # the counter goes on on the destination, without a restart
        seen = [int(t) for t in TICK.findall(hosts.console(server_id, dest))]
        if seen and max(seen) > before:
            break
        if time.monotonic() > deadline:
            raise RuntimeError("the guest's counter did not go on after the migration")
        time.sleep(0.2)
    if 1 in seen:
        raise RuntimeError("the guest restarted during the migration")
    return Run(total, downtime, api, cpu, others, polls, split)


def driver_figures(cloud: cb.Cloud, server_id: str) -> tuple[float, float]:
    actions = call(cloud, "GET", f"/servers/{server_id}/os-instance-actions", "2.84")
    newest = next(a for a in actions["instanceActions"] if a["action"] == "live-migration")
    path = f"/servers/{server_id}/os-instance-actions/{newest['request_id']}"
    detail = call(cloud, "GET", path, "2.84")["instanceAction"]
    for event in detail["events"]:
        found = DETAILS.search(event.get("details") or "")
        if event["event"] == "compute_live_migration" and found:
            return float(found.group(1)), float(found.group(2))
    raise RuntimeError(f"no migration figures on the instance action: {detail}")


# -- baseline: the same sequence by hand between two bare qemu ------------------------------


async def bare_runs(work: Path, base: Path, repeat: int, quiet_wait: float) -> list[Run]:
    from stratus.compute.drivers.qmp import QMPClient

    uuid = str(uuidlib.uuid4())
    sides = [work / "bare-a" / uuid, work / "bare-b" / uuid]
    for d in sides:
        d.mkdir(parents=True)
    subprocess.run(
        ["qemu-img", "create", "-q", "-f", "qcow2", "-b", str(base), "-F", "qcow2",
         str(sides[0] / "disk.qcow2"), "1G"],
        check=True,
    )  # fmt: skip
    subprocess.run(cb.bare_argv(sides[0], uuid, 256, 1, None), check=True, stdin=subprocess.DEVNULL)
    pids = [int((sides[0] / "qemu.pid").read_text())]
    runs: list[Run] = []
    try:
        deadline = time.monotonic() + BOOT_TIMEOUT
        while cb.READY not in (sides[0] / "console.log").read_bytes():
            if time.monotonic() > deadline:
                raise RuntimeError("bare qemu: no ready marker")
            await asyncio.sleep(0.2)
        for i in range(repeat):
            src, dst = sides[i % 2], sides[(i + 1) % 2]
            for name in ("disk.qcow2", "qemu.pid", "qmp.sock"):
                (dst / name).unlink(missing_ok=True)
            subprocess.run(
                ["qemu-img", "create", "-q", "-f", "qcow2", "-b", str(base), "-F", "qcow2",
                 str(dst / "disk.qcow2"), "1G"],
                check=True,
            )  # fmt: skip
            argv = cb.bare_argv(dst, uuid, 256, 1, None) + ["-incoming", "defer"]
            subprocess.run(argv, check=True, stdin=subprocess.DEVNULL)
            pids.append(int((dst / "qemu.pid").read_text()))
            others = quiet(quiet_wait)
            nbd, mem = bh.free_port(), bh.free_port()
            incoming = QMPClient(dst / "qmp.sock")
            outgoing = QMPClient(src / "qmp.sock")
            await incoming.connect()
            await outgoing.connect()
            t0 = time.monotonic()
            await incoming.execute(
                "nbd-server-start",
                {"addr": {"type": "inet", "data": {"host": HOST, "port": str(nbd)}}},
            )
            await incoming.execute("nbd-server-add", {"device": "disk0", "writable": True})
            await incoming.execute("migrate-incoming", {"uri": f"tcp:{HOST}:{mem}"})
            await outgoing.execute(
                "drive-mirror",
                {"device": "disk0", "job-id": "m", "target": f"nbd:{HOST}:{nbd}:exportname=disk0",
                 "format": "raw", "sync": "top", "mode": "existing"},
            )  # fmt: skip
            await outgoing.wait_event("BLOCK_JOB_READY", 60)
            await outgoing.execute(
                "migrate-set-parameters", {"max-bandwidth": 8 * 2**30, "downtime-limit": 100}
            )
            await outgoing.execute("migrate", {"uri": f"tcp:{HOST}:{mem}"})
            while True:
                info = await outgoing.execute("query-migrate")
                if info.get("status") in ("completed", "failed", "cancelled"):
                    break
                await asyncio.sleep(0.05)
            total = (time.monotonic() - t0) * 1000
            if info.get("status") != "completed":
                raise RuntimeError(f"bare migration {info.get('status')}: {info}")
            await outgoing.execute("block-job-cancel", {"device": "m"})
            await outgoing.wait_event("BLOCK_JOB_COMPLETED", 30)
            await incoming.execute("nbd-server-stop")
            await outgoing.execute("quit")
            await outgoing.close()
            await incoming.close()
            runs.append(Run(total, float(info.get("downtime", 0)), None, None, others))
    finally:
        for pid in pids:
            cb.kill_pid(pid)  # the qemu processes we started, by pid
    return runs


# -- report ----------------------------------------------------------------------------------


def summary(values: list[float]) -> str:
    return f"p50 {statistics.median(values):.0f}, min {min(values):.0f}, max {max(values):.0f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5, help="live migrations (and bare ones) [5]")
    parser.add_argument("--quiet-wait", type=float, default=20.0, help="seconds to wait for a quiet machine before each run [20]")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args()
    for tool in ("qemu-system-x86_64", "qemu-img"):
        if shutil.which(tool) is None:
            print(f"bench: {tool} is missing", file=sys.stderr)
            return 1
    work = Path(tempfile.mkdtemp(prefix="sb-live-", dir="/tmp"))  # short: QMP socket paths
    print(f"Stratus live migration benchmark, {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}")
    print(bh.machine())
    print(subprocess.run(["qemu-system-x86_64", "--version"], capture_output=True, text=True).stdout.splitlines()[0])
    print(f"work folder: {work}\n")
    hosts = TwoHosts(work)
    rows: list[tuple[str, str, str, str]] = []
    server_id = ""
    try:
        hosts.start()
        image = hosts.cloud.wait_image()
        server_id, host = boot(hosts, image)
        print(f"1. live migration through Stratus, m1.tiny (256 MiB), {A} <-> {B}, one at a time")
        ours: list[Run] = []
        for i in range(args.repeat):
            run = migrate(hosts, server_id, host, args.quiet_wait)
            host = B if host == A else A
            ours.append(run)
            print(
                f"  run {i + 1}: total {run.total_ms:.0f} ms, downtime {run.downtime_ms:.0f} ms, "
                f"API -> ACTIVE {run.api_s:.2f} s, Stratus CPU {run.cpu_s:.2f} s "
                f"({A} {run.split[0]:.2f} + its children {run.split[1]:.2f}, {B} {run.split[2]:.2f}; "
                f"{run.polls} GETs of the server included); {label(run.others)}"
            )
        base = hosts.data / "compute" / A / "images" / image  # host A's cached copy
        if not base.is_file():
            raise RuntimeError(f"no cached base image {base} to boot the baseline from")
        print("\n2. baseline: the same QMP sequence by hand between two bare qemu (same image)")
        bare = asyncio.run(bare_runs(work, base, args.repeat, args.quiet_wait))
        for i, run in enumerate(bare):
            print(f"  run {i + 1}: total {run.total_ms:.0f} ms, downtime {run.downtime_ms:.0f} ms; {label(run.others)}")
    except Exception as exc:  # a measurement went wrong
        print(f"!!! FAILED: {exc}")
        return 1
    finally:
        if server_id:
            for pid in cb.find_pids(server_id):
                cb.kill_pid(pid)
        hosts.stop()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    totals = [r.total_ms for r in ours]
    downs = [r.downtime_ms for r in ours]
    apis = [r.api_s or 0.0 for r in ours]
    cpus = [r.cpu_s or 0.0 for r in ours]
    worst_total = max(totals) / 1000
    worst_down = max(downs)
    rows = [
        ("live migration, total (driver)", f"{summary(totals)} ms", f"< {TARGET_TOTAL_S:g} s", "yes" if worst_total < TARGET_TOTAL_S else "MISSED"),
        ("live migration, downtime", f"{summary(downs)} ms", f"< {TARGET_DOWNTIME_MS:g} ms", "yes" if worst_down < TARGET_DOWNTIME_MS else "MISSED"),
        ("POST os-migrateLive -> ACTIVE there", f"p50 {statistics.median(apis):.2f} s, max {max(apis):.2f} s", "-", "-"),
        ("Stratus CPU per migration", f"p50 {statistics.median(cpus):.2f} s", "-", "-"),
        ("baseline: bare QEMU, total", f"{summary([r.total_ms for r in bare])} ms", "-", "-"),
        ("baseline: bare QEMU, downtime", f"{summary([r.downtime_ms for r in bare])} ms", "-", "-"),
    ]
    widths = [max(len(r[i]) for r in [("figure", "measured", "target", "met?"), *rows]) for i in range(4)]
    print("\nSummary")
    for r in [("figure", "measured", "target", "met?"), tuple("-" * w for w in widths), *rows]:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |")
    missed = [r[0] for r in rows if r[3] == "MISSED"]
    print(f"\nMISSED {len(missed)} target(s): {', '.join(missed)}" if missed else "\nAll targets met (judged on the worst run).")
    print(json.dumps({"total_ms": totals, "downtime_ms": downs, "api_s": apis, "bare_total_ms": [r.total_ms for r in bare], "bare_downtime_ms": [r.downtime_ms for r in bare]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
