"""`stratus up --detach`, `stratus status` and `stratus stop`: a cloud in the
background, what runs and how healthy it is, and its end."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import httpx

from tests.conftest import BIN, drop_database, free_port, new_database


def stratus(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "stratus"), *args], env=env, capture_output=True, text=True, timeout=timeout)


def test_detach_status_stop(tmp_path: Path, database: str) -> None:
    data = tmp_path / "cloud"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("STRATUS_")}
    env.update(STRATUS_COMPUTE__DRIVER="fake", STRATUS_COMPUTE__HOST=f"status-{port}", STRATUS_SERVER__WORKERS="2")
    url = new_database(database)
    if url:
        env["STRATUS_DATABASE__URL"] = url
    up = stratus("up", "--detach", "--data-dir", str(data), "--port", str(port), env=env)
    assert up.returncode == 0, up.stdout + up.stderr
    try:
        # The command returned: the cloud answers already, in the background.
        assert httpx.get(f"http://127.0.0.1:{port}/identity/v3").status_code == 200
        pid = int((data / "stratus.pid").read_text().split()[0])

        again = stratus("up", "--data-dir", str(data), "--port", str(free_port()), env=env)
        assert again.returncode != 0
        assert f"already runs from this data folder (pid {pid})" in again.stderr

        shown = stratus("status", "--json", "--data-dir", str(data), env=env)
        assert shown.returncode == 0, shown.stdout + shown.stderr
        st = json.loads(shown.stdout)
        assert st["running"] and st["healthy"], st
        assert st["url"] == f"http://127.0.0.1:{port}"
        roles = sorted(p["role"] for p in st["processes"])
        assert roles == ["api-worker", "primary"], st
        assert [p["pid"] for p in st["processes"] if p["role"] == "primary"] == [pid]
        assert [(a["service"], a["host"], a["alive"]) for a in st["agents"]] == [("compute", f"status-{port}", True)]

        text = stratus("status", "--data-dir", str(data), env=env).stdout
        assert f"running at http://127.0.0.1:{port}" in text and f"pid {pid}" in text
    finally:
        stopped = stratus("stop", "--data-dir", str(data), env=env)
        drop_database(url)
    assert stopped.returncode == 0, stopped.stderr
    assert f"stopped the cloud (pid {pid})" in stopped.stdout
    assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split(")")[1][:3]
    assert not (data / "stratus.pid").exists()
    assert "stratus stopped" in (data / "stratus.log").read_text()

    down = stratus("status", "--data-dir", str(data), env=env)
    assert down.returncode == 1 and "not running" in down.stdout
    assert stratus("stop", "--data-dir", str(data), env=env).returncode != 0
