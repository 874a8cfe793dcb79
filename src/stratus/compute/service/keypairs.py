"""Key pairs: imported public keys, or generated ones (the private key is
returned once); OpenSSH keys, or x509 certificates (Nova's ``x509`` type,
from microversion 2.2, for guests that log in with a certificate)."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from sqlalchemy import func, select

from stratus.common.db import Database, serialize
from stratus.compute import models as m
from stratus.compute.errors import BadRequest, Conflict, NotFound
from stratus.compute.service.quotas import Quotas

KEY_TYPES = (
    "ssh-ed25519",
    "ssh-rsa",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "ssh-dss",
)


def fingerprint(public_key: str) -> str:
    """The MD5 fingerprint Nova shows (aa:bb:...), refusing what is not an
    OpenSSH public key."""
    parts = public_key.strip().split()
    if len(parts) < 2 or parts[0] not in KEY_TYPES:
        raise BadRequest("Keypair data is invalid: not an OpenSSH public key.")
    try:
        blob = base64.b64decode(parts[1], validate=True)
    except ValueError as exc:
        raise BadRequest("Keypair data is invalid: the key is not base64.") from exc
    try:
        serialization.load_ssh_public_key(public_key.strip().encode())
    except (ValueError, TypeError) as exc:
        raise BadRequest(f"Keypair data is invalid: {exc}") from exc
    digest = hashlib.md5(blob, usedforsecurity=False).hexdigest()
    return ":".join(digest[i : i + 2] for i in range(0, 32, 2))


def generate() -> tuple[str, str]:
    """A new ed25519 key pair: (public OpenSSH line, private PEM)."""
    key = ed25519.Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        .decode()
    )
    return public, private


def x509_fingerprint(certificate: str) -> str:
    """The SHA-1 fingerprint of a PEM certificate (aa:bb:..., as Nova),
    refusing what is not one."""
    try:
        cert = x509.load_pem_x509_certificate(certificate.strip().encode())
    except ValueError as exc:
        raise BadRequest("Keypair data is invalid: not a PEM x509 certificate.") from exc
    digest = cert.fingerprint(hashes.SHA1()).hex()  # noqa: S303 - the fingerprint Nova shows
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


def generate_x509(user_id: str) -> tuple[str, str]:
    """A new RSA key and a self-signed client certificate naming the user
    (Nova's: CN and UPN ``<user>@localhost``, ten years): (certificate PEM,
    private key PEM)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, user_id or "nova")])
    now = datetime.now(UTC)
    upn = x509.ObjectIdentifier("1.3.6.1.4.1.311.20.2.3")
    upn_value = f"{user_id}@localhost".encode()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=3650))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(
            # the UPN as a DER UTF8String
            x509.SubjectAlternativeName(
                [x509.OtherName(upn, bytes([0x0C, len(upn_value)]) + upn_value)]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    return cert.public_bytes(serialization.Encoding.PEM).decode(), private


class KeyPairs:
    def __init__(self, db: Database, quotas: Quotas):
        self.db = db
        self.quotas = quotas

    async def list_keypairs(self, user_id: str) -> list[m.KeyPair]:
        async with self.db.session() as s:
            return list(
                (
                    await s.scalars(
                        select(m.KeyPair)
                        .where(m.KeyPair.user_id == user_id)
                        .order_by(m.KeyPair.name)
                    )
                ).all()
            )

    async def get(self, user_id: str, name: str) -> m.KeyPair:
        async with self.db.session() as s:
            row = await s.get(m.KeyPair, (user_id, name))
        if row is None:
            raise NotFound(f"Keypair {name} not found for user {user_id}.")
        return row

    async def create(
        self, user_id: str, project_id: str | None, name: str, public_key: str | None, key_type: str
    ) -> tuple[m.KeyPair, str | None]:
        private = None
        if key_type == "x509":
            if public_key is None:
                public_key, private = generate_x509(user_id)
            fp = x509_fingerprint(public_key)
        else:
            if public_key is None:
                public_key, private = generate()
            fp = fingerprint(public_key)
        async with self.db.transaction() as s:
            await serialize(s, "compute-key-pairs", user_id)  # the check and the insert: one step
            count = await s.scalar(
                select(func.count()).select_from(m.KeyPair).where(m.KeyPair.user_id == user_id)
            )
            await self.quotas.check(project_id, {"key_pairs": (count or 0, 1)})
            if await s.get(m.KeyPair, (user_id, name)) is not None:
                raise Conflict(f"Key pair '{name}' already exists.")
            row = m.KeyPair(
                user_id=user_id,
                name=name,
                type=key_type,
                public_key=public_key.strip(),
                fingerprint=fp,
            )
            s.add(row)
        return row, private

    async def delete(self, user_id: str, name: str) -> None:
        async with self.db.transaction() as s:
            row = await s.get(m.KeyPair, (user_id, name))
            if row is None:
                raise NotFound(f"Keypair {name} not found for user {user_id}.")
            await s.delete(row)
