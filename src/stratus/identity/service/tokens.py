"""Token format: a msgpack payload encrypted and authenticated with Fernet.

Tokens are stateless to validate: the payload names the user, the scope, the
methods, the expiry and the audit ids; everything else is looked up (and
cached) when a token is validated.
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

import msgpack
from cryptography.fernet import InvalidToken, MultiFernet

FORMAT_VERSION = 1
METHODS = ("password", "token", "application_credential", "totp", "external")
UNSCOPED, PROJECT, DOMAIN, SYSTEM = 0, 1, 2, 3


class TokenFormatError(Exception):
    """The string is no token of ours (garbled, foreign key, tampered)."""



def generated_secret(nbytes: int) -> str:
    """A random URL-safe secret that does not begin with "-": the clients'
    argument parsers take ``--os-password -x...`` for an option."""
    while True:
        value = secrets.token_urlsafe(nbytes)
        if not value.startswith("-"):
            return value

def _pack_id(value: str) -> str | bytes:
    if len(value) == 32:
        try:
            return uuid.UUID(hex=value).bytes if value == value.lower() else value
        except ValueError:
            return value
    return value


def _unpack_id(value: str | bytes) -> str:
    return uuid.UUID(bytes=value).hex if isinstance(value, bytes) else value


def new_audit_id() -> str:
    return base64.urlsafe_b64encode(os.urandom(16)).rstrip(b"=").decode()


def _pack_audit(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def _unpack_audit(value: bytes) -> str:
    return base64.urlsafe_b64encode(value).rstrip(b"=").decode()


@dataclass(frozen=True, slots=True)
class TokenPayload:
    user_id: str
    methods: tuple[str, ...]
    issued_at: float  # seconds since the epoch
    expires_at: float
    audit_ids: tuple[str, ...]  # this token's, then its chain's first
    scope: int = UNSCOPED
    scope_id: str | None = None
    app_cred_id: str | None = None
    trust_id: str | None = None  # a trust-scoped token's trust (OS-TRUST)

    @property
    def project_id(self) -> str | None:
        return self.scope_id if self.scope == PROJECT else None

    @property
    def domain_id(self) -> str | None:
        return self.scope_id if self.scope == DOMAIN else None

    @property
    def system(self) -> bool:
        return self.scope == SYSTEM


def _methods_to_bits(methods: tuple[str, ...]) -> int:
    return sum(1 << METHODS.index(m) for m in methods)


def _bits_to_methods(bits: int) -> tuple[str, ...]:
    return tuple(m for i, m in enumerate(METHODS) if bits & (1 << i))


class TokenFormatter:
    def __init__(self, fernet: MultiFernet):
        self.fernet = fernet

    def encode(self, p: TokenPayload) -> str:
        data: list[Any] = [
            FORMAT_VERSION,
            _pack_id(p.user_id),
            _methods_to_bits(p.methods),
            int(p.issued_at * 1000),
            int(p.expires_at * 1000),
            [_pack_audit(a) for a in p.audit_ids],
            p.scope,
            _pack_id(p.scope_id) if p.scope_id else None,
            _pack_id(p.app_cred_id) if p.app_cred_id else None,
        ]
        if p.trust_id:
            data.append(_pack_id(p.trust_id))
        token = self.fernet.encrypt(msgpack.packb(data, use_bin_type=True))
        return token.rstrip(b"=").decode()

    def decode(self, token: str) -> TokenPayload:
        if not token or len(token) > 1024:
            raise TokenFormatError("bad token length")
        try:
            raw = token.encode("ascii")
            raw += b"=" * (-len(raw) % 4)
            data = msgpack.unpackb(self.fernet.decrypt(raw), raw=False)
            # A trust-scoped token has a tenth element, its trust.
            trust = data.pop() if isinstance(data, list) and len(data) == 10 else None
            (version, user, bits, issued, expires, audit, scope, scope_id, app_cred) = data
            if version != FORMAT_VERSION:
                raise TokenFormatError("unknown token version")
            return TokenPayload(
                user_id=_unpack_id(user),
                methods=_bits_to_methods(bits),
                issued_at=issued / 1000,
                expires_at=expires / 1000,
                audit_ids=tuple(_unpack_audit(a) for a in audit),
                scope=scope,
                scope_id=_unpack_id(scope_id) if scope_id is not None else None,
                app_cred_id=_unpack_id(app_cred) if app_cred is not None else None,
                trust_id=_unpack_id(trust) if trust is not None else None,
            )
        except (InvalidToken, UnicodeEncodeError, ValueError, TypeError, binascii.Error) as exc:
            raise TokenFormatError(str(exc) or type(exc).__name__) from exc
        except msgpack.UnpackException as exc:
            raise TokenFormatError("bad payload") from exc
