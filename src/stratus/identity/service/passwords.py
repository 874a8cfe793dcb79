"""Password and secret hashing with argon2id (memory-hard), off the event loop."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from stratus.common.config import IdentityConfig

# Checked against when a user does not exist, so that a wrong user name takes
# as long as a wrong password and the two cannot be told apart.
_DUMMY_SECRET = "stratus-no-such-user"


class Hasher:
    def __init__(self, cfg: IdentityConfig, workers: int = 2):
        self.params = {
            "time_cost": cfg.argon2_time_cost,
            "memory_cost": cfg.argon2_memory_cost_kib,
            "parallelism": cfg.argon2_parallelism,
        }
        self._ph = PasswordHasher(
            time_cost=cfg.argon2_time_cost,
            memory_cost=cfg.argon2_memory_cost_kib,
            parallelism=cfg.argon2_parallelism,
        )
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="argon2")
        self._dummy: str | None = None

    def describe(self) -> str:
        p = self.params
        return f"argon2id t={p['time_cost']} m={p['memory_cost']}KiB p={p['parallelism']}"

    async def hash(self, secret: str) -> str:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self._ph.hash, secret)

    def _verify(self, hashed: str | None, secret: str) -> bool:
        if hashed is None:
            if self._dummy is None:
                self._dummy = self._ph.hash(_DUMMY_SECRET)
            hashed = self._dummy
            secret = secret + "\0"  # never matches
        try:
            return self._ph.verify(hashed, secret)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    async def verify(self, hashed: str | None, secret: str) -> bool:
        """True when ``secret`` matches; a None hash always fails, in equal time."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self._verify, hashed, secret)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
