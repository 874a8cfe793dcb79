"""The database agent's volume driver, without Cinder: which loop devices
belong to a volume (its FUSE export's for qcow2, its own file's for raw),
so letting go of a volume never leaves one behind nor takes another's."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from stratus.database.drivers import cinder as driver


async def test_the_loops_of_a_volume(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    listing = "\n".join([
        f"/dev/loop0 {tmp_path}/exports/v1.raw",
        "/dev/loop1 /srv/cloud/volumes/host/volumes/volume-v2.raw",
        "/dev/loop2 /srv/cloud/volumes/host/volumes/volume-v2.raw (deleted)",
        "/dev/loop3 /srv/cloud/volumes/host/volumes/volume-v22.raw",
        f"/dev/loop4 {tmp_path}/exports/v3.raw",
        "/dev/loop5 /srv/other/volume-v1.qcow2",
    ])  # fmt: skip

    async def fake_run(argv: list[str], **_: Any) -> str:
        assert argv[0] == "losetup"
        return listing

    monkeypatch.setattr(driver, "run", fake_run)
    cinder = object.__new__(driver.CinderVolumes)
    cinder.exports = tmp_path / "exports"
    assert await cinder._loops("v1") == ["/dev/loop0"]
    assert await cinder._loops("v2") == ["/dev/loop1", "/dev/loop2"]
    assert await cinder._loops("v4") == []


async def test_raw_type_gives_up_when_a_409_type_is_never_listed() -> None:
    calls: list[str] = []

    def cinder(request: httpx.Request) -> httpx.Response:
        calls.append(request.method)
        if request.method == "GET":
            return httpx.Response(200, json={"volume_types": [{"id": "t1", "name": "other"}]})
        return httpx.Response(409, json={"conflictingRequest": {"message": "exists"}})

    volumes = object.__new__(driver.CinderVolumes)
    volumes.client = httpx.AsyncClient(transport=httpx.MockTransport(cinder))
    assert await volumes._raw_type("http://c/v3/p") is None
    assert calls == ["GET", "POST", "GET"]
    await volumes.client.aclose()


async def test_letting_go_signals_only_the_export_daemon_its_pid_file_names(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A stale pid file (a reboot, the number now another process's): the
    files go, the process is never signalled."""

    async def no_loops(argv: list[str], **_: Any) -> str:
        return ""

    monkeypatch.setattr(driver, "run", no_loops)
    cinder = object.__new__(driver.CinderVolumes)
    cinder.exports = tmp_path / "exports"
    cinder.exports.mkdir()
    bystander = subprocess.Popen(["sleep", "60"])
    try:
        (cinder.exports / "v1.pid").write_text(f"{bystander.pid}\n")
        (cinder.exports / "v1.raw").touch()
        await cinder._detach("v1")
        assert bystander.poll() is None
        assert list(cinder.exports.iterdir()) == []
    finally:
        bystander.kill()
        bystander.wait()
