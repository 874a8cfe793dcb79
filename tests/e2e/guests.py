"""What the driver e2e modules share: one tiny guest whose user_data counts
boots on its own disk, serves a page on port 8080 and prints its uptime every
second, and the helpers that watch it."""

from __future__ import annotations

import asyncio
import hashlib
import re
import socket
import time
import uuid as uuidlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from stratus.compute.drivers.base import GuestSpec, PortForward, Power

BOOT_TIMEOUT = 120.0
READY = "stratus-tiny: ready"
USER_DATA = b"""#!/bin/sh
n=$(cat /mnt/disk/boots 2>/dev/null || echo 0)
n=$((n + 1))
echo $n > /mnt/disk/boots
sync
mkdir -p /www
echo "hello from boot $n" > /www/index.html
httpd -p 8080 -h /www
echo "e2e: boot $n"
(while :; do echo "e2e: uptime $(cut -d' ' -f1 /proc/uptime)"; sleep 1; done) >/dev/ttyS0 2>&1 &
"""


@dataclass
class Guest:
    driver: Any  # a QemuDriver or a LibvirtDriver
    spec: GuestSpec
    base_digest: str
    timings: dict[str, float]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def uptimes(text: str) -> list[float]:
    return [float(v) for v in re.findall(r"e2e: uptime ([0-9.]+)", text)]


async def tiny_guest_spec(workdir: Path, name: str, drive_in_folder: bool) -> GuestSpec:
    """A 256 MiB guest of the tiny image (built under ``workdir``; the test
    is skipped when the host lacks its packages) with USER_DATA on a config
    drive, in the guest's folder or beside it, and port 8080 forwarded."""
    from stratus.compute.agent.configdrive import build_config_drive
    from stratus.compute.guest import tiny

    try:
        base = await asyncio.to_thread(tiny.build_tiny_image, workdir / "images")
    except Exception as exc:  # missing host packages: skip, do not fail
        pytest.skip(f"cannot build the tiny guest image: {exc}")
    uuid = str(uuidlib.uuid4())
    directory = workdir / "instances" / uuid
    directory.mkdir(parents=True)
    drive = directory / "config.iso" if drive_in_folder else workdir / f"{uuid}.config.iso"
    await asyncio.to_thread(
        build_config_drive,
        drive,
        meta_data={"uuid": uuid, "name": name, "hostname": name},
        user_data=USER_DATA,
        network_data={"links": [], "networks": [], "services": []},
    )
    return GuestSpec(
        uuid=uuid,
        name=name,
        vcpus=1,
        memory_mb=256,
        root_gb=1,
        base_image=base,
        base_format="qcow2",
        directory=directory,
        config_drive=drive,
        forwards=(PortForward(host_port=free_port(), guest_port=8080),),
    )


async def console(guest: Guest) -> str:
    return str(await guest.driver.console_output(guest.spec.uuid, guest.spec.directory, None))


async def wait_console(guest: Guest, text: str, timeout: float = BOOT_TIMEOUT) -> float:
    """Wait for ``text`` on the serial console; return the seconds it took."""
    started = time.monotonic()
    while text not in await console(guest):
        status = await guest.driver.status(guest.spec.uuid)
        assert status.power in (Power.RUNNING, Power.PAUSED), f"guest is {status.power}"
        if time.monotonic() - started > timeout:
            tail = (await console(guest))[-2000:]
            pytest.fail(f"no {text!r} on the console within {timeout:g} s; it ends:\n{tail}")
        await asyncio.sleep(0.2)
    return time.monotonic() - started


async def get_forwarded_page(guest: Guest) -> httpx.Response:
    """GET / on the guest's forwarded port, once the guest's server answers."""
    url = f"http://127.0.0.1:{guest.spec.forwards[0].host_port}/"
    async with httpx.AsyncClient(timeout=5) as client:
        for _ in range(100):
            try:
                return await client.get(url)
            except httpx.TransportError:
                await asyncio.sleep(0.2)
    pytest.fail("the forwarded port never answered")
