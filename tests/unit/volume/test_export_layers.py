"""Which layer a volume's NBD export serves (``agent/exports.py``): the
image's format for consumers that only reach it over NBD; the file's bytes
(a protocol export, without the file's lock while a QEMU of the volume's
host has it) when a server moves live from a host that opens the file to
one that does not; and never a change of layer under a consumer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from stratus.volume import models as m
from stratus.volume.agent.exports import ExportWork
from stratus.volume.agent.volumes import VolumeWork
from stratus.volume.drivers.base import DriverError, VolumeRef
from stratus.volume.drivers.iscsi_export import TgtExports
from stratus.volume.drivers.nbd_export import FORMAT, PROTOCOL, NbdExports


def work(tmp_path: Path) -> ExportWork:
    return ExportWork(None, None, NbdExports(tmp_path), frozenset({"vh"}))  # type: ignore[arg-type]


def att(host: str, server: str, info: dict[str, Any] | None, **connector: Any) -> m.Attachment:
    return m.Attachment(
        id=f"{host}-{server}", volume_id="v1", instance_uuid=server, connector={"host": host, **connector},
        connection_info=info, attach_status="attached", attach_mode="rw",
    )  # fmt: skip


FILE = {"driver_volume_type": "file", "data": {"path": "/v"}}


def nbd(**data: Any) -> dict[str, Any]:
    return {"driver_volume_type": "nbd", "data": {"psk_key": "k", "port": 1, **data}}


def test_a_remote_consumer_alone_gets_the_format(tmp_path: Path) -> None:
    assert work(tmp_path)._plan([att("far", "s1", None)]) == (FORMAT, True)


def test_a_live_move_from_the_files_host_gets_the_protocol_without_lock(tmp_path: Path) -> None:
    w = work(tmp_path)
    assert w._plan([att("vh", "s1", FILE), att("far", "s1", None)]) == (PROTOCOL, False)
    # The source's attachment gone: the daemon locks the file again.
    assert w._plan([att("far", "s1", nbd(format="qcow2"))]) == (PROTOCOL, True)
    # Back to the volume's host, over NBD too: the same protocol export.
    both = [att("far", "s1", nbd(format="qcow2")), att("vh", "s1", None, network_export=True)]
    assert w._plan(both) == (PROTOCOL, True)


def test_two_servers_never_share_a_protocol_export(tmp_path: Path) -> None:
    assert work(tmp_path)._plan([att("vh", "s1", FILE), att("far", "s2", None)]) == (FORMAT, True)


def test_a_format_export_keeps_its_layer(tmp_path: Path) -> None:
    w = work(tmp_path)
    assert w._plan([att("far", "s1", nbd()), att("vh", "s1", FILE)])[0] == FORMAT
    assert w.remote({"host": "vh", "network_export": True}) and not w.remote({"host": "vh"})


def iscsi(**data: Any) -> dict[str, Any]:
    return {"driver_volume_type": "iscsi", "data": {"auth_password": "k", **data}}


def test_over_iscsi_a_live_move_gets_the_files_bytes_and_keeps_them(tmp_path: Path) -> None:
    w = ExportWork(None, None, TgtExports(tmp_path), frozenset({"vh"}))  # type: ignore[arg-type]
    assert w._plan([att("vh", "s1", FILE), att("far", "s1", None)])[0] == PROTOCOL
    assert w._plan([att("far", "s1", iscsi(format="qcow2"))])[0] == PROTOCOL
    back = [att("far", "s1", iscsi(format="qcow2")), att("vh", "s1", None, network_export=True)]
    assert w._plan(back)[0] == PROTOCOL
    assert w._plan([att("far", "s1", iscsi())])[0] == FORMAT  # a raw LUN
    assert w._plan([att("vh", "s1", FILE), att("far", "s2", None)])[0] == FORMAT
    # A LUN of a qcow2 file's bytes: its consumer's QEMU grows the image.
    (tmp_path / "vols" / "v1").mkdir(parents=True)
    meta = tmp_path / "vols" / "v1" / "export.json"
    meta.write_text('{"path": "/v", "layer": "format", "format": "raw"}')
    volume = m.Volume(id="v1", size=1)
    assert not w.consumer_grows(volume)  # type: ignore[arg-type]
    meta.write_text('{"path": "/v", "layer": "protocol", "format": "qcow2"}')
    assert w.consumer_grows(volume)  # type: ignore[arg-type]
    # No holder has its lock: served again once no QEMU here has the file.
    assert w._relock("v1", held=False) and not w._relock("v1", held=True)


class _Driver:
    def __init__(self) -> None:
        self.grown: list[int] = []

    async def extend(self, volume: Any, size: int) -> None:
        self.grown.append(size)


class _Recorder:
    def __init__(self) -> None:
        self.updates: list[dict[str, Any]] = []

    async def update(self, volume: Any, **values: Any) -> None:
        self.updates.append(values)


async def test_an_in_use_volume_whose_consumer_runs_the_format_is_grown_by_that_qemu(
    tmp_path: Path,
) -> None:
    driver, rec, told = _Driver(), _Recorder(), []

    async def extended(volume: Any, size: int) -> None:
        told.append(size)

    work_ = VolumeWork(driver, rec, None, None, extended)  # type: ignore[arg-type]
    exports = work(tmp_path)
    work_.consumer_grows = exports.consumer_grows
    volume = m.Volume(
        id="v1", size=1, previous_status=m.IN_USE, task=m.T_EXTEND, task_args={"new_size": 2}
    )
    await work_.extend(volume)  # no export: the file is grown here
    assert driver.grown == [2]
    # A protocol export of the file's bytes (the move's): the file is left
    # alone, even while no process holds its lock; the guest's QEMU grows it.
    (tmp_path / "v1").mkdir()
    (tmp_path / "v1" / "export.json").write_text('{"layer": "protocol", "locking": false}')
    assert exports.consumer_grows(volume)  # type: ignore[arg-type]
    await work_.extend(volume)
    assert driver.grown == [2]
    assert rec.updates[-1]["status"] == m.IN_USE and rec.updates[-1]["size"] == 2
    assert told == [2, 2]


def test_another_servers_local_qemu_never_gets_the_lock_let_go(tmp_path: Path) -> None:
    # s1 reaches the file's bytes over NBD; s2 (multiattach) opens the file
    # on the volume's host: the daemon keeps the lock, so s2's QEMU is refused.
    w = work(tmp_path)
    assert w._plan([att("far", "s1", nbd(format="qcow2")), att("vh", "s2", FILE)]) == (
        PROTOCOL, True,
    )  # fmt: skip
    assert w._plan([att("far", "s1", nbd(format="qcow2")), att("vh", "s1", FILE)]) == (
        PROTOCOL, False,
    )  # fmt: skip


async def test_a_target_not_made_again_after_a_grow_is_left_to_the_next_pass(
    tmp_path: Path,
) -> None:
    class Failing:
        async def served(self) -> list[str]:
            return ["v1"]

        async def resized(self, volume_id: str) -> None:
            raise DriverError("tgtadm: can't make the target")

    w = ExportWork(None, None, Failing(), frozenset({"vh"}))  # type: ignore[arg-type]
    w._checked.add("v1")
    await w.resized(VolumeRef("v1", 2))  # the extend goes on: its size stands
    assert "v1" not in w._checked  # so the next pass serves it again
