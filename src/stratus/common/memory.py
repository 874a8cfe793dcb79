"""Giving memory back to the system after bursts of work."""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

log = logging.getLogger(__name__)

_libc = None
_name = ctypes.util.find_library("c")
if _name:
    try:
        _libc = ctypes.CDLL(_name)
    except OSError:  # pragma: no cover - no libc to load
        _libc = None


def trim() -> None:
    """Return freed heap memory to the system (glibc keeps it otherwise, so an
    idle server would go on holding what one upload or bootstrap used)."""
    if _libc is not None and hasattr(_libc, "malloc_trim"):
        _libc.malloc_trim(0)
