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
import contextlib
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
from stratus.volume.drivers.base import DriverError
from stratus.volume.drivers.iscsi_export import TgtExports
from stratus.volume.drivers.nbd_export import PROTOCOL
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


def io_args(
    tmp: Path, info: dict[str, Any], *commands: str, secret: str | None = None,
    **node_opts: Any,
) -> list[str]:  # fmt: skip
    """qemu-io's command line on the block node compute would give the
    guest (``node_opts`` changed in its iSCSI node)."""
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
    node["file"].update(node_opts)
    if node_opts.get("read-only") is False:
        node["read-only"] = False
    if node["read-only"]:
        args.append("-r")  # (qemu-io opens its device writable unless told)
    args.append("json:" + json.dumps(node))
    return args


def qemu_io(
    tmp: Path, info: dict[str, Any], *commands: str, secret: str | None = None, **node_opts: Any
) -> subprocess.CompletedProcess[str]:
    """Run qemu-io on the block node compute would give the guest."""
    args = io_args(tmp, info, *commands, secret=secret, **node_opts)
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


def attach(cinder: Cinder, volume_id: str, instance: str, mode: str) -> dict[str, Any]:
    """An attachment from the far host (``fake2``), completed: its
    connection_info once the agent has exported the volume."""
    connector = {"host": "fake2", "initiator": f"iqn.1993-08.org.debian:{instance}", "mode": mode}
    resp = cinder.post("/attachments", json={"attachment": {
        "volume_uuid": volume_id, "instance_uuid": instance, "connector": connector, "mode": mode,
    }})  # fmt: skip
    assert resp.status_code == 200, resp.text
    att_id = resp.json()["attachment"]["id"]
    done = cinder.post(f"/attachments/{att_id}/action", json={"os-complete": None})
    assert done.status_code == 204, done.text
    deadline = time.monotonic() + 30
    while True:
        info = cinder.get(f"/attachments/{att_id}").json()["attachment"]["connection_info"]
        if (info or {}).get("driver_volume_type") == "iscsi":
            return info  # type: ignore[no-any-return]
        assert time.monotonic() < deadline, info
        time.sleep(0.3)


def test_read_only_attachments_and_an_extend_while_attached(
    iscsi_hosts: tuple[Server, Agent, dict[str, str]], tmp_path: Path
) -> None:
    srv, _, _ = iscsi_hosts
    cinder = Cinder(srv, srv.admin_token(), admin_project(srv))
    vtype = cinder.post("/types", json={"volume_type": {
        "name": unique("multi"), "extra_specs": {"multiattach": "<is> True"}}})  # fmt: skip
    volume = cinder.create(size=1, volume_type=vtype.json()["volume_type"]["id"])
    rw = attach(cinder, volume["id"], "srv-a", "rw")
    ro = attach(cinder, volume["id"], "srv-b", "ro")
    cinder.wait(volume["id"], "in-use")
    iqn = f"iqn.2010-10.org.openstack:volume-{volume['id']}"
    assert rw["data"]["target_iqn"] == iqn and rw["data"]["access_mode"] == "rw"
    assert ro["data"]["target_iqn"] == iqn + "-ro" and ro["data"]["access_mode"] == "ro"

    # The read-write attachment writes; the read-only one reads what it wrote.
    out = wait_io(tmp_path / "rw", rw, "write -P 0x6b 0 64k", "read -P 0x6b 0 64k")
    assert "wrote 65536/65536" in out
    assert "read 65536/65536" in wait_io(tmp_path / "ro", ro, "read -P 0x6b 0 64k")
    # QEMU opens it read-only: its writes are refused ...
    refused = qemu_io(tmp_path / "ro1", ro, "write -P 0x01 0 4k")
    assert "Block node is read-only" in refused.stdout + refused.stderr
    # ... and the target refuses a read-write open of its LUN,
    forced = qemu_io(tmp_path / "ro2", ro, "write -P 0x01 0 4k", **{"read-only": False})
    assert forced.returncode != 0 and "write protected" in forced.stdout + forced.stderr
    # and the read-only account cannot log in to the writable target.
    other = qemu_io(tmp_path / "ro3", ro, "write -P 0x01 0 4k", target=iqn)
    assert other.returncode != 0 and "Authentication failure" in other.stdout + other.stderr
    path = volume_file(srv, volume["id"])
    with path.open("rb") as f:
        assert f.read(64 << 10) == b"\x6b" * (64 << 10)
    # The writable attachment stays writable beside the read-only one.
    assert "wrote 4096/4096" in wait_io(tmp_path / "rw", rw, "write -P 0x6c 4096 4k")

    # Extended while attached (3.42): both LUNs show the new size; a session
    # open across it (a running guest's) logs in again and goes on.
    live = subprocess.Popen(
        io_args(tmp_path / "live", rw), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        assert live.stdin is not None
        live.stdin.write("read -P 0x6c 4096 4k\n")
        live.stdin.flush()
        time.sleep(1)
        start = time.monotonic()
        resp = cinder.at("3.42").action(volume["id"], {"os-extend": {"new_size": 2}})
        assert resp.status_code == 202, resp.text
        shown = cinder.wait(volume["id"], "in-use")
        assert shown["size"] == 2
        for name, info in (("rw", rw), ("ro", ro)):
            assert "2 GiB" in wait_io(tmp_path / name, info, "length")
        took = time.monotonic() - start
        assert path.stat().st_size == 2 << 30
        live.stdin.write("read -P 0x6c 4096 4k\nwrite -P 0x6d 8192 4k\nquit\n")
        live.stdin.flush()
        said = live.communicate(timeout=60)[0]
    finally:
        if live.poll() is None:
            live.kill()
            live.wait()
    assert said.count("read 4096/4096") == 2 and "wrote 4096/4096" in said, said
    assert "fail" not in said.lower(), said
    first = said.split("read 4096/4096", 2)[2].splitlines()[1]  # the read after: its login again
    print(f"iSCSI extend while attached: {took * 1000:.0f} ms to both LUNs showing 2 GiB; "
          f"the open session's next read: {first}")  # fmt: skip
    # Past the old end, through the grown LUN.
    out = wait_io(tmp_path / "rw", rw, "write -P 0x7e 1536M 64k", "read -P 0x7e 1536M 64k")
    assert "read 65536/65536" in out
    assert "read 65536/65536" in wait_io(tmp_path / "ro", ro, "read -P 0x7e 1536M 64k")


def test_a_qcow2_file_a_guest_holds_is_served_over_iscsi_to_a_qemu_running_its_format(
    tmp_path: Path,
) -> None:
    """A live move's LUN (``layer`` protocol): tgt serves a qcow2 volume
    file's bytes while another process (the guest's QEMU on the volume's
    host) holds the image's lock, and the consumer's QEMU runs qcow2 over
    its iSCSI node (the ``format`` in the connection), reading what the
    image holds; once that process is gone, a lock holder takes the lock
    tgt does not (a ``qemu-img snapshot`` is refused) and the consumer
    writes into the file's room and grows the image; an export of the
    format stays refused.  No cloud: TgtExports and the block
    node compute builds."""
    volume = tmp_path / "volume.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(volume), "1G"], check=True)
    subprocess.run(["qemu-io", "-f", "qcow2", "-c", "write -P 0x5a 0 1M", str(volume)],
                   check=True, capture_output=True)  # fmt: skip
    size = volume.stat().st_size
    node = {"driver": "qcow2", "node-name": "g", "file": {"driver": "file", "filename": str(volume)}}
    holder = subprocess.Popen(
        ["qemu-storage-daemon", "--blockdev", json.dumps(node)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    targets = TgtExports(tmp_path / "targets", port=free_port())
    member = targets.new_member("att-1")

    def locked() -> bool:
        info = subprocess.run(["qemu-img", "info", str(volume)], capture_output=True, text=True)
        return info.returncode != 0 and "lock" in info.stderr

    try:
        deadline = time.monotonic() + 10
        while not locked():
            assert time.monotonic() < deadline and holder.poll() is None
            time.sleep(0.1)
        with pytest.raises(DriverError, match="raw volumes only"):
            asyncio.run(targets.serve("vol-1", volume, "qcow2", [member]))
        asyncio.run(targets.serve("vol-1", volume, "qcow2", [member], layer=PROTOCOL,
                                  room=256 << 20, locking=False))  # fmt: skip
        assert volume.stat().st_size == 256 << 20 > size  # the LUN's room for the image to grow
        conn = targets.exported("vol-1", member).connection()
        assert conn.data["format"] == "qcow2" and targets.layer("vol-1") == PROTOCOL
        info = {"driver_volume_type": "iscsi", "data": conn.data, "serial": "vol-1"}
        out = wait_io(tmp_path / "a", info, "read -P 0x5a 0 1M")
        assert "read 1048576/1048576" in out
        assert locked() and holder.poll() is None  # tgt served beside the lock
        holder.terminate()
        holder.wait(timeout=10)
        # The guest gone from the volume's host: tgt is the file's one
        # opener and locks nothing; served again with locking on, a holder
        # takes the image's lock (a qemu-img here is refused), and the
        # consumer's qcow2 writes past the file's former end and grows the
        # image (as compute's block_resize).
        assert not locked() and not targets.locking("vol-1")
        asyncio.run(targets.serve("vol-1", volume, "qcow2", [member], layer=PROTOCOL,
                                  room=256 << 20, locking=True))  # fmt: skip
        assert targets.locking("vol-1") and locked()
        snap = subprocess.run(["qemu-img", "snapshot", "-c", "s1", str(volume)],
                              capture_output=True, text=True)  # fmt: skip
        assert snap.returncode != 0 and "lock" in snap.stderr, snap.stderr
        out = wait_io(tmp_path / "b", info, "write -P 0x77 32M 8M", "truncate 2G",
                      "read -P 0x5a 0 1M", "read -P 0x77 32M 8M")  # fmt: skip
        assert "wrote 8388608/8388608" in out and out.count("read ") == 2, out
    finally:
        if holder.poll() is None:
            holder.kill()
        with contextlib.suppress(DriverError):
            asyncio.run(targets.stop("vol-1"))
        asyncio.run(targets.shutdown())
    assert not locked()  # the holder gone with the export
    check = subprocess.run(["qemu-img", "check", str(volume)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    shown = json.loads(subprocess.run(["qemu-img", "info", "--output=json", str(volume)],
                                      capture_output=True, text=True, check=True).stdout)  # fmt: skip
    assert shown["virtual-size"] == 2 << 30
    read = ["qemu-io", "-f", "qcow2", "-c", "read -P 0x5a 0 1M", "-c", "read -P 0x77 32M 8M",
            str(volume)]  # fmt: skip
    out = subprocess.run(read, capture_output=True, text=True)
    assert out.stdout.count("read ") == 2 and "fail" not in out.stdout + out.stderr, out.stdout
