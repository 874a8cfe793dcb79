"""Domain XML for the libvirt driver, built from a ``GuestSpec`` and the
hypervisor ("virt type") the connection URI names.

One builder serves every libvirt hypervisor; what differs between them is
small and kept in ``VIRT_TYPES``: the domain ``type``, how the OS boots, the
disk bus and how the guest is networked.  Only ``qemu`` (TCG) is exercised
for real on the machines Stratus is developed on; the others are built to
libvirt's documented schema and unit-tested as XML.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from stratus.compute.drivers.base import Capability, GuestSpec

NAME_PREFIX = "stratus-"
METADATA_NS = "https://stratus.dev/xmlns/libvirt/instance/1.0"
METADATA_KEY = "stratus"
QEMU_NS = "http://libvirt.org/schemas/domain/qemu/1.0"
# The MAC the config drive's network_data names for eth0.
GUEST_MAC = "52:54:00:12:34:56"
# The PCI slot of the user-mode NIC given to QEMU directly (with port forwards).
NIC_SLOT = "0x10"

ET.register_namespace("qemu", QEMU_NS)
ET.register_namespace(METADATA_KEY, METADATA_NS)


@dataclass(frozen=True)
class VirtType:
    """What a libvirt hypervisor needs in its domain XML, and what the driver
    can do with it."""

    name: str  # the domain's type attribute
    label: str  # for people: the support matrix, host_info
    hypervisor_type: str  # Nova's hypervisor_type
    os_type: str  # "hvm" or "exe" (containers)
    disk_bus: str  # "virtio", "xen", "scsi", "ide", ""  ("" : a filesystem, not a disk)
    capabilities: frozenset[Capability]
    tested: bool = False  # exercised for real by Stratus's e2e tests


_QEMU_CAPS = frozenset(
    {Capability.PAUSE, Capability.SUSPEND, Capability.SNAPSHOT, Capability.CONSOLE_LOG}
)

VIRT_TYPES: dict[str, VirtType] = {
    # TCG: software emulation, works everywhere (the default for qemu:// URIs).
    "qemu": VirtType("qemu", "QEMU (TCG)", "QEMU", "hvm", "virtio", _QEMU_CAPS, tested=True),
    "kvm": VirtType("kvm", "KVM", "QEMU", "hvm", "virtio", _QEMU_CAPS),
    # Xen HVM through libxl: pause and managed save, a file serial console;
    # libxl has no backup job, so no live snapshot.
    "xen": VirtType(
        "xen",
        "Xen (HVM)",
        "Xen",
        "hvm",
        "xen",
        frozenset({Capability.PAUSE, Capability.SUSPEND, Capability.CONSOLE_LOG}),
    ),
    # A container whose root filesystem is the guest's disk image (through
    # qemu-nbd): the freezer pauses it; no saved state, no serial log file.
    "lxc": VirtType("lxc", "LXC", "LXC", "exe", "", frozenset({Capability.PAUSE})),
    "vmware": VirtType(
        "vmware", "VMware ESX", "VMware", "hvm", "scsi", frozenset({Capability.PAUSE})
    ),
    "hyperv": VirtType(
        "hyperv",
        "Microsoft Hyper-V",
        "Hyper-V",
        "hvm",
        "ide",
        frozenset({Capability.PAUSE, Capability.SUSPEND}),
    ),
    # libvirt's in-memory test hypervisor (test:///default): unit tests only.
    "test": VirtType(
        "test",
        "libvirt test driver",
        "QEMU",
        "hvm",
        "virtio",
        frozenset({Capability.PAUSE, Capability.SUSPEND, Capability.CONSOLE_LOG}),
    ),
}

# The URI scheme's driver part (before any "+transport") -> virt type.
_URI_DRIVERS = {
    "qemu": "qemu",
    "xen": "xen",
    "libxl": "xen",
    "lxc": "lxc",
    "esx": "vmware",
    "gsx": "vmware",
    "vpx": "vmware",
    "hyperv": "hyperv",
    "test": "test",
}


class XMLError(ValueError):
    """The configuration names a hypervisor the driver cannot build XML for."""


def virt_type_for(uri: str, configured: str = "") -> VirtType:
    """The virt type: the configured one, else the one the URI's driver
    implies (``qemu://`` means TCG, the safe choice; set ``kvm`` to use it)."""
    name = configured
    if not name:
        scheme = urlsplit(uri).scheme.split("+", 1)[0]
        name = _URI_DRIVERS.get(scheme, "")
        if not name:
            known = ", ".join(sorted(_URI_DRIVERS))
            raise XMLError(f"cannot tell the hypervisor of libvirt URI {uri!r} (known: {known})")
    try:
        return VIRT_TYPES[name]
    except KeyError:
        known = ", ".join(sorted(VIRT_TYPES))
        raise XMLError(f"unknown libvirt virt type {name!r} (known: {known})") from None


def domain_name(uuid: str) -> str:
    return NAME_PREFIX + uuid


def disk_path(directory: Path) -> Path:
    return directory / "disk.qcow2"


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrib: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attrib)
    if text is not None:
        element.text = text
    return element


def domain_xml(spec: GuestSpec, virt: VirtType, *, run_as: tuple[int, int] | None = None) -> str:
    """The persistent definition of one guest.

    ``run_as`` (uid, gid): run the guest's process as this user and tell
    libvirt never to relabel (chown) its files, so the shared read-only base
    image and the guest folder keep their owner."""
    root = ET.Element("domain", type=virt.name)
    _sub(root, "name", domain_name(spec.uuid))
    _sub(root, "uuid", spec.uuid)
    _sub(root, "title", spec.name)
    metadata = _sub(root, "metadata")
    instance = _sub(metadata, f"{{{METADATA_NS}}}instance")
    _sub(instance, f"{{{METADATA_NS}}}name", spec.name)
    _sub(instance, f"{{{METADATA_NS}}}directory", str(spec.directory))
    _sub(root, "memory", str(spec.memory_mb), unit="MiB")
    _sub(root, "vcpu", str(spec.vcpus))
    _os(root, virt)
    features = _sub(root, "features")
    if virt.os_type == "hvm":
        _sub(features, "acpi")  # ACPI shutdown needs it
        _sub(features, "apic")
    _sub(root, "on_poweroff", "destroy")
    _sub(root, "on_reboot", "restart")
    _sub(root, "on_crash", "destroy")
    devices = _sub(root, "devices")
    _disks(devices, spec, virt)
    _network(root, devices, spec, virt)
    _console(devices, spec, virt)
    if run_as is not None and virt.name in ("qemu", "kvm"):
        uid, gid = run_as
        label = _sub(root, "seclabel", type="static", model="dac", relabel="no")
        _sub(label, "label", f"+{uid}:+{gid}")
    ET.indent(root)
    return ET.tostring(root, encoding="unicode")


def _os(root: ET.Element, virt: VirtType) -> None:
    os_ = _sub(root, "os")
    if virt.os_type == "exe":
        _sub(os_, "type", "exe")
        _sub(os_, "init", "/init")
        return
    machine = {"qemu": "pc", "kvm": "pc", "xen": "xenfv"}.get(virt.name)
    attrs = {"arch": "x86_64"}
    if machine:
        attrs["machine"] = machine
    _sub(os_, "type", "hvm", **attrs)
    if virt.name == "xen":
        _sub(os_, "loader", "/usr/lib/xen/boot/hvmloader")
    _sub(os_, "boot", dev="hd")


def _disks(devices: ET.Element, spec: GuestSpec, virt: VirtType) -> None:
    disk = disk_path(spec.directory)
    if not virt.disk_bus:  # a container: the disk image is its root filesystem
        fs = _sub(devices, "filesystem", type="file", accessmode="passthrough")
        _sub(fs, "driver", type="nbd", format="qcow2")
        _sub(fs, "source", file=str(disk))
        _sub(fs, "target", dir="/")
        return
    root_disk = _sub(devices, "disk", type="file", device="disk")
    if virt.name in ("qemu", "kvm", "xen", "test"):
        _sub(root_disk, "driver", name="qemu", type="qcow2", cache="none")
    _sub(root_disk, "source", file=str(disk))
    target = {"virtio": "vda", "xen": "xvda", "scsi": "sda", "ide": "hda"}[virt.disk_bus]
    _sub(root_disk, "target", dev=target, bus=virt.disk_bus)
    if spec.config_drive is not None:
        cdrom = _sub(devices, "disk", type="file", device="cdrom")
        if virt.name in ("qemu", "kvm", "xen", "test"):
            _sub(cdrom, "driver", name="qemu", type="raw")
        _sub(cdrom, "source", file=str(spec.config_drive))
        _sub(cdrom, "target", dev="hdc", bus="ide")
        _sub(cdrom, "readonly")


def _network(root: ET.Element, devices: ET.Element, spec: GuestSpec, virt: VirtType) -> None:
    if spec.nics is not None and virt.name in ("qemu", "kvm", "test"):
        # The network service's ports: each an existing tap (made by the
        # network agent, managed='no': libvirt neither creates nor deletes it).
        for port in spec.nics:
            nic = _sub(devices, "interface", type="ethernet")
            _sub(nic, "mac", address=port.mac)
            _sub(nic, "target", dev=port.tap, managed="no")
            _sub(nic, "model", type="virtio")
        return
    if virt.name not in ("qemu", "kvm", "test"):
        # Other hypervisors have no user-mode networking: the host's default
        # libvirt network.  Port forwards are a user-mode feature.
        nic = _sub(devices, "interface", type="network")
        _sub(nic, "mac", address=GUEST_MAC)
        _sub(nic, "source", network="default")
        return
    if not spec.forwards:
        nic = _sub(devices, "interface", type="user")
        _sub(nic, "mac", address=GUEST_MAC)
        _sub(nic, "model", type="virtio")
        return
    # libvirt's <interface type='user'> cannot forward host ports (except with
    # the passt backend, not installed by default): hand QEMU its user-mode
    # netdev with hostfwd rules directly.
    netdev = "user,id=stratus-net0"
    for fwd in spec.forwards:
        netdev += f",hostfwd=tcp:{fwd.host_address}:{fwd.host_port}-:{fwd.guest_port}"
    # QEMU sees these arguments before libvirt's own devices, which libvirt
    # places from PCI slot 2 upwards: the NIC takes a slot of its own.
    commandline = _sub(root, f"{{{QEMU_NS}}}commandline")
    device = f"virtio-net-pci,netdev=stratus-net0,mac={GUEST_MAC},addr={NIC_SLOT}"
    args = ["-netdev", netdev, "-device", device]
    for value in args:
        _sub(commandline, f"{{{QEMU_NS}}}arg", value=value)


def _console(devices: ET.Element, spec: GuestSpec, virt: VirtType) -> None:
    if Capability.CONSOLE_LOG not in virt.capabilities:
        _sub(devices, "console", type="pty")
        return
    serial = _sub(devices, "serial", type="file")
    _sub(serial, "source", path=str(spec.console_log), append="on")
    _sub(serial, "target", port="0")


def metadata_directory(xml: str) -> Path | None:
    """The guest folder recorded in a domain's Stratus metadata element
    (libvirt hands the element back without its namespace prefix)."""
    try:
        element = ET.fromstring(xml)
    except ET.ParseError:
        return None
    for path in ("directory", f"{{{METADATA_NS}}}directory", f".//{{{METADATA_NS}}}directory"):
        found = element.find(path)
        if found is not None and found.text:
            return Path(found.text)
    return None


def current_identity() -> tuple[int, int]:
    return os.getuid(), os.getgid()
