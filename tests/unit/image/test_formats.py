"""stratus.image.formats: what headers made by qemu-img (and by hand) are
taken for, and which are refused."""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from stratus.image import formats
from stratus.image.formats import ImageFormatError, Inspection, check, inspect

MiB = 1024 * 1024


def qemu_img(*args: str) -> None:
    subprocess.run(["qemu-img", *args], check=True, capture_output=True, timeout=60)


def make(tmp_path: Path, fmt: str, size: str = "16M", *options: str, name: str = "") -> Path:
    path = tmp_path / (name or f"img.{fmt}")
    qemu_img("create", "-f", fmt, *options, str(path), size)
    return path


def qemu_virtual_size(path: Path) -> int:
    out = subprocess.run(
        ["qemu-img", "info", "--output=json", str(path)],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    return int(json.loads(out)["virtual-size"])


def inspect_bytes(data: bytes) -> Inspection:
    """Inspect as the upload path does: the first MiB, the last 512 bytes, the size."""
    return inspect(data[: formats.HEAD_BYTES], data[-formats.TAIL_BYTES :], len(data))


def inspect_file(path: Path) -> Inspection:
    return inspect_bytes(path.read_bytes())


# -- qcow2 -------------------------------------------------------------------------------


@pytest.mark.parametrize("compat", ["0.10", "1.1"])
def test_qcow2_versions(tmp_path: Path, compat: str) -> None:
    path = make(tmp_path, "qcow2", "64M", "-o", f"compat={compat}")
    data = path.read_bytes()
    assert struct.unpack(">I", data[4:8])[0] == (2 if compat == "0.10" else 3)
    found = inspect_bytes(data)
    assert found.format == "qcow2"
    assert found.virtual_size == 64 * MiB == qemu_virtual_size(path)
    assert found.safe, found.problems
    check("qcow2", found)


def test_qcow2_with_data_written(tmp_path: Path) -> None:
    src = tmp_path / "src.raw"
    src.write_bytes(b"\x5a" * (3 * MiB))
    path = tmp_path / "full.qcow2"
    qemu_img("convert", "-f", "raw", "-O", "qcow2", str(src), str(path))
    found = inspect_file(path)
    assert (found.format, found.virtual_size, found.safe) == ("qcow2", 3 * MiB, True)


def test_qcow2_backing_file(tmp_path: Path) -> None:
    base = make(tmp_path, "qcow2", name="base.qcow2")
    path = make(tmp_path, "qcow2", "16M", "-b", str(base), "-F", "qcow2", name="over.qcow2")
    found = inspect_file(path)
    assert found.format == "qcow2"
    assert not found.safe
    assert any("backing" in p for p in found.problems)
    with pytest.raises(ImageFormatError, match="backing"):
        check("qcow2", found)


def test_qcow2_backing_file_v2(tmp_path: Path) -> None:
    base = make(tmp_path, "qcow2", name="base.qcow2")
    path = make(
        tmp_path, "qcow2", "16M", "-o", "compat=0.10", "-b", str(base), "-F", "qcow2", name="o.qcow2"
    )
    with pytest.raises(ImageFormatError):
        check("qcow2", inspect_file(path))


def test_qcow2_external_data_file(tmp_path: Path) -> None:
    path = make(tmp_path, "qcow2", "16M", "-o", f"data_file={tmp_path / 'ext.raw'}")
    found = inspect_file(path)
    assert found.format == "qcow2"
    assert any("data file" in p for p in found.problems), found.problems
    with pytest.raises(ImageFormatError):
        check("qcow2", found)


def test_qcow2_data_file_extension_without_flag(tmp_path: Path) -> None:
    """The data-file header extension alone is refused, even with the flag cleared."""
    path = make(tmp_path, "qcow2", "16M", "-o", f"data_file={tmp_path / 'ext.raw'}")
    data = bytearray(path.read_bytes())
    incompat = struct.unpack(">Q", data[72:80])[0]
    data[72:80] = struct.pack(">Q", incompat & ~formats.QCOW2_INCOMPAT_DATA_FILE)
    found = inspect_bytes(bytes(data))
    assert not found.safe
    assert any("data file" in p for p in found.problems)


def test_qcow2_unknown_incompatible_feature(tmp_path: Path) -> None:
    data = bytearray(make(tmp_path, "qcow2").read_bytes())
    data[72:80] = struct.pack(">Q", 1 << 40)
    assert not inspect_bytes(bytes(data)).safe


def test_qcow2_encrypted(tmp_path: Path) -> None:
    data = bytearray(make(tmp_path, "qcow2").read_bytes())
    data[32:36] = struct.pack(">I", 1)
    assert not inspect_bytes(bytes(data)).safe


@pytest.mark.parametrize(("offset", "what"), [(40, "L1"), (48, "refcount"), (64, "snapshot")])
def test_qcow2_tables_past_the_end(tmp_path: Path, offset: int, what: str) -> None:
    data = bytearray(make(tmp_path, "qcow2").read_bytes())
    data[offset : offset + 8] = struct.pack(">Q", len(data) + 65536)
    found = inspect_bytes(bytes(data))
    assert not found.safe
    assert any(what in p for p in found.problems), found.problems


def test_qcow2_bad_version_and_cluster_bits(tmp_path: Path) -> None:
    data = bytearray(make(tmp_path, "qcow2").read_bytes())
    bad_version = bytearray(data)
    bad_version[4:8] = struct.pack(">I", 9)
    assert not inspect_bytes(bytes(bad_version)).safe
    bad_cluster = bytearray(data)
    bad_cluster[20:24] = struct.pack(">I", 40)
    assert not inspect_bytes(bytes(bad_cluster)).safe


@pytest.mark.parametrize("length", [4, 50, 71, 80])
def test_qcow2_truncated_header(tmp_path: Path, length: int) -> None:
    data = make(tmp_path, "qcow2").read_bytes()[:length]
    found = inspect(data, data[-512:], len(data))
    assert found.format == "qcow2"
    assert not found.safe


def test_qcow2_declared_raw_and_raw_declared_qcow2(tmp_path: Path) -> None:
    with pytest.raises(ImageFormatError, match="qcow2"):
        check("raw", inspect_file(make(tmp_path, "qcow2")))
    with pytest.raises(ImageFormatError):
        check("qcow2", inspect_bytes(b"\x01\x02" * 40000))


# -- vmdk ----------------------------------------------------------------------------------


@pytest.mark.parametrize("subformat", ["monolithicSparse", "streamOptimized"])
def test_vmdk_single_file(tmp_path: Path, subformat: str) -> None:
    path = make(tmp_path, "vmdk", "16M", "-o", f"subformat={subformat}")
    found = inspect_file(path)
    assert found.format == "vmdk"
    assert found.virtual_size == 16 * MiB == qemu_virtual_size(path)
    assert found.safe, found.problems
    check("vmdk", found)


def test_vmdk_monolithic_flat_descriptor(tmp_path: Path) -> None:
    path = make(tmp_path, "vmdk", "16M", "-o", "subformat=monolithicFlat")
    assert path.read_bytes().startswith(b"# Disk DescriptorFile")
    found = inspect_file(path)
    assert found.format == "vmdk"
    assert not found.safe
    with pytest.raises(ImageFormatError):
        check("vmdk", found)
    with pytest.raises(ImageFormatError):
        check("raw", found)


@pytest.mark.parametrize("subformat", ["twoGbMaxExtentSparse", "twoGbMaxExtentFlat"])
def test_vmdk_split_descriptor(tmp_path: Path, subformat: str) -> None:
    path = make(tmp_path, "vmdk", "16M", "-o", f"subformat={subformat}")
    assert not inspect_file(path).safe


def _sparse_vmdk_with_descriptor(tmp_path: Path, replace: bytes, by: bytes) -> bytes:
    data = bytearray(make(tmp_path, "vmdk").read_bytes())
    desc_offset, desc_size = struct.unpack("<QQ", data[28:44])
    start, end = desc_offset * 512, (desc_offset + desc_size) * 512
    text = bytes(data[start:end])
    assert replace in text
    new = text.replace(replace, by, 1)
    new = new[: end - start].ljust(end - start, b"\0")
    data[start:end] = new
    return bytes(data)


def test_vmdk_sparse_header_with_flat_extent(tmp_path: Path) -> None:
    data = _sparse_vmdk_with_descriptor(tmp_path, b"SPARSE", b"FLAT")
    found = inspect_bytes(data)
    assert found.format == "vmdk"
    assert not found.safe


def test_vmdk_sparse_header_with_other_create_type(tmp_path: Path) -> None:
    data = _sparse_vmdk_with_descriptor(tmp_path, b'"monolithicSparse"', b'"vmfs"')
    assert not inspect_bytes(data).safe


def test_vmdk_descriptor_past_the_end(tmp_path: Path) -> None:
    data = bytearray(make(tmp_path, "vmdk").read_bytes())
    data[28:36] = struct.pack("<Q", len(data) // 512 + 100)
    found = inspect_bytes(bytes(data))
    assert not found.safe
    assert any("beyond" in p for p in found.problems)


def test_vmdk_descriptor_beyond_inspected_head() -> None:
    """A descriptor further than the first MiB cannot be checked: refused."""
    size = 4 * MiB
    header = bytearray(512)
    header[0:4] = formats.VMDK_MAGIC
    header[4:8] = struct.pack("<I", 1)
    header[12:44] = struct.pack("<QQQQ", 8192, 128, (2 * MiB) // 512, 1)
    data = bytes(header) + b"\0" * (size - 512)
    assert not inspect_bytes(data).safe


# -- vhd / vhdx / vdi ---------------------------------------------------------------------------


def test_vhd_dynamic(tmp_path: Path) -> None:
    path = make(tmp_path, "vpc")
    data = path.read_bytes()
    assert data.startswith(b"conectix")
    found = inspect_bytes(data)
    assert found.format == "vhd"
    assert found.virtual_size == struct.unpack(">Q", data[48:56])[0]
    assert found.virtual_size == qemu_virtual_size(path)
    assert found.safe
    check("vhd", found)


def test_vhd_fixed_found_by_footer(tmp_path: Path) -> None:
    path = make(tmp_path, "vpc", "8M", "-o", "subformat=fixed")
    data = path.read_bytes()
    assert not data.startswith(b"conectix") and data[-512:].startswith(b"conectix")
    found = inspect_bytes(data)
    assert found.format == "vhd"
    assert found.virtual_size == struct.unpack(">Q", data[-512 + 48 : -512 + 56])[0]
    check("vhd", found)
    with pytest.raises(ImageFormatError):
        check("raw", found)


def test_vhd_differencing(tmp_path: Path) -> None:
    data = bytearray(make(tmp_path, "vpc").read_bytes())
    data[60:64] = struct.pack(">I", 4)
    found = inspect_bytes(bytes(data))
    assert not found.safe
    assert any("differencing" in p for p in found.problems)


def test_vhd_unknown_type(tmp_path: Path) -> None:
    data = bytearray(make(tmp_path, "vpc").read_bytes())
    data[60:64] = struct.pack(">I", 7)
    assert not inspect_bytes(bytes(data)).safe


def test_vhdx(tmp_path: Path) -> None:
    path = make(tmp_path, "vhdx")
    found = inspect_file(path)
    assert found.format == "vhdx"
    assert found.safe
    check("vhdx", found)
    with pytest.raises(ImageFormatError):
        check("vhd", found)


def test_vhdx_virtual_size(tmp_path: Path) -> None:
    """Glance reports a VHDX's virtual size (from its metadata region)."""
    path = make(tmp_path, "vhdx", "16M")
    assert inspect_file(path).virtual_size == 16 * MiB == qemu_virtual_size(path)


def test_vdi(tmp_path: Path) -> None:
    path = make(tmp_path, "vdi")
    found = inspect_file(path)
    assert found.format == "vdi"
    assert found.virtual_size == 16 * MiB == qemu_virtual_size(path)
    assert found.safe
    check("vdi", found)
    with pytest.raises(ImageFormatError):
        check("qcow2", found)


def test_vdi_truncated() -> None:
    head = bytearray(100)
    head[64:68] = struct.pack("<I", formats.VDI_SIGNATURE)
    found = inspect(bytes(head), bytes(head), len(head))
    assert found.format == "vdi"
    assert not found.safe


# -- raw, iso ---------------------------------------------------------------------------------------


def test_raw(tmp_path: Path) -> None:
    path = make(tmp_path, "raw", "2M")
    found = inspect_file(path)
    assert (found.format, found.virtual_size, found.safe) == ("raw", 2 * MiB, True)
    for declared in ("raw", "ami", "ari", "aki", "ploop"):
        check(declared, found)
    for declared in ("qcow2", "vmdk", "vhd", "vhdx", "vdi", "iso"):
        with pytest.raises(ImageFormatError):
            check(declared, found)


def test_empty_data_is_raw() -> None:
    found = inspect(b"", b"", 0)
    assert (found.format, found.virtual_size) == ("raw", 0)


def _iso_bytes() -> bytes:
    """A minimal ISO 9660 image: 16 empty sectors, then a primary volume descriptor."""
    data = bytearray(20 * 2048)
    pvd = 16 * 2048
    data[pvd] = 1
    data[pvd + 1 : pvd + 6] = b"CD001"
    data[pvd + 6] = 1
    # The volume descriptor set terminator follows.
    data[pvd + 2048 : pvd + 2048 + 6] = b"\xffCD001"
    return bytes(data)


def test_iso_handmade() -> None:
    data = _iso_bytes()
    found = inspect_bytes(data)
    assert found.format == "iso"
    assert found.virtual_size == len(data)
    check("iso", found)
    check("raw", found)  # an ISO may be declared raw, as Glance allows


def test_iso_genisoimage(tmp_path: Path) -> None:
    tool = shutil.which("genisoimage") or shutil.which("mkisofs") or shutil.which("xorrisofs")
    if tool is None:
        pytest.skip("no genisoimage/mkisofs/xorrisofs")
    src = tmp_path / "src"
    src.mkdir()
    (src / "hello.txt").write_text("hello")
    iso = tmp_path / "x.iso"
    subprocess.run([tool, "-quiet", "-o", str(iso), str(src)], check=True, capture_output=True)
    found = inspect_file(iso)
    assert found.format == "iso"
    check("iso", found)


def test_iso_containing_qcow2_at_start_is_refused(tmp_path: Path) -> None:
    """Data that is both an ISO and a qcow2 is judged by its qcow2 header."""
    qcow = bytearray(make(tmp_path, "qcow2", "16M", "-b", str(make(tmp_path, "qcow2", name="b.qcow2")), "-F", "qcow2").read_bytes())
    data = bytearray(_iso_bytes())
    data[: len(qcow[:4096])] = qcow[:4096]
    with pytest.raises(ImageFormatError):
        check("iso", inspect_bytes(bytes(data)))


# -- handcrafted, hostile --------------------------------------------------------------------------------


def test_magic_only_headers_are_not_safe() -> None:
    for magic in (formats.QCOW2_MAGIC, formats.VMDK_MAGIC):
        data = magic + b"\0" * 8
        found = inspect(data, data, len(data))
        assert not found.safe, magic


def test_qcow2_header_in_huge_claimed_image() -> None:
    """A tiny qcow2 header claiming tables in a file it does not have."""
    header = bytearray(512)
    header[0:4] = formats.QCOW2_MAGIC
    struct.pack_into(">I", header, 4, 2)
    struct.pack_into(">I", header, 20, 16)  # cluster bits
    struct.pack_into(">Q", header, 24, 1 << 40)  # virtual size
    struct.pack_into(">I", header, 36, 1)  # l1 size
    struct.pack_into(">Q", header, 40, 1 << 30)  # l1 offset: far away
    struct.pack_into(">Q", header, 48, 65536)  # refcount table offset
    found = inspect(bytes(header), bytes(header), len(header))
    assert not found.safe


def test_qcow2_extension_loop_terminates(tmp_path: Path) -> None:
    """Header extensions with huge lengths do not hang or crash the parser."""
    data = bytearray(make(tmp_path, "qcow2").read_bytes())
    header_length = struct.unpack(">I", data[100:104])[0]
    struct.pack_into(">II", data, header_length, 0x12345678, 0xFFFFFFF0)
    found = inspect_bytes(bytes(data))
    assert found.format == "qcow2"


def test_vhd_footer_in_raw_tail_is_vhd(tmp_path: Path) -> None:
    """Raw data ending with a differencing VHD footer is refused, not taken as raw."""
    footer = bytearray(make(tmp_path, "vpc").read_bytes()[:512])
    footer[60:64] = struct.pack(">I", 4)
    data = b"\0" * 4096 + bytes(footer)
    with pytest.raises(ImageFormatError):
        check("raw", inspect_bytes(data))


def test_head_bytes_bound(tmp_path: Path) -> None:
    """Only the first megabyte is needed: a 1 MiB head gives the same verdict."""
    src = tmp_path / "src.raw"
    src.write_bytes(b"\x11" * (5 * MiB))
    path = tmp_path / "big.qcow2"
    qemu_img("convert", "-f", "raw", "-O", "qcow2", str(src), str(path))
    data = path.read_bytes()
    assert len(data) > formats.HEAD_BYTES
    found = inspect(data[: formats.HEAD_BYTES], data[-512:], len(data))
    assert (found.format, found.virtual_size, found.safe) == ("qcow2", 5 * MiB, True)
