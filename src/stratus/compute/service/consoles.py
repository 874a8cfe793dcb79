"""Remote consoles of servers: one-time tokens in the database (so any API
process can accept the websocket that presents one), and the serial
console's bridge target (the agent channel of the server's host)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select

from stratus.common.db import Database, utcnow
from stratus.compute import models as m
from stratus.compute.drivers.base import Capability
from stratus.compute.errors import BadRequest, Conflict
from stratus.compute.service.servers import Servers

TOKEN_TTL = timedelta(minutes=10)  # Nova's [consoleauth] token_ttl
# The console protocols Nova knows, and the types each may be asked with.
PROTOCOLS = {
    "vnc": {"novnc", "xvpvnc"},
    "spice": {"spice-html5", "spice-direct"},
    "rdp": {"rdp-html5"},
    "serial": {"serial"},
    "mks": {"webmks"},
}


@dataclass(frozen=True)
class ConsoleTarget:
    server_id: str
    host: str
    agent_url: str


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Consoles:
    def __init__(self, db: Database):
        self.db = db

    @staticmethod
    def check_protocol(protocol: str, kind: str) -> None:
        """Only the serial console is served; the others are not enabled
        (Nova's 400 for a console type a cloud does not run)."""
        if protocol not in PROTOCOLS or kind not in PROTOCOLS[protocol]:
            raise BadRequest(f"Invalid console type {kind} for protocol {protocol}.")
        if protocol != "serial":
            raise BadRequest(f"Unavailable console type {kind}.")

    async def create(self, server: m.Server, protocol: str) -> str:
        """A new one-time token for the console of the running ``server``."""
        if server.vm_state != m.ACTIVE or server.host is None:
            raise Conflict(
                f"Instance {server.id} is not ready yet: its console needs it ACTIVE "
                f"(it is {server.vm_state})."
            )
        token = secrets.token_urlsafe(24)
        now = utcnow()
        async with self.db.transaction() as s:
            await Servers.check_capability(s, server, Capability.SERIAL_CONSOLE, "get_console")
            # tokens nobody used are dropped as new ones are made
            await s.execute(delete(m.ConsoleToken).where(m.ConsoleToken.expires_at < now))
            s.add(
                m.ConsoleToken(
                    token_hash=digest(token),
                    server_id=server.id,
                    host=server.host,
                    protocol=protocol,
                    expires_at=now + TOKEN_TTL,
                    created_at=now,
                )
            )
        return token

    async def redeem(self, token: str) -> ConsoleTarget | None:
        """The console a token opens, once: the row is deleted as it is read
        (None: unknown, used or expired)."""
        async with self.db.transaction() as s:
            row = await s.scalar(
                select(m.ConsoleToken).where(m.ConsoleToken.token_hash == digest(token))
            )
            if row is None:
                return None
            gone = await s.execute(
                delete(m.ConsoleToken).where(m.ConsoleToken.token_hash == row.token_hash)
            )
            if gone.rowcount != 1 or row.expires_at < utcnow():  # type: ignore[attr-defined]
                return None
            server = await s.get(m.Server, row.server_id)
            if server is None or server.vm_state != m.ACTIVE or server.host != row.host:
                return None
            url = await s.scalar(
                select(m.ComputeHost.agent_url).where(m.ComputeHost.host == row.host)
            )
        if not url:
            return None
        return ConsoleTarget(row.server_id, row.host, url)
