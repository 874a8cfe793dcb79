"""Extra compute hosts for tests: `stratus compute-agent --host NAME`
processes on a running all-in-one's data folder and database."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import BIN, Server, sql


@dataclass
class Agent:
    host: str
    process: subprocess.Popen[bytes]
    log: Path

    def stop(self, timeout: float = 30) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()


def host_row(server: Server, host: str) -> dict[str, object] | None:
    """The compute_host row of ``host`` (its channel and heartbeat), read
    straight from the database."""
    rows = sql(server, "SELECT agent_url, heartbeat FROM compute_host WHERE host = ?", host)
    return {"agent_url": rows[0][0], "heartbeat": rows[0][1]} if rows else None


def start_agent(server: Server, host: str, timeout: float = 60, **env: str) -> Agent:
    """Start an agent for ``host`` and wait until it has registered its channel."""
    log = server.data_dir / f"agent-{host}.log"
    # A restarted agent: its host row still names the last one's channel.
    before = (host_row(server, host) or {}).get("agent_url")
    port = server.url.rsplit(":", 1)[1]
    environ = {k: v for k, v in os.environ.items() if not k.startswith("STRATUS_")}
    environ.update(STRATUS_SERVER__PORT=port, **server.shared_env(), **env)
    process = subprocess.Popen(
        [str(BIN / "stratus"), "compute-agent", "--data-dir", str(server.data_dir), "--host", host],
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        env=environ,
    )
    agent = Agent(host, process, log)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the agent exited with {process.returncode}:\n{log.read_text()}")
        row = host_row(server, host)
        if row and row.get("agent_url") not in (None, before) and row.get("heartbeat"):
            return agent
        time.sleep(0.2)
    agent.stop()
    raise RuntimeError(f"the agent for {host} did not register in {timeout} s:\n{log.read_text()}")
