"""Secrets the identity service makes up for its users."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from stratus.identity.service import tokens


def test_a_generated_secret_never_begins_with_a_dash(monkeypatch: pytest.MonkeyPatch) -> None:
    """`--os-application-credential-secret -x...` is an unknown option to the
    clients' argument parsers: a secret beginning with "-" is drawn again."""
    drawn: Iterator[str] = iter(["-first", "--second", "third"])
    monkeypatch.setattr(tokens.secrets, "token_urlsafe", lambda n: next(drawn))
    assert tokens.generated_secret(48) == "third"
