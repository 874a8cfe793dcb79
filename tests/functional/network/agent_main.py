"""A network agent in a process of its own, for the restart tests: it reads
its host's desired state from a JSON file (rewritten by the test, watched
for changes) and writes the port statuses it reports to another.

    python -m tests.functional.network.agent_main SETTINGS.json STATE.json STATUS.json
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from stratus.common.reconciler import Timing
from stratus.network.agent.agent import NetworkAgent
from stratus.network.agent.source import AgentInfo
from stratus.network.drivers.base import HostState
from stratus.network.drivers.linux import LinuxDataPlane, LinuxSettings
from tests.functional.network.lab import decode


class FileSource:
    def __init__(self, state: Path, statuses: Path):
        self.state = state
        self.statuses = statuses

    async def host_state(self, host: str) -> HostState:
        state: HostState = decode(HostState, json.loads(self.state.read_text()))
        return state

    async def set_port_status(self, port_id: str, status: str) -> bool:
        current = json.loads(self.statuses.read_text()) if self.statuses.exists() else {}
        current[port_id] = status
        tmp = self.statuses.with_suffix(".tmp")
        tmp.write_text(json.dumps(current))
        os.replace(tmp, self.statuses)
        return True

    async def register_agent(
        self, host: str, tunnel_ip: str | None, configurations: Any = None
    ) -> str:
        return host

    async def agent_heartbeat(self, host: str) -> bool:
        return True

    def subscribe(self, host: str | None, wake: Callable[[], None]) -> Callable[[], None]:
        async def watch() -> None:
            seen = None
            while True:
                mtime = self.state.stat().st_mtime_ns
                if mtime != seen:
                    seen = mtime
                    wake()
                await asyncio.sleep(0.05)

        task = asyncio.get_running_loop().create_task(watch())
        return task.cancel


async def main(settings_file: Path, state: Path, statuses: Path) -> None:
    raw = json.loads(settings_file.read_text())
    raw["state_dir"] = Path(raw["state_dir"])
    settings = LinuxSettings(**raw)
    agent = NetworkAgent(
        AgentInfo(settings.host, settings.tunnel_ip or None),
        FileSource(state, statuses),
        LinuxDataPlane(settings),
        Timing(poll_interval=1.0, sync_interval=5.0),
    )
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await agent.start()
    print("started", flush=True)
    await stop.wait()
    await agent.stop()


if __name__ == "__main__":
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    asyncio.run(main(*(Path(a) for a in sys.argv[1:4])))
