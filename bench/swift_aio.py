"""OpenStack Swift 2.38 as an all-in-one on this machine, for side-by-side
figures: the proxy and the account, container and object servers with
Swift's defaults (``workers = auto``: one per core each), the proxy pipeline
of Swift's own all-in-one (SAIO) with tempauth and memcached, one replica on
one device in a temporary folder, everything on 127.0.0.1.

Swift is installed once from PyPI into its own virtual environment
(``~/.cache/stratus-bench/swift-2.38.3``); memcached comes from Debian and
runs as a process of this benchmark on a free port.  Swift finds its
``swift.conf`` and rings through ``swift_dir`` in each server's
configuration, so nothing is written outside the temporary folder.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import harness as ib  # noqa: E402  (what every benchmark shares)
import objectstore as ob  # noqa: E402

SWIFT_VERSION = "2.38.3"
VENV = Path.home() / ".cache" / "stratus-bench" / f"swift-{SWIFT_VERSION}"
HOST = ib.HOST
DEVICE = "sdb1"

PROXY_PIPELINE = (
    "catch_errors gatekeeper healthcheck proxy-logging cache listing_formats bulk tempurl "
    "ratelimit tempauth copy container-quotas account-quotas slo dlo versioned_writes "
    "symlink proxy-logging proxy-server"
)
FILTERS = {
    "catch_errors": "catch_errors",
    "gatekeeper": "gatekeeper",
    "healthcheck": "healthcheck",
    "proxy-logging": "proxy_logging",
    "cache": "memcache",
    "listing_formats": "listing_formats",
    "bulk": "bulk",
    "tempurl": "tempurl",
    "ratelimit": "ratelimit",
    "tempauth": "tempauth",
    "copy": "copy",
    "container-quotas": "container_quotas",
    "account-quotas": "account_quotas",
    "slo": "slo",
    "dlo": "dlo",
    "versioned_writes": "versioned_writes",
    "symlink": "symlink",
}


def ensure_installed() -> Path:
    """Swift's virtual environment (made and filled on first use); memcached."""
    if not (VENV / "bin" / "swift-proxy-server").exists():
        print(f"bench: installing OpenStack Swift {SWIFT_VERSION} into {VENV}", flush=True)
        VENV.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENV)], check=True)
        subprocess.run(
            [str(VENV / "bin" / "pip"), "install", "-q", "--disable-pip-version-check", f"swift=={SWIFT_VERSION}"],
            check=True,
        )
    if shutil.which("memcached") is None:
        print("bench: installing memcached from Debian", flush=True)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "install", "-y", "-qq", "memcached"], check=True, env=env)
    return VENV


class SwiftAIO(ob.Served):
    """A Swift all-in-one, loaded by ``objectstore.wrk`` as ``objectstore.Cloud`` is."""

    def __init__(self, root: Path):
        self.root = root
        self.conf = root / "etc"
        self.devices = root / "devices"
        self.ports = {kind: ib.free_port() for kind in ("proxy", "account", "container", "object")}
        self.memcached_port = ib.free_port()
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.http = httpx.Client(timeout=httpx.Timeout(60.0, read=600.0, write=600.0))
        self.token = ""
        self.account = ""

    # -- configuration --------------------------------------------------------------------

    def _write_configs(self) -> None:
        self.conf.mkdir(parents=True)
        (self.devices / DEVICE).mkdir(parents=True)
        (self.root / "cache").mkdir()
        (self.conf / "swift.conf").write_text(
            "[swift-hash]\nswift_hash_path_prefix = stratus-bench\nswift_hash_path_suffix = stratus-bench\n\n"
            "[storage-policy:0]\nname = Policy-0\ndefault = yes\n"
        )
        common = (
            f"[DEFAULT]\nbind_ip = {HOST}\nswift_dir = {self.conf}\nuser = {os.environ.get('USER', 'root')}\n"
            f"devices = {self.devices}\nmount_check = false\nlog_level = INFO\n"
        )
        for kind in ("account", "container", "object"):
            (self.conf / f"{kind}-server.conf").write_text(
                f"{common}bind_port = {self.ports[kind]}\n\n"
                f"[pipeline:main]\npipeline = healthcheck recon {kind}-server\n\n"
                f"[app:{kind}-server]\nuse = egg:swift#{kind}\n\n"
                "[filter:healthcheck]\nuse = egg:swift#healthcheck\n\n"
                f"[filter:recon]\nuse = egg:swift#recon\nrecon_cache_path = {self.root / 'cache'}\n"
            )
        filters = "".join(f"[filter:{name}]\nuse = egg:swift#{egg}\n\n" for name, egg in FILTERS.items())
        filters = filters.replace(
            "[filter:cache]\nuse = egg:swift#memcache\n",
            f"[filter:cache]\nuse = egg:swift#memcache\nmemcache_servers = {HOST}:{self.memcached_port}\n",
        ).replace(
            "[filter:tempauth]\nuse = egg:swift#tempauth\n",
            "[filter:tempauth]\nuse = egg:swift#tempauth\nuser_test_tester = testing .admin\n",
        )
        (self.conf / "proxy-server.conf").write_text(
            f"{common}bind_port = {self.ports['proxy']}\n\n"
            f"[pipeline:main]\npipeline = {PROXY_PIPELINE}\n\n"
            "[app:proxy-server]\nuse = egg:swift#proxy\naccount_autocreate = true\n\n" + filters
        )

    def _build_rings(self) -> None:
        builder = str(VENV / "bin" / "swift-ring-builder")
        for kind in ("account", "container", "object"):
            path = str(self.conf / f"{kind}.builder")
            subprocess.run([builder, path, "create", "10", "1", "1"], check=True, capture_output=True)
            device = f"r1z1-{HOST}:{self.ports[kind]}/{DEVICE}"
            subprocess.run([builder, path, "add", device, "100"], check=True, capture_output=True)
            # rebalance answers 1 when it warns (one device), with the ring written
            done = subprocess.run([builder, path, "rebalance"], capture_output=True, text=True)
            if not (self.conf / f"{kind}.ring.gz").exists():
                raise RuntimeError(f"swift-ring-builder {kind} failed:\n{done.stdout}{done.stderr}")

    # -- life ------------------------------------------------------------------------------

    def _spawn(self, name: str, argv: list[str]) -> None:
        log = self.root / f"{name}.log"
        with open(log, "ab") as out:
            self.procs[name] = subprocess.Popen(
                argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=self.root
            )

    def start(self) -> None:
        ensure_installed()
        self._write_configs()
        self._build_rings()
        self._spawn("memcached", ["memcached", "-l", HOST, "-p", str(self.memcached_port), "-U", "0", "-m", "64", "-u", "root"])
        for kind in ("account", "container", "object", "proxy"):
            self._spawn(kind, [str(VENV / "bin" / f"swift-{kind}-server"), str(self.conf / f"{kind}-server.conf")])
        for kind in ("account", "container", "object", "proxy"):
            ob.wait_port(self.ports[kind], self.procs[kind], self.root / f"{kind}.log", timeout=60)
        deadline = time.monotonic() + 60
        while True:
            try:
                resp = self.http.get(
                    f"http://{HOST}:{self.ports['proxy']}/auth/v1.0",
                    headers={"X-Auth-User": "test:tester", "X-Auth-Key": "testing"},
                )
                if resp.status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"Swift's proxy gives no token:\n{self.log_tail()}")
            time.sleep(0.2)
        self.token = resp.headers["x-auth-token"]
        self.account = resp.headers["x-storage-url"]

    @property
    def pids(self) -> list[int]:
        """Every Swift server process and its workers (memcached too: Swift's cache)."""
        out: list[int] = []
        for proc in self.procs.values():
            if proc.poll() is None:
                out += ob.tree(proc.pid)
        return out

    def stop(self) -> None:
        self.http.close()
        for name in ("proxy", "object", "container", "account", "memcached"):
            ob.stop_proc(self.procs.get(name))

    def log_tail(self) -> str:
        return "\n".join(f"-- {name}:\n{ob.tail(self.root / f'{name}.log', 10)}" for name in self.procs)
