"""The token key repository: Fernet keys in ``DATA_DIR/fernet-keys``.

As in Keystone, key ``0`` is the staged key (the next primary), the highest
number is the primary (it encrypts new tokens), and the others are older keys
kept so that tokens they encrypted still validate.  Rotation promotes the
staged key, stages a new one and drops the oldest beyond ``max_active_keys``.
Copy the folder to every API process that validates tokens locally.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from cryptography.fernet import Fernet, MultiFernet

log = logging.getLogger(__name__)


class KeyRepository:
    def __init__(self, path: Path, max_active_keys: int = 3):
        self.path = path
        self.max_active_keys = max_active_keys

    def _write(self, index: int, key: bytes) -> None:
        tmp = self.path / f".{index}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(key)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path / str(index))

    def _indexes(self) -> list[int]:
        if not self.path.is_dir():
            return []
        return sorted(int(p.name) for p in self.path.iterdir() if p.name.isdigit())

    def ensure(self) -> None:
        """Create the repository with a staged and a primary key if empty."""
        self.path.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not self._indexes():
            self._write(0, Fernet.generate_key())
            self._write(1, Fernet.generate_key())
            log.info("identity: created token keys in %s", self.path)

    def rotate(self) -> int:
        """Promote the staged key; return the new primary's index."""
        self.ensure()
        indexes = self._indexes()
        new_primary = indexes[-1] + 1
        os.replace(self.path / "0", self.path / str(new_primary))
        self._write(0, Fernet.generate_key())
        indexes = self._indexes()
        # Keep the staged key, the primary and the newest older keys.
        older = [i for i in indexes if i not in (0, new_primary)]
        excess = len(indexes) - self.max_active_keys
        for index in older[: max(excess, 0)]:
            (self.path / str(index)).unlink()
        log.info("identity: rotated token keys, primary is now %d", new_primary)
        return new_primary

    def load(self) -> MultiFernet:
        """Keys in trial order: the primary first, then older, then staged."""
        indexes = self._indexes()
        if not indexes:
            raise RuntimeError(f"no token keys in {self.path}")
        order = sorted((i for i in indexes if i != 0), reverse=True) + [0]
        return MultiFernet([Fernet((self.path / str(i)).read_bytes().strip()) for i in order])
