"""Process-local wake-ups for code that waits on the database.

Something that waits for a row to change (an agent waiting for an event,
an API call waiting for its task) reads the database on an interval.  When
the writer runs in the same process it can ``ring`` the key it wrote (a
server's id) and the waiters of that key read again at once instead of at
their next look.  Waiters still read on their interval, so a writer in
another process (an API worker, an agent of its own) is seen as before: a
ring only ever saves waiting.

    with ARRIVED.listening(server_id) as bell:
        while not done():
            await bell.wait(0.25)
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator


class Bell:
    """One waiter's wake-up: ``wait`` returns when rung or after ``timeout``."""

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self._event = asyncio.Event()

    def ring(self) -> None:
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self.loop:
            self._event.set()
        else:  # a waiter of another loop (another thread)
            with contextlib.suppress(RuntimeError):  # its loop is closed: nobody waits
                self.loop.call_soon_threadsafe(self._event.set)

    async def wait(self, timeout: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), timeout)
        self._event.clear()


class Wakeups:
    """Bells by key: ``ring(key)`` wakes everyone ``listening(key)``."""

    def __init__(self) -> None:
        self._bells: dict[str, set[Bell]] = {}

    def ring(self, key: str) -> None:
        for bell in list(self._bells.get(key, ())):
            bell.ring()

    @contextlib.contextmanager
    def listening(self, key: str) -> Iterator[Bell]:
        """A bell for ``key``, rung from now on (listen before the first
        look at the database, so no write between the two is missed)."""
        bell = Bell()
        self._bells.setdefault(key, set()).add(bell)
        try:
            yield bell
        finally:
            bells = self._bells.get(key)
            if bells is not None:
                bells.discard(bell)
                if not bells:
                    del self._bells[key]
