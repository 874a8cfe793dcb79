"""Disk image format inspection, from headers only.

Uploads are checked against their declared ``disk_format`` without running
any tool on the data: the inspector reads the first 4 MiB and the last 512
bytes of the data (kept while it streams past) and parses the headers itself.
It refuses images that point outside themselves, the class of attacks
OpenStack fixed in 2024: a qcow2 with a backing file or an external data file,
a VMDK whose extents are other files, a differencing VHD, and any header
whose tables lie beyond the end of the data.
"""

from __future__ import annotations

import re
import struct
import uuid
from dataclasses import dataclass, field

HEAD_BYTES = 4 << 20  # enough for VHDX metadata, which qemu-img puts at 2 MiB
TAIL_BYTES = 512
SECTOR = 512

DISK_FORMATS = ("ami", "ari", "aki", "vhd", "vhdx", "vmdk", "raw", "qcow2", "vdi", "iso", "ploop")
CONTAINER_FORMATS = ("ami", "ari", "aki", "bare", "ovf", "ova", "docker", "compressed")
# Declared formats whose data is a plain byte stream.
RAW_LIKE = ("raw", "ami", "ari", "aki")

QCOW2_MAGIC = b"QFI\xfb"
QCOW2_INCOMPAT_DIRTY, QCOW2_INCOMPAT_CORRUPT, QCOW2_INCOMPAT_DATA_FILE = 1, 2, 4
QCOW2_INCOMPAT_COMPRESSION, QCOW2_INCOMPAT_EXTL2 = 8, 16
QCOW2_KNOWN_INCOMPAT = (
    QCOW2_INCOMPAT_DIRTY
    | QCOW2_INCOMPAT_CORRUPT
    | QCOW2_INCOMPAT_DATA_FILE
    | QCOW2_INCOMPAT_COMPRESSION
    | QCOW2_INCOMPAT_EXTL2
)
QCOW2_EXT_DATA_FILE = 0x44415441
QCOW2_EXT_BACKING_FORMAT = 0xE2792ACA
VMDK_MAGIC = b"KDMV"
VHD_COOKIE = b"conectix"
VHDX_SIGNATURE = b"vhdxfile"
VDI_SIGNATURE = 0xBEDA107F
ISO_OFFSET = 0x8001


@dataclass
class Inspection:
    format: str  # what the data is: qcow2, vmdk, vhd, vhdx, vdi, iso, raw
    virtual_size: int | None
    problems: list[str] = field(default_factory=list)

    @property
    def safe(self) -> bool:
        return not self.problems


class ImageFormatError(ValueError):
    """The data is not what it claims, or is unsafe."""


def _qcow2(head: bytes, size: int) -> Inspection:
    problems: list[str] = []
    if len(head) < 72:
        return Inspection("qcow2", None, ["the qcow2 header is truncated"])
    (
        version,
        backing_offset,
        backing_size,
        cluster_bits,
        vsize,
        crypt,
        l1_size,
        l1_offset,
        rc_offset,
        _rc_clusters,
        _nb_snap,
        snap_offset,
    ) = struct.unpack(">IQIIQIIQQIIQ", head[4:72])
    if version not in (2, 3):
        problems.append(f"unknown qcow2 version {version}")
    if backing_offset or backing_size:
        problems.append("the qcow2 image has a backing file")
    if not 9 <= cluster_bits <= 21:
        problems.append("the qcow2 cluster size is invalid")
    for name, offset in (
        ("L1 table", l1_offset),
        ("refcount table", rc_offset),
        ("snapshot table", snap_offset),
    ):
        if offset and offset >= size:
            problems.append(f"the qcow2 {name} lies beyond the end of the data")
    header_length = 72
    if version == 3:
        if len(head) < 104:
            problems.append("the qcow2 v3 header is truncated")
        else:
            incompat, _compat, _autoclear, _refcount_order, header_length = struct.unpack(
                ">QQQII", head[72:104]
            )
            if incompat & QCOW2_INCOMPAT_DATA_FILE:
                problems.append("the qcow2 image has an external data file")
            if incompat & ~QCOW2_KNOWN_INCOMPAT:
                problems.append("the qcow2 image uses unknown incompatible features")
    # Header extensions follow the header, up to the first cluster.
    pos = header_length
    cluster = 1 << cluster_bits if 9 <= cluster_bits <= 21 else 65536
    while pos + 8 <= min(len(head), cluster):
        ext_type, ext_len = struct.unpack(">II", head[pos : pos + 8])
        if ext_type == 0:
            break
        if ext_type == QCOW2_EXT_DATA_FILE:
            problems.append("the qcow2 image names an external data file")
        pos += 8 + ((ext_len + 7) & ~7)
    if crypt:
        problems.append("the qcow2 image is encrypted")
    del l1_size
    return Inspection("qcow2", vsize, problems)


_VMDK_EXTENT = re.compile(rb'^\s*(RW|RDONLY|NOACCESS)\s+\d+\s+(\w+)\s*(?:"([^"]*)")?', re.MULTILINE)


def _vmdk_descriptor(text: bytes) -> list[str]:
    problems = []
    match = re.search(rb'createType\s*=\s*"([^"]+)"', text)
    create_type = match.group(1).decode(errors="replace") if match else ""
    if create_type not in ("monolithicSparse", "streamOptimized"):
        problems.append(f"VMDK create type {create_type or '(none)'} keeps data in other files")
    for extent in _VMDK_EXTENT.finditer(text):
        kind = extent.group(2).decode(errors="replace")
        if kind not in ("SPARSE",):
            problems.append(f"the VMDK has a {kind} extent in another file")
    if re.search(rb"parentFileNameHint", text):
        problems.append("the VMDK has a parent disk")
    return problems


def _vmdk(head: bytes, size: int) -> Inspection:
    if len(head) < 64:
        return Inspection("vmdk", None, ["the VMDK header is truncated"])
    capacity, _grain, desc_offset, desc_size = struct.unpack("<QQQQ", head[12:44])
    problems: list[str] = []
    if desc_offset:
        start, end = desc_offset * SECTOR, (desc_offset + desc_size) * SECTOR
        if end > size:
            problems.append("the VMDK descriptor lies beyond the end of the data")
        elif end <= len(head):
            problems += _vmdk_descriptor(head[start:end])
        else:
            problems.append("the VMDK descriptor is too far into the file to be checked")
    return Inspection("vmdk", capacity * SECTOR, problems)


def _vhd(footer: bytes) -> Inspection:
    current_size = struct.unpack(">Q", footer[48:56])[0]
    disk_type = struct.unpack(">I", footer[60:64])[0]
    problems = []
    if disk_type == 4:
        problems.append("the VHD is a differencing disk with a parent")
    elif disk_type not in (2, 3):
        problems.append(f"unknown VHD disk type {disk_type}")
    return Inspection("vhd", current_size, problems)


VHDX_REGION_TABLE = 192 * 1024
VHDX_METADATA_REGION = uuid.UUID("8B7CA206-4790-4B9A-B8FE-575F050F886E").bytes_le
VHDX_VIRTUAL_DISK_SIZE = uuid.UUID("2FA54224-CD1B-4876-B211-5DBED83BF4B8").bytes_le
VHDX_PARENT_LOCATOR = uuid.UUID("A8D35F2D-B30B-454D-ABF7-D3D84834AB0C").bytes_le


def _vhdx(head: bytes, size: int) -> Inspection:
    """Find the virtual size in the metadata region named by the region table."""
    table = head[VHDX_REGION_TABLE : VHDX_REGION_TABLE + 64 * 1024]
    if len(table) < 16 or table[:4] != b"regi":
        return Inspection("vhdx", None, ["the VHDX region table is missing"])
    count = struct.unpack("<I", table[8:12])[0]
    meta_offset = meta_length = None
    for i in range(min(count, 2047)):
        entry = table[16 + 32 * i : 48 + 32 * i]
        if len(entry) < 32:
            break
        if entry[:16] == VHDX_METADATA_REGION:
            meta_offset, meta_length = struct.unpack("<QI", entry[16:28])
    if meta_offset is None:
        return Inspection("vhdx", None, ["the VHDX has no metadata region"])
    if meta_offset + (meta_length or 0) > size:
        return Inspection("vhdx", None, ["the VHDX metadata lies beyond the end of the data"])
    meta = head[meta_offset : meta_offset + (meta_length or 0)]
    if len(meta) < 32 or meta[:8] != b"metadata":
        # Too far into the file to read from the kept head: size unknown.
        return Inspection("vhdx", None)
    entries = struct.unpack("<H", meta[10:12])[0]
    virtual_size = None
    problems = []
    for i in range(min(entries, 2047)):
        entry = meta[32 + 32 * i : 64 + 32 * i]
        if len(entry) < 32:
            break
        item, offset = entry[:16], struct.unpack("<I", entry[16:20])[0]
        if item == VHDX_PARENT_LOCATOR:
            problems.append("the VHDX is a differencing disk with a parent")
        if item == VHDX_VIRTUAL_DISK_SIZE and offset + 8 <= len(meta):
            virtual_size = struct.unpack("<Q", meta[offset : offset + 8])[0]
    return Inspection("vhdx", virtual_size, problems)


def _vdi(head: bytes) -> Inspection:
    if len(head) < 376:
        return Inspection("vdi", None, ["the VDI header is truncated"])
    return Inspection("vdi", struct.unpack("<Q", head[368:376])[0])


def inspect(head: bytes, tail: bytes, size: int) -> Inspection:
    """What the data is, from its first bytes (up to HEAD_BYTES) and its last
    TAIL_BYTES bytes, and its total size."""
    if head.startswith(QCOW2_MAGIC):
        return _qcow2(head, size)
    if head.startswith(VMDK_MAGIC):
        return _vmdk(head, size)
    if head.startswith(b"# Disk DescriptorFile"):
        return Inspection("vmdk", None, ["a VMDK descriptor file keeps its data in other files"])
    if head.startswith(VHDX_SIGNATURE):
        return _vhdx(head, size)
    if head.startswith(VHD_COOKIE) and len(head) >= 512:
        return _vhd(head[:512])
    if tail.startswith(VHD_COOKIE) and len(tail) >= 512:
        return _vhd(tail[:512])
    if len(head) >= 68 and struct.unpack("<I", head[64:68])[0] == VDI_SIGNATURE:
        return _vdi(head)
    if head[ISO_OFFSET : ISO_OFFSET + 5] == b"CD001":
        return Inspection("iso", size)
    return Inspection("raw", size)


def check(declared: str, found: Inspection, *, match: bool = True) -> None:
    """Refuse data that is unsafe or (with ``match``) is not the declared disk format."""
    if not found.safe:
        raise ImageFormatError("The image is unsafe: " + "; ".join(found.problems) + ".")
    if not match:
        return
    if declared in RAW_LIKE:
        ok = found.format in ("raw", "iso")
    elif declared == "ploop":
        ok = found.format == "raw"
    else:
        ok = found.format == declared
    if not ok:
        raise ImageFormatError(
            f"The data is {found.format}, not the declared disk_format {declared}."
        )
