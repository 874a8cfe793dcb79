"""The agent's volume swap (agent/volume_swaps.py) over fake parts: once the
guest writes to the new volume, a failing completion is retried, never
rolled back; the old row goes and the new one is kept in one step."""

from __future__ import annotations

from typing import Any, cast

from stratus.compute import models as m
from stratus.compute.agent.volume_swaps import swap
from stratus.compute.drivers.base import VolumeAttacher, VolumeDisk
from stratus.compute.service.volume_client import VolumeClient


class FakeRecords:
    def __init__(self, rows: list[m.VolumeAttachment]) -> None:
        self.rows = {r.id: r for r in rows}
        self.events: list[tuple[str, str | None]] = []
        self.states: list[dict[str, str]] = []  # each row's status after each transaction

    def _committed(self) -> None:
        self.states.append({r.id: r.status for r in self.rows.values()})

    async def of_server(self, server_id: str) -> list[m.VolumeAttachment]:
        return list(self.rows.values())

    async def save(self, row_id: str, **values: Any) -> None:
        for key, value in values.items():
            setattr(self.rows[row_id], key, value)
        self._committed()

    async def drop(self, row_id: str) -> None:
        self.rows.pop(row_id, None)
        self._committed()

    async def replace(self, old_id: str | None, row_id: str, **values: Any) -> None:
        if old_id is not None:
            self.rows.pop(old_id, None)
        for key, value in values.items():
            setattr(self.rows[row_id], key, value)
        self._committed()

    async def event(self, server_id: str, event: str, result: str, details: str | None) -> None:
        self.events.append((result, details))


class FakeAttacher:
    def __init__(self) -> None:
        self.swaps = 0

    async def swap_volume(self, server_id: str, old: VolumeDisk, new: VolumeDisk) -> None:
        self.swaps += 1


class FakeFlow:
    def __init__(self, records: FakeRecords) -> None:
        self.records = records
        self.attacher = cast(VolumeAttacher, FakeAttacher())

    def disk(self, row: m.VolumeAttachment) -> VolumeDisk | None:
        if row.connection_info is None:
            return None
        return VolumeDisk(serial=row.volume_id, device=row.device, kind="file", path="/x")

    async def running(self, server: m.Server) -> bool:
        return True

    def connector(self, row: m.VolumeAttachment) -> dict[str, Any]:
        return {"host": "h"}


class FakeCinder:
    def __init__(self, complete_fails: int = 0) -> None:
        self.complete_fails = complete_fails
        self.calls: list[tuple[str, str]] = []

    async def connect(self, attachment_id: str, connector: dict[str, Any]) -> dict[str, Any]:
        self.calls.append(("connect", attachment_id))
        return {"driver_volume_type": "file", "data": {"path": "/x"}}

    async def complete(self, attachment_id: str) -> None:
        self.calls.append(("complete", attachment_id))
        if self.complete_fails:
            self.complete_fails -= 1
            raise RuntimeError("block storage unreachable")

    async def release(self, attachment_id: str) -> None:
        self.calls.append(("release", attachment_id))

    async def roll_detaching(self, volume_id: str) -> None:
        self.calls.append(("roll_detaching", volume_id))


def _rows() -> tuple[m.Server, m.VolumeAttachment, m.VolumeAttachment]:
    server = m.Server(id="s1")
    old = m.VolumeAttachment(
        id="r-old", server_id="s1", volume_id="v-old", device="/dev/vdb",
        status=m.VOL_ATTACHED, attachment_id="a-old", connection_info={"data": {}},
    )  # fmt: skip
    new = m.VolumeAttachment(
        id="r-new", server_id="s1", volume_id="v-new", device="/dev/vdb",
        status=m.VOL_SWAPPING, source_id="v-old", attachment_id="a-new",
    )  # fmt: skip
    return server, old, new


async def test_failed_completion_after_the_switch_is_retried_not_rolled_back() -> None:
    server, old, new = _rows()
    records = FakeRecords([old, new])
    flow, cinder = FakeFlow(records), FakeCinder(complete_fails=1)
    await swap(flow, server, new, cast(VolumeClient, cinder))  # type: ignore[arg-type]
    assert ("release", "a-new") not in cinder.calls
    assert ("roll_detaching", "v-old") not in cinder.calls
    assert set(records.rows) == {"r-old", "r-new"} and new.status == m.VOL_SWAPPING
    assert records.events == []
    await swap(flow, server, new, cast(VolumeClient, cinder))  # type: ignore[arg-type]
    assert cast(FakeAttacher, flow.attacher).swaps == 1  # the guest is not switched twice
    assert set(records.rows) == {"r-new"} and new.status == m.VOL_ATTACHED
    assert new.source_id is None and "stratus_switched" not in (new.connection_info or {})
    assert ("release", "a-old") in cinder.calls and ("release", "a-new") not in cinder.calls
    assert records.events == [("Success", None)]


async def test_old_row_gone_with_an_attachment_finishes_the_swap() -> None:
    server, _old, new = _rows()
    records = FakeRecords([new])
    cinder = FakeCinder()
    await swap(FakeFlow(records), server, new, cast(VolumeClient, cinder))  # type: ignore[arg-type]
    assert ("release", "a-new") not in cinder.calls
    assert ("complete", "a-new") in cinder.calls
    assert set(records.rows) == {"r-new"} and new.status == m.VOL_ATTACHED
    assert new.connection_info and records.events == [("Success", None)]


async def test_old_row_dropped_and_new_row_kept_in_one_transaction() -> None:
    server, old, new = _rows()
    records = FakeRecords([old, new])
    await swap(FakeFlow(records), server, new, cast(VolumeClient, FakeCinder()))  # type: ignore[arg-type]
    # a kill after any transaction leaves the old row or the finished new one
    assert records.states[-1] == {"r-new": m.VOL_ATTACHED}
    for state in records.states:
        assert "r-old" in state or state == {"r-new": m.VOL_ATTACHED}, records.states
