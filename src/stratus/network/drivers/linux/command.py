"""Running the host's network tools (ip, bridge, nft, sysctl, dnsmasq) in a
network namespace, without blocking the event loop.

A ``Place`` is where a command acts: the root namespace (``None``) or a
named one.  ``ip`` and ``bridge`` take ``-n NAME``; other tools run under
``ip netns exec NAME``.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from typing import Any

from stratus.network.drivers.base import DataPlaneError

log = logging.getLogger(__name__)

TIMEOUT = 30.0


class CommandError(DataPlaneError):
    def __init__(self, argv: list[str], returncode: int, stderr: str):
        self.argv = argv
        self.returncode = returncode
        self.stderr = stderr.strip()
        super().__init__(f"{' '.join(argv)}: exit {returncode}: {self.stderr}")

    @property
    def missing(self) -> bool:
        """The object acted on does not exist."""
        text = self.stderr.lower()
        return any(
            s in text for s in ("does not exist", "cannot find device", "no such file", "not found")
        )


async def run(
    argv: list[str], *, input: str | None = None, check: bool = True, timeout: float = TIMEOUT
) -> str:
    """Run a command and return its standard output; raise ``CommandError``
    when it fails (unless ``check`` is false)."""
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.PIPE if input is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(
            proc.communicate(input.encode() if input is not None else None), timeout
        )
    except (TimeoutError, asyncio.CancelledError):
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        raise
    if check and proc.returncode != 0:
        raise CommandError(argv, proc.returncode or 0, err.decode(errors="replace"))
    return out.decode(errors="replace")


@dataclass(frozen=True)
class Place:
    """A network namespace to act in (``netns`` None: the root one)."""

    netns: str | None = None

    def ip(self, *args: str) -> list[str]:
        return ["ip", *(["-n", self.netns] if self.netns else []), *args]

    def bridge(self, *args: str) -> list[str]:
        return ["bridge", *(["-n", self.netns] if self.netns else []), *args]

    def exec(self, *argv: str) -> list[str]:
        return ["ip", "netns", "exec", self.netns, *argv] if self.netns else list(argv)

    async def run_ip(self, *args: str, check: bool = True) -> str:
        return await run(self.ip(*args), check=check)

    async def ip_json(self, *args: str) -> list[dict[str, Any]]:
        """``ip -json ARGS``; an object that does not exist gives []."""
        try:
            out = await run(self.ip("-json", *args))
        except CommandError as exc:
            if exc.missing:
                return []
            raise
        data = json.loads(out) if out.strip() else []
        return [d for d in data if d]  # ip prints {} for some entries

    async def batch(self, lines: list[str], *options: str) -> None:
        """Several ``ip`` commands in one process (stops at the first error);
        ``options`` (``-6``) apply to all of them."""
        if lines:
            await run(self.ip(*options, "-batch", "-"), input="\n".join(lines) + "\n")

    async def nft(self, script: str) -> None:
        """One nftables transaction: all of it applies, or none of it."""
        await run(self.exec("nft", "-f", "-"), input=script)

    async def nft_json(self, *args: str) -> list[dict[str, Any]]:
        try:
            out = await run(self.exec("nft", "-j", *args))
        except CommandError as exc:
            if exc.missing:
                return []
            raise
        items: list[dict[str, Any]] = json.loads(out).get("nftables", []) if out.strip() else []
        return items

    async def sysctl(self, **values: str) -> None:
        """Set sysctls; keys use ``__`` for dots: ``net__ipv4__ip_forward="1"``."""
        args = [f"{k.replace('__', '.')}={v}" for k, v in values.items()]
        await run(self.exec("sysctl", "-q", "-w", *args))

    async def sysctl_path(self, key: str, value: str) -> None:
        """Set one sysctl whose name has dots in it (an interface's)."""
        await run(self.exec("sysctl", "-q", "-w", f"{key}={value}"))


async def netns_list() -> set[str]:
    out = await run(["ip", "-json", "netns", "list"])
    data = json.loads(out) if out.strip() else []
    return {d["name"] for d in data if d.get("name")}


async def netns_add(name: str) -> bool:
    """Create a named namespace (no error when it exists) with lo up; True
    when it was made now."""
    made = False
    if name not in await netns_list():
        try:
            await run(["ip", "netns", "add", name])
            made = True
        except CommandError as exc:
            if "exist" not in exc.stderr.lower():
                raise
    await run(["ip", "-n", name, "link", "set", "lo", "up"])
    return made


async def netns_delete(name: str) -> None:
    if name in await netns_list():
        try:
            await run(["ip", "netns", "delete", name])
        except CommandError as exc:
            if not exc.missing:
                raise
