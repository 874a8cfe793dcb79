"""Attaching volumes to a running server: the figures of issue #11.

Starts its own ``stratus up`` (the QEMU driver, the file volume backend) on
a fresh temporary data folder and a free port on 127.0.0.1, boots one
server of the ``tiny`` image, and then, ``--runs`` times:

1. the baseline, in the same run: ``POST /volumes`` of 1 GiB until the
   volume is ``available``;
2. ``POST /servers/{id}/os-volume_attachments`` until the volume is
   ``in-use``, and until the guest's kernel says ``disk added vdX`` on its
   serial console (the console log is read from the server's folder);
3. ``DELETE`` of the attachment until the volume is ``available`` again
   (the guest has let the disk go by then).

4. at the end, the guest's sequential write to a volume beside the same
   guest writing to its root disk (``--write-mib``).

Prints p50 and p90 of each, with the server's CPU time per operation (its
own and its waited-for children's).  Exit status 0 when every figure was
measured (a missed target says MISSED), 1 when a measurement went wrong.

Usage: .venv/bin/python bench/volume_attach.py [--runs 10] [--keep]
"""

from __future__ import annotations

import argparse
import base64
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import harness as bh  # noqa: E402  (what every benchmark shares)

HOST = bh.HOST
TARGET_ATTACH_P50 = 1.0
POLL = 0.005


def server_cpu(pid: int) -> float:
    """CPU seconds of the server and of the children it waited for."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(fields[i]) for i in (11, 12, 13, 14)) / bh.CLK_TCK


def admin(server: bh.Server) -> tuple[str, str]:
    body = bh.password_body(server.password())
    resp = httpx.post(f"http://{HOST}:{server.port}/identity/v3/auth/tokens", json=body, timeout=60)
    return resp.headers["x-subject-token"], resp.json()["token"]["project"]["id"]


def tiny_image(base: str, token: str) -> str:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        resp = httpx.get(
            f"{base}/image/v2/images",
            params={"name": "tiny"},
            headers={"X-Auth-Token": token},
            timeout=60,
        )
        images = resp.json().get("images", [])
        if images and images[0]["status"] == "active":
            return str(images[0]["id"])
        time.sleep(0.2)
    raise RuntimeError("the tiny image never became active")


class Cinder:
    def __init__(self, base: str, token: str, project: str):
        self.http = httpx.Client(
            base_url=f"{base}/volume/v3/{project}",
            headers={"X-Auth-Token": token, "OpenStack-API-Version": "volume 3.71"},
            timeout=120,
        )

    def status(self, vid: str) -> str:
        return str(self.http.get(f"/volumes/{vid}").json()["volume"]["status"])

    def create(self) -> tuple[str, float]:
        start = time.monotonic()
        resp = self.http.post("/volumes", json={"volume": {"size": 1}})
        if resp.status_code != 202:
            raise RuntimeError(f"volume create answered {resp.status_code}: {resp.text}")
        vid = str(resp.json()["volume"]["id"])
        return vid, wait_for(lambda: self.status(vid) == "available", "available") - start


class Nova:
    def __init__(self, base: str, token: str):
        self.http = httpx.Client(
            base_url=f"{base}/compute/v2.1",
            headers={"X-Auth-Token": token, "OpenStack-API-Version": "compute 2.89"},
            timeout=120,
        )

    def boot(self, image: str, user_data: str) -> str:
        body = {
            "name": "bench-vm", "imageRef": image, "flavorRef": "1", "networks": "none",
            "user_data": base64.b64encode(user_data.encode()).decode(),
        }  # fmt: skip
        resp = self.http.post("/servers", json={"server": body})
        if resp.status_code != 202:
            raise RuntimeError(f"server create answered {resp.status_code}: {resp.text}")
        sid = str(resp.json()["server"]["id"])
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            server = self.http.get(f"/servers/{sid}").json()["server"]
            if server["status"] == "ACTIVE":
                return sid
            if server["status"] == "ERROR":
                raise RuntimeError(f"the server failed: {server.get('fault')}")
            time.sleep(0.2)
        raise RuntimeError("the server did not become ACTIVE")


def wait_for(check: Callable[[], bool], what: str, timeout: float = 120) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if check():
            return time.monotonic()
        time.sleep(POLL)
    raise RuntimeError(f"{what} did not happen within {timeout} s")


def is_status(cinder: Cinder, vid: str, status: str) -> bool:
    return cinder.status(vid) == status


def attach(nova: Nova, cinder: Cinder, sid: str, vid: str, console: Path) -> tuple[float, float]:
    """Seconds from the request to ``in-use``, and to the guest's
    ``disk added`` line, polled together."""
    seen = console.read_bytes().count(b"disk added vd")
    start = time.monotonic()
    body: dict[str, Any] = {"volumeAttachment": {"volumeId": vid}}
    resp = nova.http.post(f"/servers/{sid}/os-volume_attachments", json=body)
    if resp.status_code != 200:
        raise RuntimeError(f"attach answered {resp.status_code}: {resp.text}")
    used = added = 0.0
    while not (used and added):
        now = time.monotonic() - start
        if now > 120:
            raise RuntimeError(f"volume {vid} not in-use and seen by the guest within 120 s")
        if not used and cinder.status(vid) == "in-use":
            used = now
        if not added and console.read_bytes().count(b"disk added vd") > seen:
            added = now
        time.sleep(POLL)
    return used, added


# The guest's user data: when a disk appears as vdb holding 0x5a bytes at its
# start (the bench's marker), write @MIB@ MiB sequentially (1 MiB blocks, then
# fsync) to the end of its root disk and then to that volume, timed with
# /proc/uptime; other disks (the attach runs) are left alone.
WRITER = r"""#!/bin/sh
(
while :; do
    if [ -b /dev/vdb ] && [ ! -f /tmp/seen ]; then
        touch /tmp/seen
        if [ "$(head -c 4 /dev/vdb | od -An -tx1 | tr -d ' \n')" = "5a5a5a5a" ]; then
            for disk in vda vdb; do
                mib=$(( $(cat /sys/block/$disk/size) / 2048 ))
                seek=$(( mib - @MIB@ - 1 ))
                t0=$(cut -d' ' -f1 /proc/uptime)
                dd if=/dev/zero of=/dev/$disk bs=1M count=@MIB@ seek=$seek conv=fsync 2>/dev/null
                t1=$(cut -d' ' -f1 /proc/uptime)
                echo "benchwrite $disk @MIB@ $t0 $t1"
            done
        fi
    fi
    [ -b /dev/vdb ] || rm -f /tmp/seen
    sleep 0.2
done
) > /dev/ttyS0 2>&1 &
"""
WRITES = re.compile(rb"benchwrite (vd[ab]) (\d+) ([\d.]+) ([\d.]+)")


def guest_writes(nova: Nova, cinder: Cinder, sid: str, console: Path, data: Path, mib: int) -> None:
    """The guest's sequential write to a volume, beside the same guest
    writing to its root disk (a copy-on-write overlay on the image)."""
    vid, _ = cinder.create()
    path = data / "volumes" / "bench" / "volumes" / f"volume-{vid}.qcow2"
    subprocess.run(
        ["qemu-io", "-f", "qcow2", "-c", "write -P 0x5a 0 4096", str(path)],
        check=True,
        capture_output=True,
    )
    body: dict[str, Any] = {"volumeAttachment": {"volumeId": vid}}
    nova.http.post(f"/servers/{sid}/os-volume_attachments", json=body)
    wait_for(lambda: len(WRITES.findall(console.read_bytes())) >= 2, "the guest's writes", 600)
    rates = {}
    for disk, _n, t0, t1 in WRITES.findall(console.read_bytes())[-2:]:
        seconds = max(float(t1) - float(t0), 0.01)
        rates[disk.decode()] = mib * (1 << 20) / seconds / 1e6
    print(
        f"guest sequential write ({mib} MiB, 1 MiB blocks, fsync): to a volume "
        f"{rates['vdb']:.0f} MB/s, to its root disk {rates['vda']:.0f} MB/s "
        f"(volume/root {rates['vdb'] / rates['vda']:.2f}x)"
    )
    nova.http.delete(f"/servers/{sid}/os-volume_attachments/{vid}")
    wait_for(partial(is_status, cinder, vid, "available"), "detach")
    cinder.http.delete(f"/volumes/{vid}")


def line(name: str, times: list[float], cpu: float, target: str = "") -> str:
    return (
        f"{name}: p50 {bh.pct(times, 0.5) * 1000:.0f} ms, p90 {bh.pct(times, 0.9) * 1000:.0f} ms, "
        f"{cpu * 1000:.0f} ms server CPU each{target}"
    )


def kill_guests(folder: Path) -> None:
    """qemu processes of this run's data folder (none when all went well)."""
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"qemu-system" in cmdline and str(folder).encode() in cmdline:
            os.kill(int(pid), 9)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument(
        "--write-mib", type=int, default=64, help="MiB the guest writes to each disk"
    )
    parser.add_argument("--keep", action="store_true", help="keep the data folder")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="sb-va-", dir="/tmp"))  # short: QMP sockets live here
    host = "benchhost"
    server = bh.Server(
        tmp / "d", env={"STRATUS_COMPUTE__HOST": host, "STRATUS_VOLUME__HOST": "bench"}
    )
    try:
        server.start()
        with httpx.Client() as c:
            server.wait_ready(c, timeout=120)  # a machine shared with other suites
        token, project = admin(server)
        base = f"http://{HOST}:{server.port}"
        cinder = Cinder(base, token, project)
        nova = Nova(base, token)
        image = tiny_image(base, token)
        print(f"stratus volume attach benchmark, {bh.cpu_model()}, {os.cpu_count()} CPUs")
        sid = nova.boot(image, WRITER.replace("@MIB@", str(args.write_mib)))
        console = tmp / "d" / "compute" / host / "instances" / sid / "console.log"
        wait_for(lambda: b"stratus-tiny: ready" in console.read_bytes(), "the guest's boot", 300)
        print(f"  other load before: {bh.wait_quiet(10):.2f} cores")

        creates: list[float] = []
        in_use: list[float] = []
        in_guest: list[float] = []
        detaches: list[float] = []
        cpu = {"create": 0.0, "attach": 0.0, "detach": 0.0}
        for _ in range(args.runs):
            c0 = server_cpu(server.pid)
            vid, seconds = cinder.create()
            creates.append(seconds)
            c1 = server_cpu(server.pid)
            used, seen_at = attach(nova, cinder, sid, vid, console)
            in_use.append(used)
            in_guest.append(seen_at)
            c2 = server_cpu(server.pid)
            start = time.monotonic()
            nova.http.delete(f"/servers/{sid}/os-volume_attachments/{vid}")
            detaches.append(
                wait_for(partial(is_status, cinder, vid, "available"), "detach") - start
            )
            c3 = server_cpu(server.pid)
            cpu["create"] += c1 - c0
            cpu["attach"] += c2 - c1
            cpu["detach"] += c3 - c2
            cinder.http.delete(f"/volumes/{vid}")
        n = args.runs
        p50 = bh.pct(in_use, 0.5)
        met = "met" if bh.pct(in_guest, 0.5) < TARGET_ATTACH_P50 else "MISSED"
        print(line("baseline: volume create --size 1 -> available", creates, cpu["create"] / n))
        print(line("attach to a running server -> in-use", in_use, cpu["attach"] / n))
        print(
            line(
                "attach -> the guest sees the disk",
                in_guest,
                cpu["attach"] / n,
                f" [target p50 < 1 s: {met}]",
            )
        )
        print(line("detach -> available (the guest let it go)", detaches, cpu["detach"] / n))
        print(f"  in-use p50 is {p50 / max(bh.pct(creates, 0.5), 1e-9):.1f}x the create p50")
        guest_writes(nova, cinder, sid, console, tmp / "d", args.write_mib)
        nova.http.delete(f"/servers/{sid}")
        wait_for(lambda: nova.http.get(f"/servers/{sid}").status_code == 404, "delete", 60)
    except RuntimeError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 1
    finally:
        server.stop()
        kill_guests(tmp)
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(f"data kept in {tmp}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
