"""Performance figures of the Stratus image service (Glance v2).

Starts its own ``stratus up`` on a fresh temporary data folder and a free port
on 127.0.0.1 (file store, the default), then measures, on the same filesystem:

1. the machine's sequential disk throughput with dd (the baseline, in the same
   run): a write of ``--size`` MiB with ``conv=fdatasync`` and a read of it with
   ``iflag=direct``;
2. upload: PUT /v2/images/{id}/file of ``--size`` MiB of random data (a pool of
   random 1 MiB blocks, cycled; disk_format raw), streamed from a generator
   with chunked transfer encoding, as the OpenStack clients send it: MB/s, the
   server's CPU per GiB, and its resident memory sampled every 20 ms (it must
   stay flat: the data is streamed, never held);
3. download: GET /v2/images/{id}/file streamed to /dev/null by curl (httpx
   without curl), once after the
   stored file was dropped from the page cache (from the disk) and once
   straight after (from the page cache);
4. the same upload and downloads with the object-store backend
   (``[image] store = "swift"``: the image as segments and a manifest in the
   all-in-one's object store, one replica), on a second cloud.

Throughput is in MB/s (10^6 bytes a second), as dd prints it.  Nothing is
pinned unless ``--pin`` (server on CPU 0, this client on CPU 1): the upload
hashes and writes on threads, and dd, the baseline, uses the whole machine
too.  CPU times come from /proc/PID/stat;
"other load" is the CPU used meanwhile by processes other than the server and
this client (QUIET / busy / NOISY).

Exit status: 0 when every figure was measured, even if a target was missed
(missed targets say MISSED); 1 when a measurement itself went wrong.

Usage: .venv/bin/python bench/image.py [--size 1024] [--repeat 1]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import harness as bh  # noqa: E402  (what every benchmark shares)

HOST = bh.HOST  # 127.0.0.1, never anything else
CLK_TCK = bh.CLK_TCK
MIB = 1 << 20
BLOCKS = 16  # distinct random 1 MiB blocks, cycled

TARGET_UPLOAD_SHARE = 0.70  # file-store upload >= 70 % of dd's write rate
RSS_GROWTH_MIB = 64.0  # "flat": peak RSS during the upload at most this above the start

fail = bh.fail


noise = bh.noise
Transfer = bh.Transfer
best = bh.best


# -- dd --------------------------------------------------------------------------------------


def drop_file_cache(path: Path) -> None:
    """Drop one file's pages from the page cache (GNU dd's nocache, count=0):
    affects nothing but this file, unlike /proc/sys/vm/drop_caches."""
    subprocess.run(
        ["dd", f"if={path}", "iflag=nocache", "count=0", "status=none"], check=False
    )


def dd(argv: list[str], size: int) -> tuple[float, float, str]:
    """Run dd; (MB/s by our clock, others' load, dd's own summary line)."""
    _, busy0, _ = bh.machine_ticks()
    kids0 = bh.children_cpu()
    t0 = time.monotonic()
    out = subprocess.run(["dd", *argv], capture_output=True, text=True, check=True)
    seconds = time.monotonic() - t0
    _, busy1, _ = bh.machine_ticks()
    others = max(0.0, (busy1 - busy0) / CLK_TCK - (bh.children_cpu() - kids0)) / seconds
    last = out.stderr.strip().splitlines()[-1] if out.stderr.strip() else ""
    return size / seconds / 1e6, others, last


@dataclass
class DdResult:
    write: float
    read: float
    write_others: float
    read_others: float
    write_line: str
    read_line: str


def measure_dd(work: Path, mib: int) -> DdResult:
    target = work / "dd.bin"
    bh.wait_quiet()
    write, wo, wl = dd(
        [
            "if=/dev/zero", f"of={target}", "bs=1M", f"count={mib}", "conv=fdatasync",
        ],
        mib * MIB,
    )  # fmt: skip
    drop_file_cache(target)
    bh.wait_quiet()
    try:
        read, ro, rl = dd([f"if={target}", "of=/dev/null", "bs=1M", "iflag=direct"], mib * MIB)
    except subprocess.CalledProcessError:  # no O_DIRECT on this filesystem
        drop_file_cache(target)
        read, ro, rl = dd([f"if={target}", "of=/dev/null", "bs=1M"], mib * MIB)
        rl += " (page cache dropped for the file; no O_DIRECT)"
    target.unlink()
    return DdResult(write, read, wo, ro, wl, rl)


# -- the cloud -------------------------------------------------------------------------------


# Neither cloud runs compute: its first start builds the tiny guest image in
# the background, which would share the cores with the first measurement.
FILE_ENV = {"STRATUS_SERVICES__ENABLED": '["identity", "image"]'}
SWIFT_ENV = {
    "STRATUS_IMAGE__STORE": "swift",
    "STRATUS_SERVICES__ENABLED": '["identity", "image", "object-store"]',
}


def transfers(
    cloud: Cloud, blocks: list[bytes], mib: int, repeat: int, want_md5: str
) -> tuple[Transfer, Transfer, Transfer]:
    """Upload, download from the disk, download from the page cache: the best
    of ``repeat`` each, every image checked (active, size, md5) and deleted."""
    size = mib * MIB
    ups: list[Transfer] = []
    colds: list[Transfer] = []
    warms: list[Transfer] = []
    for i in range(max(1, repeat)):
        image_id = cloud.create(f"bench-{i}")
        ups.append(measure(cloud, "upload", size, lambda i=image_id: upload(cloud, i, blocks, mib)))
        record = cloud.show(image_id)
        if record.get("status") != "active" or record.get("size") != size:
            fail(f"image {image_id}: status {record.get('status')}, size {record.get('size')}")
        if record.get("checksum") not in (None, want_md5):
            fail(f"image {image_id}: checksum {record.get('checksum')} is not {want_md5}")
        drop_stored(cloud.server.data_dir)
        colds.append(measure(cloud, "download (disk)", size, lambda i=image_id: download(cloud, i, size)))
        warms.append(measure(cloud, "download (page cache)", size, lambda i=image_id: download(cloud, i, size)))
        cloud.delete(image_id)
    return best(ups), best(colds), best(warms)


def drop_stored(data_dir: Path) -> None:
    """Drop the stored image from the page cache: the file store's file, or
    the object store's segment files (every file of at least 1 MiB)."""
    for path in data_dir.rglob("*"):
        if path.is_file() and path.stat().st_size >= MIB and path.suffix != ".db":
            drop_file_cache(path)


class Cloud:
    def __init__(self, data_dir: Path, cpu: int | None, env: dict[str, str] | None = None):
        self.server = bh.Server(data_dir, cpu=cpu, env=env)
        self.url = ""
        self.token = ""
        self.http = httpx.Client(timeout=httpx.Timeout(60.0, read=600.0, write=600.0))

    def start(self) -> None:
        self.server.start()
        self.url = f"http://{HOST}:{self.server.port}/image"
        self.server.wait_ready(self.http, timeout=60.0)
        self.token, _ = bh.issue(
            self.http, self.server.base, bh.password_body(self.server.password())
        )

    @property
    def pid(self) -> int:
        return self.server.pid

    def cpu(self) -> float:
        user, system = self.server.cpu_times()
        return user + system

    def kib(self, key: str) -> int:
        return self.server.status_kib(key)

    def headers(self, **extra: str) -> dict[str, str]:
        return {"X-Auth-Token": self.token, **extra}

    def create(self, name: str) -> str:
        body = {"name": name, "disk_format": "raw", "container_format": "bare"}
        resp = self.http.post(f"{self.url}/v2/images", json=body, headers=self.headers())
        if resp.status_code != 201:
            raise RuntimeError(f"POST /v2/images answered {resp.status_code}: {resp.text[:300]}")
        return str(resp.json()["id"])

    def show(self, image_id: str) -> dict[str, object]:
        resp = self.http.get(f"{self.url}/v2/images/{image_id}", headers=self.headers())
        resp.raise_for_status()
        return dict(resp.json())

    def delete(self, image_id: str) -> None:
        self.http.delete(f"{self.url}/v2/images/{image_id}", headers=self.headers())

    def stop(self) -> None:
        self.http.close()
        self.server.stop()


# -- transfers ---------------------------------------------------------------------------------


def data_blocks(seed_blocks: int = BLOCKS) -> list[bytes]:
    return [os.urandom(MIB) for _ in range(seed_blocks)]


def generator(blocks: list[bytes], mib: int) -> Iterator[bytes]:
    for i in range(mib):
        yield blocks[i % len(blocks)]


def measure(cloud: Cloud, name: str, size: int, action: Callable[[], None]) -> Transfer:
    return bh.measure_transfer(
        name, size, action, cpu=cloud.cpu, rss=lambda: cloud.kib("VmRSS")
    )


def upload(cloud: Cloud, image_id: str, blocks: list[bytes], mib: int) -> None:
    resp = cloud.http.put(
        f"{cloud.url}/v2/images/{image_id}/file",
        content=generator(blocks, mib),
        headers=cloud.headers(**{"Content-Type": "application/octet-stream"}),
    )
    if resp.status_code != 204:
        raise RuntimeError(f"PUT file answered {resp.status_code}: {resp.text[:300]}")


def download(cloud: Cloud, image_id: str, size: int) -> None:
    """GET the file to nowhere: with curl when there is one (pinned beside this
    client), as Python's HTTP clients cost more CPU per byte than the server;
    else with httpx."""
    url = f"{cloud.url}/v2/images/{image_id}/file"
    if shutil.which("curl"):
        argv = ["curl", "-sS", "-f", "-o", "/dev/null", "-w", "%{size_download}"]
        argv += ["-H", f"X-Auth-Token: {cloud.token}", url]
        out = subprocess.run(bh.pinned(1, argv), capture_output=True, text=True, check=False)
        if out.returncode != 0:
            raise RuntimeError(f"curl GET file failed ({out.returncode}): {out.stderr.strip()}")
        got = int(float(out.stdout.strip() or 0))
    else:
        got = 0
        with cloud.http.stream("GET", url, headers=cloud.headers()) as resp:
            if resp.status_code != 200:
                raise RuntimeError(f"GET file answered {resp.status_code}")
            for chunk in resp.iter_raw(MIB):
                got += len(chunk)
    if got != size:
        raise RuntimeError(f"GET file returned {got} bytes, not {size}")


def print_transfer(t: Transfer, dd_rate: float, dd_name: str) -> None:
    print(
        f"  throughput      {t.mbps:8.0f} MB/s   ({t.mbps / dd_rate * 100:.0f} % of dd's {dd_name} "
        f"{dd_rate:.0f} MB/s)  {t.seconds:.2f} s"
    )
    print(
        f"  server CPU      {t.server_cpu_per_gib:8.2f} s per GiB   (busy {t.busy * 100:.0f} % of a core;"
        f" CPU-bound ceiling {1.073741824e3 / t.server_cpu_per_gib if t.server_cpu_per_gib else 0:.0f} MB/s)"
    )
    print(f"  client CPU      {t.client_cpu_per_gib:8.2f} s per GiB")
    print(
        f"  server RSS      start {t.rss_start_mib:.0f} MiB, peak {t.rss_peak_mib:.0f} MiB "
        f"(+{t.rss_peak_mib - t.rss_start_mib:.0f}), end {t.rss_end_mib:.0f} MiB"
    )
    print(f"  other load      {t.others * 100:8.0f} % of a core by other processes ({noise(t.others)})")
    if len(t.runs) > 1:
        print(f"  repeats         best of {', '.join(f'{x:.0f}' for x in t.runs)} MB/s")
    sys.stdout.flush()


def profile_upload(cloud: Cloud, blocks: list[bytes], mib: int, out: Path) -> str:
    image_id = cloud.create("bench-profile")
    try:
        p = bh.profile(
            cloud.pid, out, lambda: upload(cloud, image_id, blocks, mib),
            rate=200, threads=True, lead=1.0, form="busy",
        )  # fmt: skip
    finally:
        cloud.delete(image_id)
    return p.summary


def hash_costs(blocks: list[bytes], mib: int = 256) -> dict[str, float]:
    """CPU seconds per GiB of md5 and sha512 (the two digests the upload keeps)
    and of copying into a bytearray, in a thread pinned like the server."""
    costs: dict[str, float] = {}

    def run() -> None:
        if bh.PIN:
            os.sched_setaffinity(0, {0})  # this thread only: the server's core
        for name in ("md5", "sha512"):
            h = hashlib.new(name, usedforsecurity=False)
            t0 = time.thread_time()
            for chunk in generator(blocks, mib):
                h.update(chunk)
            costs[name] = (time.thread_time() - t0) * 1024 / mib
        buf = bytearray()
        t0 = time.thread_time()
        for i, chunk in enumerate(generator(blocks, mib)):
            buf += chunk
            if i % 4 == 3:
                buf = bytearray()
        costs["copy"] = (time.thread_time() - t0) * 1024 / mib

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    return costs


# -- main --------------------------------------------------------------------------------------


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--size", type=int, default=1024, help="MiB per image and per dd run [1024]")
    ap.add_argument("--repeat", type=int, default=1, help="runs of each figure; the best is kept [1]")
    ap.add_argument(
        "--quiet-wait",
        type=float,
        default=bh.QUIET_WAIT,
        help=f"seconds to wait, at most, for other load to stop before each run [{bh.QUIET_WAIT:g}]",
    )
    ap.add_argument("--commit", metavar="REV", help="measure the src/ of this git commit")
    ap.add_argument(
        "--pin",
        action="store_true",
        help="pin the server to CPU 0 and this client to CPU 1 (default: no pinning: the upload"
        " hashes and writes on threads, and dd, the baseline, uses the whole machine too)",
    )
    ap.add_argument("--no-pin", action="store_true", help=argparse.SUPPRESS)  # the default now
    ap.add_argument(
        "--profile", action="store_true", help="sample the server with py-spy during one more upload"
    )
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder (logs, data)")
    args = ap.parse_args()
    # A SIGTERM unwinds like an exception, so that every server and qemu of
    # ours is cleaned up on the way out.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    bh.QUIET_WAIT = args.quiet_wait
    mib, size = args.size, args.size * MIB
    if not args.pin:
        bh.PIN = False

    tmp = Path(tempfile.mkdtemp(prefix="stratus-bench-"))
    source = bh.use_source(args.commit, tmp)
    if source is None:
        shutil.rmtree(tmp, ignore_errors=True)
        return 2
    free = shutil.disk_usage(tmp).free
    if free < 3 * size:
        print(f"bench: {free / 2**30:.1f} GiB free in {tmp}; need {3 * size / 2**30:.1f}", file=sys.stderr)
        shutil.rmtree(tmp, ignore_errors=True)
        return 2
    fs = subprocess.run(
        ["df", "--output=source,fstype", str(tmp)], capture_output=True, text=True, check=False
    ).stdout.split()[-2:]
    print(f"Stratus image benchmark, {time.strftime('%Y-%m-%d %H:%M:%S %Z')}")
    print(bh.machine())
    print(f"filesystem: {' '.join(fs)} ({tmp}); image {mib} MiB, raw, random data")
    print(f"pinning: {'server on CPU 0, client on CPU 1' if bh.PIN else 'none'}")
    print(f"stratus: {source}")
    print(f"work folder: {tmp}\n", flush=True)

    rows: list[tuple[str, str, str, bool | None]] = []
    cloud: Cloud | None = None
    try:
        # 1. dd -------------------------------------------------------------------------------
        print(f"1. baseline: dd, {mib} x 1 MiB on the same filesystem")
        runs = [measure_dd(tmp, mib) for _ in range(max(1, args.repeat))]
        write = max(runs, key=lambda r: r.write)
        read = max(runs, key=lambda r: r.read)
        print(
            f"  write (conv=fdatasync)  {write.write:6.0f} MB/s   other load {write.write_others * 100:.0f} %"
            f" ({noise(write.write_others)})   dd: {write.write_line}"
        )
        print(
            f"  read (iflag=direct)     {read.read:6.0f} MB/s   other load {read.read_others * 100:.0f} %"
            f" ({noise(read.read_others)})   dd: {read.read_line}"
        )
        if len(runs) > 1:
            print(f"  repeats  write {', '.join(f'{r.write:.0f}' for r in runs)}; read {', '.join(f'{r.read:.0f}' for r in runs)} MB/s")
        print(flush=True)

        # the cloud ---------------------------------------------------------------------------
        cloud = Cloud(tmp / "cloud", cpu=0 if bh.PIN else None, env=FILE_ENV)
        cloud.start()
        if bh.PIN:
            os.sched_setaffinity(0, {1})
        blocks = data_blocks()
        bh.wait_quiet()
        costs = hash_costs(blocks)
        print(
            f"CPU cost on the server's core, per GiB: md5 {costs['md5']:.2f} s, sha512 {costs['sha512']:.2f} s,"
            f" a copy into a bytearray {costs['copy']:.2f} s (the upload hashes with both)"
        )
        # Either digest is sequential: one upload goes no faster than one core computes the slower.
        ceiling = (1 << 30) / max(costs["md5"], costs["sha512"]) / 1e6
        print(f"the digests' ceiling: {ceiling:.0f} MB/s (one core for each; no upload keeping both can pass it)\n")
        md5 = hashlib.md5(usedforsecurity=False)
        for chunk in generator(blocks, mib):
            md5.update(chunk)
        want_md5 = md5.hexdigest()

        up, cold, warm = transfers(cloud, blocks, mib, args.repeat, want_md5)
        print(f"2. upload: PUT /v2/images/{{id}}/file, {mib} MiB streamed (chunked), file store")
        print_transfer(up, write.write, "write")
        print()
        print(f"3. download: GET /v2/images/{{id}}/file, {mib} MiB to /dev/null ({'curl' if shutil.which('curl') else 'httpx'})")
        print("  from the disk (the file dropped from the page cache first):")
        print_transfer(cold, read.read, "read")
        print("  from the page cache (straight after):")
        print_transfer(warm, read.read, "read")
        print()
        if args.profile:
            print("profile of one more upload to the file store (py-spy, all threads of the server):")
            print("  " + profile_upload(cloud, blocks, mib, tmp / "upload.pyspy").replace("\n", "\n  "))
            print(flush=True)
        cloud.stop()
        cloud = None
        print(flush=True)

        # 4. the object-store backend ---------------------------------------------------------
        cloud = Cloud(tmp / "swift", cpu=0 if bh.PIN else None, env=SWIFT_ENV)
        cloud.start()
        sup, scold, swarm = transfers(cloud, blocks, mib, args.repeat, want_md5)
        print(f"4. object-store backend ([image] store = swift; segments + manifest, one replica), {mib} MiB")
        print("  upload:")
        print_transfer(sup, write.write, "write")
        print("  download from the disk (the segments dropped from the page cache first):")
        print_transfer(scold, read.read, "read")
        print("  download from the page cache (straight after):")
        print_transfer(swarm, read.read, "read")
        print(flush=True)


        share = up.mbps / write.write
        growth = up.rss_peak_mib - up.rss_start_mib
        rows += [
            ("dd write (conv=fdatasync)", f"{write.write:.0f} MB/s", "-", None),
            ("dd read (iflag=direct)", f"{read.read:.0f} MB/s", "-", None),
            (
                f"upload {mib} MiB, file store",
                f"{up.mbps:.0f} MB/s ({share:.0%} of dd), {up.server_cpu_per_gib:.2f} s CPU/GiB",
                f">= {TARGET_UPLOAD_SHARE:.0%} of dd write",
                share >= TARGET_UPLOAD_SHARE,
            ),
            (
                "server peak RSS during upload",
                f"{up.rss_peak_mib:.0f} MiB (+{growth:.0f} MiB)",
                f"flat (< +{RSS_GROWTH_MIB:g} MiB)",
                growth < RSS_GROWTH_MIB,
            ),
            (
                f"download {mib} MiB, from disk",
                f"{cold.mbps:.0f} MB/s ({cold.mbps / read.read:.0%} of dd), {cold.server_cpu_per_gib:.2f} s CPU/GiB",
                "-",
                None,
            ),
            (
                f"download {mib} MiB, page cache",
                f"{warm.mbps:.0f} MB/s, {warm.server_cpu_per_gib:.2f} s CPU/GiB",
                "-",
                None,
            ),
            (
                f"upload {mib} MiB, object store",
                f"{sup.mbps:.0f} MB/s ({sup.mbps / write.write:.0%} of dd), {sup.server_cpu_per_gib:.2f} s CPU/GiB",
                "-",
                None,
            ),
            (
                f"download {mib} MiB, object store, from disk",
                f"{scold.mbps:.0f} MB/s, {scold.server_cpu_per_gib:.2f} s CPU/GiB",
                "-",
                None,
            ),
            (
                f"download {mib} MiB, object store, page cache",
                f"{swarm.mbps:.0f} MB/s, {swarm.server_cpu_per_gib:.2f} s CPU/GiB",
                "-",
                None,
            ),
        ]
    except Exception as exc:  # report, clean up, exit 1 below
        fail(f"{type(exc).__name__}: {exc}")
        if cloud is not None:
            print(cloud.server.log_tail(), file=sys.stderr)
    finally:
        if bh.PIN:
            os.sched_setaffinity(0, {0, 1})
        if cloud is not None:
            cloud.stop()
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    print("Summary")
    return bh.print_summary(rows)


if __name__ == "__main__":
    sys.exit(main())
