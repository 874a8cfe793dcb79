"""The hypervisor support matrix in docs/ is what the drivers declare."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from stratus.compute import matrix
from stratus.compute.drivers.base import Capability
from stratus.compute.drivers.libvirt_xml import VIRT_TYPES
from stratus.compute.drivers.qemu import QemuDriver

DOC = Path(__file__).resolve().parents[3] / "docs" / "hypervisors.md"


def test_committed_page_is_what_the_code_generates() -> None:
    assert DOC.read_text() == matrix.page(), (
        "docs/hypervisors.md is stale: run "
        "`python -m stratus.compute.matrix --write docs/hypervisors.md`"
    )


def rows() -> dict[str, list[str]]:
    lines = [line for line in matrix.table().splitlines() if line.startswith("| ")]
    parsed = [[cell.strip() for cell in line.strip("|").split("|")] for line in lines]
    return {row[0]: row[1:] for row in parsed}


def test_columns_follow_the_declarations() -> None:
    table = rows()
    header = table[""]
    assert header[0] == "qemu" and header[-1] == "fake (tests only)"
    assert "libvirt: QEMU (TCG)" in header and "libvirt: Microsoft Hyper-V" in header
    for capability in Capability:
        (row,) = [cells for name, cells in table.items() if f"(`{capability.value}`)" in name]
        assert (row[0] == "yes") == (capability in QemuDriver.capabilities)
        lxc = header.index("libvirt: LXC")
        assert (row[lxc] == "yes") == (capability in VIRT_TYPES["lxc"].capabilities)
    # Only the QEMU driver moves running guests; libvirt declares no live migration.
    assert table["Live migration (`live_migration`)"][: len(header) - 1] == ["yes"] + ["—"] * (
        len(header) - 2
    )
    assert table["Tested by Stratus"][header.index("libvirt: QEMU (TCG)")] == "e2e (real guests)"


def test_module_prints_the_page() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "stratus.compute.matrix"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert out == matrix.page()
