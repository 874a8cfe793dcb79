"""The iSCSI export (``[volume] target_protocol = "iscsi"``): a compute
agent of its own process (``fake2``) cannot open the volume host's files,
so its attachment gets a tgt target with CHAP credentials of its own, in
Cinder's ``iscsi`` connection properties.  QEMU's own iSCSI client (the
block node compute builds from those properties, with the secret in a
``secret`` object) writes and reads the volume through it; a wrong secret
is refused; a tgtd that died (a reboot) and a SIGKILLed volume agent end
with the target made again for the live attachment (and a stray target
removed); a detach removes it.
Compute's fake driver, the file backend (raw files); SQLite and
PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from stratus.common.pidfiles import daemon_pid
from stratus.compute import models as cm
from stratus.compute.agent.volumes import disk_of, write_psk
from stratus.compute.drivers import qemu_volumes
from stratus.volume.drivers.iscsi_export import TgtExports
from tests.compute_agents import Agent, start_agent
from tests.conftest import Server, free_port, start_server, stop_cloud
from tests.functional.compute.conftest import FAKE, Nova, fake_cloud, osc, unique
from tests.functional.compute.test_volume_attachments import VOLUME_ENV, wait_console
from tests.functional.volume.conftest import Cinder, admin_project, end_exports, volume_file

HOST = "OS-EXT-SRV-ATTR:host"


def iscsi_env() -> dict[str, str]:
    return {
        **VOLUME_ENV,
        "STRATUS_VOLUME__TARGET_PROTOCOL": "iscsi",
        "STRATUS_VOLUME__TARGET_PORT": str(free_port()),
        "STRATUS_VOLUME__FILE_FORMAT": "raw",
        "STRATUS_VOLUME__SYNC_INTERVAL": "1",
    }


@pytest.fixture(scope="module")
def iscsi_hosts(
    tmp_path_factory: pytest.TempPathFactory, database: str
) -> Iterator[tuple[Server, Agent, dict[str, str]]]:
    env = iscsi_env()
    srv = fake_cloud(tmp_path_factory, "voliscsi", database=database, **env)
    agent = start_agent(srv, "fake2", **FAKE)
    yield srv, agent, env
    assert agent.stop() == 0, agent.log.read_text()[-3000:]
    stop_cloud(srv)
    end_exports(srv.data_dir)


def connection(cinder: Cinder, volume_id: str) -> dict[str, Any]:
    (att,) = cinder.show(volume_id)["attachments"]
    shown = cinder.get(f"/attachments/{att['attachment_id']}")
    assert shown.status_code == 200, shown.text
    return shown.json()["attachment"]["connection_info"]  # type: ignore[no-any-return]


def qemu_io(tmp: Path, info: dict[str, Any], *commands: str, secret: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run qemu-io on the block node compute would give the guest."""
    row = cm.VolumeAttachment(id="r", server_id="s", volume_id=str(info["serial"]), device="/dev/vdb",
                              connection_info=info)  # fmt: skip
    disk = disk_of(row)
    assert disk is not None and disk.kind == "iscsi"
    disk = write_psk(disk, row, tmp)
    if secret is not None:
        Path(disk.psk_file).write_text(secret)
    obj = qemu_volumes.tls_object(disk)
    args = ["qemu-io", "--object", f"secret,id={obj['id']},file={obj['file']}"]
    for command in commands:
        args += ["-c", command]
    node = qemu_volumes.blockdev(disk)
    node.pop("node-name")
    args.append("json:" + json.dumps(node))
    return subprocess.run(args, capture_output=True, text=True, timeout=60)


def wait_io(tmp: Path, info: dict[str, Any], *commands: str, timeout: float = 20) -> str:
    deadline = time.monotonic() + timeout
    while True:
        proc = qemu_io(tmp, info, *commands)
        if proc.returncode == 0 and "fail" not in proc.stdout.lower() + proc.stderr.lower():
            return proc.stdout
        assert time.monotonic() < deadline, proc.stdout + proc.stderr
        time.sleep(0.5)


def tgtd_pid(srv: Server) -> int | None:
    return daemon_pid(srv.data_dir / "volumes" / "volhost" / "targets" / "tgtd.pid")


def test_an_iscsi_export_is_read_and_written_by_qemu(
    iscsi_hosts: tuple[Server, Agent, dict[str, str]], tmp_path: Path
) -> None:
    srv, agent, env = iscsi_hosts
    nova = Nova(srv, srv.admin_token(), "2.96")
    cinder = Cinder(srv, srv.admin_token(), admin_project(srv))
    vm = nova.boot(unique("far"), availability_zone="nova:fake2")
    assert vm[HOST] == "fake2"
    volume = cinder.create(size=1)
    osc(srv, "server", "add", "volume", vm["id"], volume["id"])
    cinder.wait(volume["id"], "in-use")
    wait_console(nova, vm["id"], "disk added vdb")

    info = connection(cinder, volume["id"])
    data = info["data"]
    assert info["driver_volume_type"] == "iscsi"
    assert data["target_iqn"] == f"iqn.2010-10.org.openstack:volume-{volume['id']}"
    assert data["target_portal"] == f"127.0.0.1:{env['STRATUS_VOLUME__TARGET_PORT']}"
    assert data["target_lun"] == 1 and data["auth_method"] == "CHAP"
    assert data["auth_username"] and len(data["auth_password"]) >= 12

    # QEMU's iSCSI client writes through the target; the bytes are in the file.
    out = wait_io(tmp_path / "a", info, "write -P 0x5a 0 1M", "read -P 0x5a 0 1M")
    assert "wrote 1048576/1048576" in out and "read 1048576/1048576" in out
    path = volume_file(srv, volume["id"])
    assert path.suffix == ".raw"
    with path.open("rb") as f:
        assert f.read(1 << 20) == b"\x5a" * (1 << 20)
    # A wrong secret is refused.
    bad = qemu_io(tmp_path / "b", info, "read 0 512", secret="not-the-secret")
    assert bad.returncode != 0 and "Authentication failure" in bad.stdout + bad.stderr

    # tgtd dies (a reboot): the agent's pass makes the target again, same credentials.
    pid = tgtd_pid(srv)
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    wait_io(tmp_path / "c", info, "read -P 0x5a 0 64k")
    assert tgtd_pid(srv) not in (None, pid)

    # A SIGKILLed cloud (its volume agent in-process): tgtd goes on serving,
    # and the restarted agent keeps the live attachment's target.
    srv.stop(signal.SIGKILL)
    wait_io(tmp_path / "d", info, "read -P 0x5a 0 64k")
    # A target no attachment wants (a detach the killed agent never finished).
    stray = tmp_path / "stray.raw"
    stray.write_bytes(bytes(1 << 20))
    targets = TgtExports(
        srv.data_dir / "volumes" / "volhost" / "targets",
        port=int(env["STRATUS_VOLUME__TARGET_PORT"]),
    )  # fmt: skip
    asyncio.run(targets.serve("stray", stray, "raw", [targets.new_member("x")]))
    assert "stray" in asyncio.run(targets.served())
    port = int(srv.url.rsplit(":", 1)[1])
    again = start_server(srv.data_dir, srv.database_url, port=port, **{**FAKE, **env})
    srv.process, srv.log = again.process, again.log
    wait_io(tmp_path / "e", info, "write -P 0x33 4096 4096", "read -P 0x33 4096 4096")
    deadline = time.monotonic() + 20
    while "stray" in asyncio.run(targets.served()) or "stray" in targets.folders():
        assert time.monotonic() < deadline, "the stray target was kept"
        time.sleep(0.5)
    assert asyncio.run(targets.served()) == [volume["id"]]

    osc(srv, "server", "remove", "volume", vm["id"], volume["id"])
    cinder.wait(volume["id"], "available")
    # The target is gone with the attachment: the same credentials log in no more.
    deadline = time.monotonic() + 20
    vols = srv.data_dir / "volumes" / "volhost" / "targets" / "vols"
    while qemu_io(tmp_path / "f", info, "read 0 512").returncode == 0 or list(vols.iterdir()):
        assert time.monotonic() < deadline, "the target outlived its attachment"
        time.sleep(0.5)
    assert "block storage" not in agent.log.read_text()
