"""Fixtures of the data plane's functional tests: a lab per test (hosts in
namespaces of their own, removed afterwards whatever happens)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.functional.network.lab import ROOT, Lab, lab_at


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    if not ROOT:
        pytest.skip("the data plane needs root (namespaces, nftables)")
    with lab_at(tmp_path) as the_lab:
        yield the_lab
