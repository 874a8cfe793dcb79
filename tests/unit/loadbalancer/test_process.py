"""Where the lb agent runs: in the all-in-one's process unless
``loadbalancer.run_agent`` is false (``stratus lb-agent`` runs it), and
HAProxy's nice value from the configuration."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from stratus.app import Cloud
from stratus.common.config import Config
from stratus.loadbalancer.agent.runner import make_driver


def _config(tmp_path: Path, **lb: object) -> Config:
    return Config.model_validate({
        "data_dir": tmp_path,
        "services": {"enabled": ["identity", "load-balancer"]},
        "loadbalancer": {"driver": "fake", **lb},
    })  # fmt: skip


@pytest.mark.parametrize("run_agent", [True, False])
async def test_the_all_in_one_runs_the_agent_unless_told_not_to(
    tmp_path: Path, run_agent: bool
) -> None:
    cloud = Cloud(_config(tmp_path, run_agent=run_agent))
    try:
        await cloud.db.migrate()
        await cloud._start_loadbalancer(cloud.loadbalancer)
        assert (cloud.lb_agent is not None) is run_agent
        await asyncio.sleep(0.1)  # the agent's start, spawned, begins
    finally:
        await cloud.stop()


def test_haproxy_runs_at_the_configured_nice_value(tmp_path: Path) -> None:
    from stratus.loadbalancer.drivers.haproxy import HAProxyDriver

    if not isinstance(driver := make_driver(_config(tmp_path, driver="haproxy",
                                                    haproxy_nice=5)), HAProxyDriver):  # fmt: skip
        pytest.skip("the HAProxy driver needs root")
    assert driver.nice == 5


def _autogroup_nice(pid: int) -> str:
    return Path(f"/proc/{pid}/autogroup").read_text().split()[-1]


def _in_an_autogroup() -> bool:
    """The kernel prints a task's group only when the task is scheduled by
    its autogroup; inside a cgroup of its own (CI's runner) the file is there
    and empty, and a session's nice changes nothing."""
    try:
        return bool(Path("/proc/self/autogroup").read_text().strip())
    except OSError:
        return False


@pytest.mark.skipif(not _in_an_autogroup(), reason="not scheduled by an autogroup here")
async def test_haproxys_session_group_gets_the_nice_value_and_no_other(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A daemon in a session of its own gets its group's nice set; a process
    still in its parent's session (the agent's) leaves that group alone."""
    import os
    import subprocess
    import sys

    from stratus.loadbalancer.drivers import haproxy
    from stratus.loadbalancer.drivers.haproxy import HAProxyDriver

    monkeypatch.setattr(haproxy, "SETSID_WAIT", 0.05)
    ours = _autogroup_nice(os.getpid())
    nice = 4 if ours == "3" else 3
    driver = HAProxyDriver(tmp_path / "lb", nice=nice)
    procs = []
    try:
        for lb_id, own_session in (("a", True), ("b", False)):
            cfg = tmp_path / "lb" / lb_id / "haproxy.cfg"
            cfg.parent.mkdir(parents=True)
            proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", str(cfg)],
                                    start_new_session=own_session)  # fmt: skip
            procs.append(proc)
            (cfg.parent / "haproxy.pid").write_text(f"{proc.pid}\n")
            while driver._pid(lb_id) is None:  # its command line is there once exec is done
                await asyncio.sleep(0.005)
        await driver._renice_session("a")
        assert _autogroup_nice(procs[0].pid) == str(nice)
        await driver._renice_session("b")
        assert _autogroup_nice(procs[1].pid) == ours == _autogroup_nice(os.getpid())
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()
