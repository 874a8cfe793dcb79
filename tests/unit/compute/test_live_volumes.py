"""A live migration's volumes on the destination (``live_sides``): QEMU
cannot hand over a volume reached as a file on one host and over an NBD
export of its format on the other (the file's lock), so that move is
refused with a clear reason; the same kind on both sides, a file handed to
a protocol export (the file's bytes, the format run by the guest's QEMU),
or the fake driver (no locks), goes on.  A destination asked to keep NBD
asks Cinder for an export for a volume its source reaches over one."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest

from stratus.compute import models as m
from stratus.compute.agent.live_sides import Destination
from stratus.compute.agent.volume_moves import VolumeMoves
from stratus.compute.drivers.fake import FakeDriver


class Rows:
    def __init__(self, rows: list[m.VolumeAttachment]) -> None:
        self.rows = rows

    async def of_server(self, server_id: str) -> list[m.VolumeAttachment]:
        return self.rows

    async def save(self, row_id: str, **values: Any) -> None:
        raise AssertionError("nothing is written")


class Flow:
    def __init__(self, rows: list[m.VolumeAttachment]) -> None:
        self.parts = SimpleNamespace(host="b")
        self.client = object()
        self._records = Rows(rows)

    @property
    def records(self) -> Rows:
        return self._records

    def connector(self, row: m.VolumeAttachment) -> dict[str, Any]:
        return {}


def moved(
    source: str, here: str, data: dict[str, Any] | None = None, before: dict[str, Any] | None = None
) -> m.VolumeAttachment:
    return m.VolumeAttachment(
        id="r1", server_id="s1", volume_id="v1", device="/dev/vdb", status=m.VOL_ATTACHED,
        attachment_id="a1",
        connection_info={
            "driver_volume_type": here,
            "data": data or {},
            "moved_from": {"attachment_id": "a0", "connection_info": {
                "driver_volume_type": source, "data": before or {},
            }},
        },
    )  # fmt: skip


def destination(row: m.VolumeAttachment) -> Destination:
    parts = SimpleNamespace(host="b", recorder=SimpleNamespace(live=None), guests=None)
    side = Destination(parts)  # type: ignore[arg-type]
    side.volumes = VolumeMoves(Flow([row]))  # type: ignore[arg-type]
    return side


QEMU_LIKE = object()  # a driver that does not declare MIXED_VOLUME_HANDOFF


@pytest.mark.parametrize("source, here", [("file", "nbd"), ("nbd", "file")])
def test_a_file_on_one_side_and_an_export_on_the_other_is_refused(source: str, here: str) -> None:
    side = destination(moved(source, here))
    server = m.Server(id="s1")
    with pytest.raises(RuntimeError, match="volume v1 .* cannot be handed over live"):
        asyncio.run(side._check_handoff(server, QEMU_LIKE))  # type: ignore[arg-type]
    asyncio.run(side._check_handoff(server, FakeDriver("b")))  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", ["file", "nbd", "iscsi"])
def test_the_same_kind_on_both_sides_moves(kind: str) -> None:
    side = destination(moved(kind, kind))
    asyncio.run(side._check_handoff(m.Server(id="s1"), QEMU_LIKE))  # type: ignore[arg-type]


def test_a_file_handed_to_a_protocol_export_moves() -> None:
    side = destination(moved("file", "nbd", {"host": "127.0.0.1", "format": "qcow2"}))
    asyncio.run(side._check_handoff(m.Server(id="s1"), QEMU_LIKE))  # type: ignore[arg-type]
    # Not the reverse: an export's daemon holds the file the arriving QEMU would open.
    side = destination(moved("nbd", "file", {"path": "/v", "format": "qcow2"}))
    with pytest.raises(RuntimeError, match="cannot be handed over live"):
        asyncio.run(side._check_handoff(m.Server(id="s1"), QEMU_LIKE))  # type: ignore[arg-type]


QCOW2 = {"path": "/v", "format": "qcow2"}


@pytest.mark.parametrize("here, before, moves", [
    ({"target_iqn": "q", "format": "qcow2"}, QCOW2, True),  # the qcow2 file's bytes, run as qcow2
    ({"target_iqn": "q"}, {"path": "/v", "format": "raw"}, True),  # a raw file's bytes: its disk
    ({"target_iqn": "q"}, QCOW2, False),  # a qcow2 file's bytes taken for the disk: never
])  # fmt: skip
def test_a_file_handed_to_an_iscsi_lun_of_its_bytes_moves(
    here: dict[str, Any], before: dict[str, Any], moves: bool
) -> None:
    side = destination(moved("file", "iscsi", here, before))
    server = m.Server(id="s1")
    if moves:
        asyncio.run(side._check_handoff(server, QEMU_LIKE))  # type: ignore[arg-type]
        return
    with pytest.raises(RuntimeError, match="network export on the other"):
        asyncio.run(side._check_handoff(server, QEMU_LIKE))  # type: ignore[arg-type]
    side = destination(moved("iscsi", "file", QCOW2, {"target_iqn": "q", "format": "qcow2"}))
    with pytest.raises(RuntimeError, match="cannot be handed over live"):
        asyncio.run(side._check_handoff(server, QEMU_LIKE))  # type: ignore[arg-type]


class Client:
    def __init__(self) -> None:
        self.connectors: list[dict[str, Any]] = []

    async def attachments_of(self, volume_id: str, server_id: str) -> list[str]:
        return ["a0"]

    async def reserve(self, ctx: object, volume_id: str, server_id: str) -> str:
        return "a1"

    async def connect(self, attachment_id: str, connector: dict[str, Any]) -> dict[str, Any]:
        self.connectors.append(connector)
        return {"driver_volume_type": "nbd", "data": {}}

    async def complete(self, attachment_id: str) -> None:
        return None


class Saving(Rows):
    async def save(self, row_id: str, **values: Any) -> None:
        return None


@pytest.mark.parametrize("source, keep, flagged", [
    ("nbd", True, True), ("nbd", False, False), ("file", True, False), ("iscsi", True, True),
])  # fmt: skip
def test_a_destination_keeps_nbd_for_a_volume_its_source_reaches_over_nbd(
    source: str, keep: bool, flagged: bool
) -> None:
    row = m.VolumeAttachment(
        id="r1", server_id="s1", volume_id="v1", device="/dev/vdb", status=m.VOL_ATTACHED,
        attachment_id="a0", connection_info={"driver_volume_type": source, "data": {}},
    )  # fmt: skip
    flow = Flow([row])
    flow._records = Saving([row])
    client = Client()
    flow.client = client
    asyncio.run(VolumeMoves(flow).connect_here(m.Server(id="s1"), keep_nbd=keep))  # type: ignore[arg-type]
    (connector,) = client.connectors
    assert connector.get("network_export", False) is flagged
