"""Token format and the key repository."""

from __future__ import annotations

import base64
import stat
import time
import uuid
from pathlib import Path

import pytest
from cryptography.fernet import Fernet, MultiFernet

from stratus.identity.service.keys import KeyRepository
from stratus.identity.service.tokens import (
    DOMAIN,
    PROJECT,
    SYSTEM,
    UNSCOPED,
    TokenFormatError,
    TokenFormatter,
    TokenPayload,
    new_audit_id,
)


def payload(**kw: object) -> TokenPayload:
    now = time.time()
    base: dict[str, object] = {
        "user_id": uuid.uuid4().hex,
        "methods": ("password",),
        "issued_at": round(now, 3),
        "expires_at": round(now + 3600, 3),
        "audit_ids": (new_audit_id(),),
    }
    base.update(kw)
    return TokenPayload(**base)  # type: ignore[arg-type]


@pytest.fixture
def repo(tmp_path: Path) -> KeyRepository:
    r = KeyRepository(tmp_path / "keys", max_active_keys=3)
    r.ensure()
    return r


@pytest.fixture
def formatter(repo: KeyRepository) -> TokenFormatter:
    return TokenFormatter(repo.load())


@pytest.mark.parametrize(
    "p",
    [
        payload(),
        payload(scope=PROJECT, scope_id=uuid.uuid4().hex),
        payload(scope=DOMAIN, scope_id="default"),
        payload(scope=SYSTEM, scope_id=None, methods=("password", "token")),
        payload(scope=PROJECT, scope_id=uuid.uuid4().hex, methods=("application_credential",), app_cred_id=uuid.uuid4().hex),
        payload(methods=("token",), audit_ids=(new_audit_id(), new_audit_id())),
        payload(scope=PROJECT, scope_id=uuid.uuid4().hex, trust_id=uuid.uuid4().hex),
        payload(user_id="Not-A-UUID-but-an-external-id"),
        payload(user_id=uuid.uuid4().hex.upper()),  # 32 chars, not lower-case hex
    ],
    ids=["unscoped", "project", "domain", "system", "app-cred", "rescoped", "trust", "odd-user-id", "upper-hex-id"],
)
def test_round_trip(formatter: TokenFormatter, p: TokenPayload) -> None:
    token = formatter.encode(p)
    assert isinstance(token, str)
    assert token.isascii() and "=" not in token
    assert len(token) <= 255  # fits in an X-Auth-Token header comfortably
    back = formatter.decode(token)
    assert back == p


def test_scope_properties(formatter: TokenFormatter) -> None:
    project = formatter.decode(formatter.encode(payload(scope=PROJECT, scope_id="a" * 32)))
    assert project.project_id == "a" * 32 and project.domain_id is None and not project.system
    domain = formatter.decode(formatter.encode(payload(scope=DOMAIN, scope_id="default")))
    assert domain.domain_id == "default" and domain.project_id is None
    system = formatter.decode(formatter.encode(payload(scope=SYSTEM)))
    assert system.system and system.project_id is None
    unscoped = formatter.decode(formatter.encode(payload()))
    assert unscoped.scope == UNSCOPED and not unscoped.system


def test_tokens_are_unique(formatter: TokenFormatter) -> None:
    p = payload()
    assert formatter.encode(p) != formatter.encode(p)


def _flip(token: str, index: int) -> str:
    chars = list(token)
    chars[index] = "A" if chars[index] != "A" else "B"
    return "".join(chars)


def test_tampered_token_raises(formatter: TokenFormatter) -> None:
    token = formatter.encode(payload(scope=PROJECT, scope_id=uuid.uuid4().hex))
    for index in (0, 10, len(token) // 2, len(token) - 5):
        with pytest.raises(TokenFormatError):
            formatter.decode(_flip(token, index))
    with pytest.raises(TokenFormatError):
        formatter.decode(token[:-4])
    with pytest.raises(TokenFormatError):
        formatter.decode(token + "AAAA")


@pytest.mark.parametrize(
    "garbage",
    ["", "garbage", "gAAAAA", "é" * 40, "x" * 2000, "%%%%", base64.urlsafe_b64encode(b"\x80" + b"\0" * 60).decode()],
)
def test_garbled_token_raises(formatter: TokenFormatter, garbage: str) -> None:
    with pytest.raises(TokenFormatError):
        formatter.decode(garbage)


def test_foreign_key_token_raises(formatter: TokenFormatter) -> None:
    foreign = TokenFormatter(MultiFernet([Fernet(Fernet.generate_key())]))
    with pytest.raises(TokenFormatError):
        formatter.decode(foreign.encode(payload()))


def test_valid_fernet_with_wrong_payload_raises(repo: KeyRepository) -> None:
    fernet = repo.load()
    for raw in (b"not msgpack \xc1", b"\x93\x01\x02\x03", b"\xa5hello"):
        token = fernet.encrypt(raw).rstrip(b"=").decode()
        with pytest.raises(TokenFormatError):
            TokenFormatter(fernet).decode(token)


def test_key_files_are_private(repo: KeyRepository) -> None:
    assert stat.S_IMODE(repo.path.stat().st_mode) == 0o700
    files = sorted(p.name for p in repo.path.iterdir())
    assert files == ["0", "1"]
    repo.rotate()
    for key in repo.path.iterdir():
        assert stat.S_IMODE(key.stat().st_mode) == 0o600, key.name


def test_rotation_keeps_old_tokens_for_a_while(repo: KeyRepository) -> None:
    old = TokenFormatter(repo.load()).encode(payload(scope=SYSTEM))
    primary = repo.rotate()
    assert primary == 2
    assert sorted(int(p.name) for p in repo.path.iterdir()) == [0, 1, 2]
    # After one rotation the old primary is a secondary key: still decodes.
    assert TokenFormatter(repo.load()).decode(old).system
    # New tokens use the new primary, so the old key alone cannot read them.
    new = TokenFormatter(repo.load()).encode(payload())
    old_key_only = MultiFernet([Fernet((repo.path / "1").read_bytes().strip())])
    with pytest.raises(TokenFormatError):
        TokenFormatter(old_key_only).decode(new)
    # After max_active_keys rotations the old primary is gone.
    for _ in range(repo.max_active_keys - 1):
        repo.rotate()
    assert len(list(repo.path.iterdir())) == repo.max_active_keys
    assert not (repo.path / "1").exists()
    with pytest.raises(TokenFormatError):
        TokenFormatter(repo.load()).decode(old)


def test_staged_key_tokens_decode_before_promotion(repo: KeyRepository) -> None:
    """A key staged on one node may encrypt on a node that rotated first."""
    staged = MultiFernet([Fernet((repo.path / "0").read_bytes().strip())])
    token = TokenFormatter(staged).encode(payload())
    assert TokenFormatter(repo.load()).decode(token).scope == UNSCOPED


def test_rotation_keeps_max_active_keys(tmp_path: Path) -> None:
    repo = KeyRepository(tmp_path / "k", max_active_keys=5)
    repo.ensure()
    for expected in range(2, 10):
        assert repo.rotate() == expected
        indexes = sorted(int(p.name) for p in repo.path.iterdir())
        assert len(indexes) == min(expected + 1, 5)
        assert indexes[0] == 0 and indexes[-1] == expected


def test_load_empty_repository_raises(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError):
        KeyRepository(tmp_path / "none").load()
