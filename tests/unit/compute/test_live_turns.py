"""One side of one live migration per server at a time on a host
(``agent/live.py``): a migration started right after the last one failed
must not prepare its incoming guest while the last one's destination side
is still throwing its own away (the same guest folder, the same volumes)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from stratus.compute.agent.live import LiveMigrations


def _migrations() -> LiveMigrations:
    parts = SimpleNamespace(host="b", recorder=SimpleNamespace(live=object()), guests=object())
    return LiveMigrations(parts)  # type: ignore[arg-type]


async def _run_both(same_server: bool) -> list[str]:
    live = _migrations()
    log: list[str] = []
    first_inside = asyncio.Event()
    let_first_go = asyncio.Event()

    async def dest(migration: str, fresh: bool) -> None:
        log.append(f"{migration} starts")
        if migration == "m1":
            first_inside.set()
            await let_first_go.wait()
        log.append(f"{migration} ends")

    live.dest.run = dest  # type: ignore[method-assign, assignment]
    live._servers = {"m1": "s1", "m2": "s1" if same_server else "s2"}
    one = asyncio.create_task(live.work("m1:dest"))
    await first_inside.wait()
    two = asyncio.create_task(live.work("m2:dest"))
    await asyncio.sleep(0.05)
    let_first_go.set()
    await asyncio.gather(one, two)
    assert not live._turns and not live._waiting  # nothing kept for servers no side works on
    return log


def test_a_newer_migration_of_the_server_waits_for_the_last_one() -> None:
    assert asyncio.run(_run_both(same_server=True)) == ["m1 starts", "m1 ends", "m2 starts", "m2 ends"]


def test_other_servers_migrate_meanwhile() -> None:
    assert asyncio.run(_run_both(same_server=False)) == ["m1 starts", "m2 starts", "m2 ends", "m1 ends"]
