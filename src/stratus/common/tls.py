"""The TLS settings of Stratus's HTTP clients: one context per process.

httpx makes a new SSL context for every client (the CA bundle read and
parsed: about 40 ms of CPU each here), and a cloud makes some twenty
clients as it starts (the agents', the stores', the service sessions'), so
every client of the process shares the one made here (CA bundle and
``SSL_CERT_FILE``/``SSL_CERT_DIR`` as httpx's default)."""

from __future__ import annotations

import functools
import ssl
from typing import Any

import httpx


@functools.cache
def client_context() -> ssl.SSLContext:
    return httpx.create_ssl_context()


def client(**options: Any) -> httpx.AsyncClient:
    """``httpx.AsyncClient(**options)`` with the process's shared TLS
    context unless ``verify`` is given."""
    options.setdefault("verify", client_context())
    return httpx.AsyncClient(**options)
