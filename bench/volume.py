"""Performance figures of the Stratus block storage service (Cinder v3).

Starts its own ``stratus up`` on a fresh temporary data folder and a free
port on 127.0.0.1 (file backend, compute's fake driver: no guest), then
measures, through the API:

1. ``POST /volumes`` of 1 GiB until the volume is ``available``
   (``--creates`` times): p50 and p90, and the server's CPU per volume
   (its own and its children's: qemu-img);
2. a volume from the built-in ``tiny`` image until ``available``
   (``--from-image`` times): download, format check, conversion;
3. a backup of a 1 GiB volume holding 50 % random data (every other 4 MiB
   block; the rest never written), in MB/s of the volume's size and of its
   data, beside the baseline measured in the same run: the object store's
   large-object PUT rate, the same amount of random data streamed as one
   object by the same HTTP client library; then the restore of that backup
   into a new volume.

Times are wall-clock from the request to the status seen by polling every
5 ms.  Exit status 0 when every figure was measured (missed targets say
MISSED), 1 when a measurement went wrong.

Usage: .venv/bin/python bench/volume.py [--creates 20] [--from-image 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import harness as bh  # noqa: E402  (what every benchmark shares)

HOST = bh.HOST
CLK_TCK = bh.CLK_TCK
MIB = 1 << 20
GIB = 1 << 30
TARGET_CREATE_P50 = 0.200
TARGET_FROM_IMAGE = 1.0
TARGET_BACKUP_SHARE = 0.50


def server_cpu(pid: int) -> float:
    """CPU seconds of the server and of the children it waited for."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(fields[i]) for i in (11, 12, 13, 14)) / CLK_TCK


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * (len(ordered) - 1) + 0.5))]


class Api:
    def __init__(self, base: str, token: str, project: str):
        self.http = httpx.Client(
            base_url=f"{base}/volume/v3/{project}",
            headers={"X-Auth-Token": token, "OpenStack-API-Version": "volume 3.71"},
            timeout=120,
        )

    def wait(self, path: str, key: str, status: str, timeout: float = 600) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            body = self.http.get(path).json()[key]
            if body["status"] == status:
                return body  # type: ignore[no-any-return]
            if body["status"] == "error":
                raise RuntimeError(f"{path} went to error: {body}")
            time.sleep(0.005)
        raise RuntimeError(f"{path} not {status} after {timeout} s")

    def volume(self, body: dict[str, Any]) -> tuple[str, float]:
        start = time.monotonic()
        resp = self.http.post("/volumes", json={"volume": body})
        if resp.status_code != 202:
            raise RuntimeError(f"volume create answered {resp.status_code}: {resp.text}")
        vid = resp.json()["volume"]["id"]
        self.wait(f"/volumes/{vid}", "volume", "available")
        return vid, time.monotonic() - start

    def delete(self, vid: str) -> None:
        self.http.delete(f"/volumes/{vid}")


def timed(pid: int, runs: int, op: Callable[[], float]) -> tuple[list[float], float]:
    cpu0 = server_cpu(pid)
    times = [op() for _ in range(runs)]
    return times, (server_cpu(pid) - cpu0) / runs


def fill_half(path: Path, scratch: Path) -> int:
    """Every other 4 MiB block of the 1 GiB volume file random: 512 MiB."""
    raw = scratch / "fill.raw"
    written = 0
    with raw.open("wb") as f:
        f.truncate(GIB)
        for offset in range(0, GIB, 8 * MIB):
            f.seek(offset)
            f.write(os.urandom(4 * MIB))
            written += 4 * MIB
    subprocess.run(
        ["qemu-img", "convert", "-n", "-f", "raw", "-O", "qcow2", str(raw), str(path)], check=True
    )
    raw.unlink()
    return written


def put_rate(base: str, token: str, project: str, size: int) -> tuple[float, float, int]:
    """(MB/s, client CPU s, status) of one object of ``size`` random bytes."""
    url = f"{base}/object-store/v1/AUTH_{project}/bench-volume"
    blocks = [os.urandom(MIB) for _ in range(16)]

    def body() -> Iterator[bytes]:
        for i in range(size // MIB):
            yield blocks[i % 16]

    with httpx.Client(timeout=600, headers={"X-Auth-Token": token}) as http:
        http.put(url)
        cpu0 = time.process_time()
        start = time.monotonic()
        resp = http.put(f"{url}/big", content=body())
        elapsed = time.monotonic() - start
        http.delete(f"{url}/big")
    return size / elapsed / 1e6, time.process_time() - cpu0, resp.status_code


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--creates", type=int, default=20)
    parser.add_argument("--from-image", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="keep the data folder")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="stratus-bench-volume-"))
    server = bh.Server(
        tmp / "data",
        env={"STRATUS_COMPUTE__DRIVER": "fake", "STRATUS_VOLUME__HOST": "bench"},
    )
    try:
        server.start()
        with httpx.Client() as c:
            server.wait_ready(c, timeout=120)  # a machine shared with other suites
        token, project = admin(server)
        base = f"http://{HOST}:{server.port}"
        api = Api(base, token, project)
        unlimited = {"volumes": -1, "gigabytes": -1, "backups": -1, "backup_gigabytes": -1}
        api.http.put(f"/os-quota-sets/{project}", json={"quota_set": unlimited})
        wait_tiny(base, token)
        print(f"stratus volume benchmark, {bh.cpu_model()}, {os.cpu_count()} CPUs")
        print(f"  other load before: {bh.wait_quiet(10):.2f} cores")

        api.delete(api.volume({"size": 1})[0])  # warm-up
        made: list[str] = []
        rows: list[tuple[Any, ...]] = []

        def create() -> float:
            vid, seconds = api.volume({"size": 1})
            made.append(vid)
            return seconds

        times, cpu = timed(server.pid, args.creates, create)
        p50 = pct(times, 0.5)
        print(f"volume create --size 1 -> available: p50 {p50 * 1000:.0f} ms, p90 "
              f"{pct(times, 0.9) * 1000:.0f} ms, {cpu * 1000:.0f} ms server CPU each "
              f"[target p50 < 200 ms: {'met' if p50 < TARGET_CREATE_P50 else 'MISSED'}]")  # fmt: skip
        rows.append(("volume create --size 1 -> available, p50", f"{p50 * 1000:.0f} ms",
                     "< 200 ms", p50 < TARGET_CREATE_P50))  # fmt: skip
        for vid in made:
            api.delete(vid)

        tiny = image_id(base, token, "tiny")
        made.clear()

        def from_image() -> float:
            vid, seconds = api.volume({"size": 1, "imageRef": tiny})
            made.append(vid)
            return seconds

        times, cpu = timed(server.pid, args.from_image, from_image)
        p50 = pct(times, 0.5)
        print(f"volume from the tiny image -> available: p50 {p50 * 1000:.0f} ms, max "
              f"{max(times) * 1000:.0f} ms, {cpu * 1000:.0f} ms server CPU each "
              f"[target < 1 s: {'met' if max(times) < TARGET_FROM_IMAGE else 'MISSED'}]")  # fmt: skip
        rows.append(("volume from the tiny image -> available, max", f"{max(times) * 1000:.0f} ms",
                     "< 1 s", max(times) < TARGET_FROM_IMAGE))  # fmt: skip
        for vid in made:
            api.delete(vid)

        rows.extend(backup_figures(api, server, base, token, project, tmp))
        print(f"  other load after: {bh.wait_quiet(0):.2f} cores")
    except RuntimeError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 1
    finally:
        server.stop()
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(f"data kept in {tmp}")
    print()
    return bh.print_summary(rows)


def backup_figures(
    api: Api, server: bh.Server, base: str, token: str, project: str, tmp: Path
) -> list[tuple[Any, ...]]:
    vid, _ = api.volume({"size": 1})
    path = tmp / "data" / "volumes" / "bench" / "volumes" / f"volume-{vid}.qcow2"
    data = fill_half(path, tmp)
    service = service_project(base, token)
    cpu0 = server_cpu(server.pid)
    put_mbs, put_cpu, status = put_rate(base, token, service, data)
    if status != 201:
        bh.fail(f"the object store PUT answered {status}")
    print(f"object store PUT of one {data // MIB} MiB object: {put_mbs:.0f} MB/s, "
          f"{server_cpu(server.pid) - cpu0:.2f} s server CPU, client CPU {put_cpu:.2f} s "
          f"[baseline]")  # fmt: skip
    cpu0 = server_cpu(server.pid)
    start = time.monotonic()
    resp = api.http.post("/backups", json={"backup": {"volume_id": vid, "name": "bench"}})
    bid = resp.json()["backup"]["id"]
    backup = api.wait(f"/backups/{bid}", "backup", "available")
    elapsed = backup_s = time.monotonic() - start
    cpu = server_cpu(server.pid) - cpu0
    share = data / elapsed / 1e6 / put_mbs
    print(f"backup of a 1 GiB volume, 50 % random: {elapsed:.2f} s, {GIB / elapsed / 1e6:.0f} MB/s "
          f"of volume, {data / elapsed / 1e6:.0f} MB/s of data = {share * 100:.0f} % of the PUT "
          f"rate, {backup['object_count']} objects, {cpu:.2f} s server CPU "
          f"[target >= 50 %: {'met' if share >= TARGET_BACKUP_SHARE else 'MISSED'}]")  # fmt: skip
    start = time.monotonic()
    resp = api.http.post(f"/backups/{bid}/restore", json={"restore": {"name": "bench-restore"}})
    rid = resp.json()["restore"]["volume_id"]
    api.wait(f"/volumes/{rid}", "volume", "available")
    elapsed = time.monotonic() - start
    print(f"restore of that backup into a new volume: {elapsed:.2f} s, "
          f"{data / elapsed / 1e6:.0f} MB/s of data")  # fmt: skip
    return [
        ("backup, MB/s of data / object store PUT", f"{data / backup_s / 1e6:.0f} / "
         f"{put_mbs:.0f} MB/s = {share * 100:.0f} %", ">= 50 %", share >= TARGET_BACKUP_SHARE),
        ("restore, MB/s of data", f"{data / elapsed / 1e6:.0f} MB/s", "", None),
    ]  # fmt: skip


def admin(server: bh.Server) -> tuple[str, str]:
    body = {
        "auth": {
            "identity": {"methods": ["password"], "password": {"user": {
                "name": "admin", "domain": {"id": "default"}, "password": server.password()}}},
            "scope": {"project": {"name": "admin", "domain": {"id": "default"}}},
        }
    }  # fmt: skip
    resp = httpx.post(f"http://{HOST}:{server.port}/identity/v3/auth/tokens", json=body)
    return resp.headers["x-subject-token"], resp.json()["token"]["project"]["id"]


def service_project(base: str, token: str) -> str:
    resp = httpx.get(
        f"{base}/identity/v3/projects", params={"name": "service"}, headers={"X-Auth-Token": token}
    )
    return str(resp.json()["projects"][0]["id"])


def image_id(base: str, token: str, name: str) -> str:
    resp = httpx.get(
        f"{base}/image/v2/images", params={"name": name}, headers={"X-Auth-Token": token}
    )
    return str(resp.json()["images"][0]["id"])


def wait_tiny(base: str, token: str) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        resp = httpx.get(
            f"{base}/image/v2/images", params={"name": "tiny"}, headers={"X-Auth-Token": token}
        )
        images = resp.json().get("images", [])
        if images and images[0]["status"] == "active":
            return
        time.sleep(0.2)
    raise RuntimeError("the tiny image never became active")


if __name__ == "__main__":
    sys.exit(main())
