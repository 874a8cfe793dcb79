"""The libvirt driver against libvirt's in-memory ``test:///default``
hypervisor (each connection has its own state), and its domain XML."""

from __future__ import annotations

import shutil
import subprocess
import uuid as uuidlib
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from stratus.compute.drivers.base import Capability, DriverError, GuestSpec, Nic, PortForward, Power
from stratus.compute.drivers.libvirt_xml import (
    GUEST_MAC,
    METADATA_NS,
    QEMU_NS,
    VIRT_TYPES,
    XMLError,
    domain_xml,
    metadata_directory,
    virt_type_for,
)

libvirt = pytest.importorskip("libvirt")
from stratus.compute.drivers.libvirt import LibvirtDriver  # noqa: E402
from stratus.compute.drivers.libvirt_facts import power_from_state  # noqa: E402

needs_qemu_img = pytest.mark.skipif(shutil.which("qemu-img") is None, reason="needs qemu-img")


def make_spec(tmp_path: Path, **changes: object) -> GuestSpec:
    uuid = str(uuidlib.uuid4())
    values: dict[str, object] = dict(
        uuid=uuid,
        name="vm1",
        vcpus=2,
        memory_mb=256,
        root_gb=1,
        base_image=tmp_path / "base.qcow2",
        base_format="qcow2",
        directory=tmp_path / "instances" / uuid,
    )
    values.update(changes)
    return GuestSpec(**values)  # type: ignore[arg-type]


@pytest.fixture
def base(tmp_path: Path) -> Path:
    if shutil.which("qemu-img") is None:
        pytest.skip("needs qemu-img")
    path = tmp_path / "base.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(path), "16M"], check=True)
    path.chmod(0o444)
    return path


@pytest.fixture
async def driver(tmp_path: Path) -> LibvirtDriver:
    drv = LibvirtDriver(tmp_path / "instances", hostname="h1", uri="test:///default")
    yield drv  # type: ignore[misc]
    await drv.close()


# -- virt types and XML ----------------------------------------------------------------


@pytest.mark.parametrize(
    "uri, expected",
    [
        ("qemu:///system", "qemu"),
        ("qemu+ssh://root@host/system", "qemu"),
        ("xen:///system", "xen"),
        ("lxc:///system", "lxc"),
        ("esx://esx1.example.org/?no_verify=1", "vmware"),
        ("hyperv://hv1.example.org", "hyperv"),
        ("test:///default", "test"),
    ],
)
def test_virt_type_from_the_uri(uri: str, expected: str) -> None:
    assert virt_type_for(uri).name == expected


def test_configured_virt_type_wins_and_bad_ones_are_refused() -> None:
    assert virt_type_for("qemu:///system", "kvm").name == "kvm"
    with pytest.raises(XMLError, match="cannot tell the hypervisor"):
        virt_type_for("bhyve:///system")
    with pytest.raises(XMLError, match="unknown libvirt virt type 'vbox'"):
        virt_type_for("qemu:///system", "vbox")


def test_bad_configuration_is_a_clear_driver_error(tmp_path: Path) -> None:
    with pytest.raises(DriverError, match="cannot tell the hypervisor of libvirt URI 'nope://x'"):
        LibvirtDriver(tmp_path, hostname="h", uri="nope://x")


def test_qemu_domain_xml(tmp_path: Path) -> None:
    spec = make_spec(tmp_path, config_drive=tmp_path / "config.iso")
    root = ET.fromstring(domain_xml(spec, VIRT_TYPES["qemu"], run_as=(0, 0)))
    assert root.get("type") == "qemu"  # TCG
    assert root.findtext("name") == f"stratus-{spec.uuid}"
    assert root.findtext("uuid") == spec.uuid
    assert root.findtext("title") == "vm1"
    assert root.findtext("vcpu") == "2"
    memory = root.find("memory")
    assert memory is not None and (memory.text, memory.get("unit")) == ("256", "MiB")
    assert root.find("os/type").get("machine") == "pc"  # type: ignore[union-attr]
    assert root.find("features/acpi") is not None  # ACPI shutdown needs it
    assert metadata_directory(ET.tostring(root, encoding="unicode")) == spec.directory
    assert root.find(f"metadata/{{{METADATA_NS}}}instance") is not None
    disks = root.findall("devices/disk")
    assert [d.get("device") for d in disks] == ["disk", "cdrom"]
    assert disks[0].find("source").get("file") == str(spec.directory / "disk.qcow2")  # type: ignore[union-attr]
    assert disks[0].find("target").get("bus") == "virtio"  # type: ignore[union-attr]
    assert disks[1].find("readonly") is not None
    assert disks[1].find("source").get("file") == str(tmp_path / "config.iso")  # type: ignore[union-attr]
    serial = root.find("devices/serial/source")
    assert serial is not None and serial.get("path") == str(spec.directory / "console.log")
    nic = root.find("devices/interface")
    assert nic is not None and nic.get("type") == "user"
    assert nic.find("mac").get("address") == GUEST_MAC  # type: ignore[union-attr]
    # Guests run as the agent's user and libvirt never chowns their files.
    label = root.find("seclabel")
    assert label is not None and (label.get("model"), label.get("relabel")) == ("dac", "no")
    assert label.findtext("label") == "+0:+0"


def test_port_forwards_go_to_qemu_user_networking(tmp_path: Path) -> None:
    spec = make_spec(tmp_path, forwards=(PortForward(2222, 22),))
    root = ET.fromstring(domain_xml(spec, VIRT_TYPES["kvm"]))
    assert root.get("type") == "kvm"
    assert root.find("devices/interface") is None
    args = [a.get("value") for a in root.findall(f"{{{QEMU_NS}}}commandline/{{{QEMU_NS}}}arg")]
    assert args[0] == "-netdev"
    assert "hostfwd=tcp:127.0.0.1:2222-:22" in str(args[1])
    assert args[2:] == ["-device", f"virtio-net-pci,netdev=stratus-net0,mac={GUEST_MAC},addr=0x10"]
    assert root.find("seclabel") is None  # not asked to: a session or remote URI


def test_ports_are_ethernet_interfaces_on_their_taps(tmp_path: Path) -> None:
    nic = Nic("11111111-2222-3333-4444-555555555555", "fa:16:3e:00:00:01", "tap11111111-22")
    spec = make_spec(tmp_path, nics=(nic,), forwards=(PortForward(2222, 22),))
    root = ET.fromstring(domain_xml(spec, VIRT_TYPES["qemu"]))
    (iface,) = root.findall("devices/interface")
    assert iface.get("type") == "ethernet"
    assert iface.find("mac").get("address") == nic.mac  # type: ignore[union-attr]
    target = iface.find("target")
    assert target is not None and target.get("dev") == nic.tap and target.get("managed") == "no"
    assert root.find(f"{{{QEMU_NS}}}commandline") is None  # no user-mode network


def test_xen_lxc_esx_hyperv_xml(tmp_path: Path) -> None:
    spec = make_spec(tmp_path, forwards=(PortForward(2222, 22),))
    xen = ET.fromstring(domain_xml(spec, VIRT_TYPES["xen"], run_as=(0, 0)))
    assert xen.get("type") == "xen"
    assert xen.findtext("os/loader") == "/usr/lib/xen/boot/hvmloader"
    assert xen.find("devices/disk/target").get("bus") == "xen"  # type: ignore[union-attr]
    assert xen.find("devices/interface").get("type") == "network"  # type: ignore[union-attr]
    assert xen.find("seclabel") is None and xen.find(f"{{{QEMU_NS}}}commandline") is None

    lxc = ET.fromstring(domain_xml(spec, VIRT_TYPES["lxc"]))
    assert lxc.findtext("os/type") == "exe"
    assert lxc.find("devices/disk") is None
    fs = lxc.find("devices/filesystem")
    assert fs is not None and fs.find("target").get("dir") == "/"  # type: ignore[union-attr]
    assert lxc.find("devices/serial") is None and lxc.find("devices/console") is not None

    esx = ET.fromstring(domain_xml(spec, VIRT_TYPES["vmware"]))
    assert esx.get("type") == "vmware"
    assert esx.find("devices/disk/target").get("bus") == "scsi"  # type: ignore[union-attr]
    hyperv = ET.fromstring(domain_xml(spec, VIRT_TYPES["hyperv"]))
    assert hyperv.get("type") == "hyperv"
    assert hyperv.find("devices/disk/target").get("bus") == "ide"  # type: ignore[union-attr]


def test_xml_escapes_names(tmp_path: Path) -> None:
    spec = make_spec(tmp_path, name="<b>&'\"")
    assert ET.fromstring(domain_xml(spec, VIRT_TYPES["qemu"])).findtext("title") == "<b>&'\""


def test_capabilities_follow_the_virt_type(tmp_path: Path) -> None:
    qemu = LibvirtDriver(tmp_path, hostname="h", uri="qemu:///system")
    assert qemu.capabilities == {
        Capability.PAUSE,
        Capability.SUSPEND,
        Capability.SNAPSHOT,
        Capability.CONSOLE_LOG,
    }
    lxc = LibvirtDriver(tmp_path, hostname="h", uri="lxc:///system")
    assert lxc.capabilities == {Capability.PAUSE}
    for virt in VIRT_TYPES.values():  # what nobody implements is never declared
        assert not virt.capabilities & {
            Capability.MIGRATE,
            Capability.LIVE_MIGRATION,
            Capability.RESCUE,
        }


def test_state_mapping() -> None:
    assert power_from_state(libvirt.VIR_DOMAIN_RUNNING) == Power.RUNNING
    assert power_from_state(libvirt.VIR_DOMAIN_BLOCKED) == Power.RUNNING
    assert power_from_state(libvirt.VIR_DOMAIN_SHUTDOWN) == Power.RUNNING
    assert power_from_state(libvirt.VIR_DOMAIN_PAUSED) == Power.PAUSED
    assert power_from_state(libvirt.VIR_DOMAIN_SHUTOFF) == Power.SHUTDOWN
    assert power_from_state(libvirt.VIR_DOMAIN_SHUTOFF, saved=True) == Power.SUSPENDED
    assert power_from_state(libvirt.VIR_DOMAIN_CRASHED) == Power.CRASHED
    assert power_from_state(libvirt.VIR_DOMAIN_PMSUSPENDED) == Power.SUSPENDED
    assert power_from_state(libvirt.VIR_DOMAIN_NOSTATE) == Power.NOSTATE


# -- the driver against test:///default --------------------------------------------------


async def test_host_info(driver: LibvirtDriver) -> None:
    info = await driver.host_info()
    assert info.hostname == "h1"
    assert info.vcpus > 0 and info.memory_mb > 0 and info.disk_gb > 0
    assert driver.name == "libvirt"


async def test_lifecycle(driver: LibvirtDriver, base: Path, tmp_path: Path) -> None:
    spec = make_spec(tmp_path)
    assert (await driver.status(spec.uuid)).power == Power.NOSTATE
    status = await driver.spawn(spec)
    assert status.power == Power.RUNNING
    disk = spec.directory / "disk.qcow2"
    info = subprocess.run(
        ["qemu-img", "info", "-U", str(disk)], check=True, capture_output=True, text=True
    ).stdout
    assert str(base) in info  # an overlay of the base
    assert "1 GiB" in info  # sized to root_gb
    assert (spec.directory / "domain.xml").exists()
    # Only Stratus's domains are listed (test:///default has one of its own).
    assert [g.uuid for g in await driver.guests()] == [spec.uuid]
    assert (await driver.spawn(spec)).power == Power.RUNNING  # idempotent

    await driver.pause(spec.uuid)
    assert (await driver.status(spec.uuid)).power == Power.PAUSED
    await driver.unpause(spec.uuid)
    assert (await driver.status(spec.uuid)).power == Power.RUNNING

    await driver.suspend(spec.uuid)  # managed save
    assert (await driver.status(spec.uuid)).power == Power.SUSPENDED
    assert (await driver.resume(spec)).power == Power.RUNNING

    await driver.stop(spec.uuid, timeout=1)
    assert (await driver.status(spec.uuid)).power == Power.SHUTDOWN
    await driver.stop(spec.uuid, timeout=1)  # idempotent
    assert (await driver.start(spec)).power == Power.RUNNING
    assert (await driver.reboot(spec, hard=True, timeout=1)).power == Power.RUNNING
    assert (await driver.reboot(spec, hard=False, timeout=1)).power == Power.RUNNING

    await driver.destroy(spec.uuid, spec.directory)
    assert not spec.directory.exists()
    assert (await driver.status(spec.uuid)).power == Power.NOSTATE
    assert await driver.guests() == []
    await driver.destroy(spec.uuid, spec.directory)  # idempotent


async def test_a_stopped_paused_guest_is_powered_off(
    driver: LibvirtDriver, base: Path, tmp_path: Path
) -> None:
    spec = make_spec(tmp_path)
    await driver.spawn(spec)
    await driver.pause(spec.uuid)
    await driver.stop(spec.uuid, timeout=5)
    assert (await driver.status(spec.uuid)).power == Power.SHUTDOWN


async def test_guests_survive_the_driver(tmp_path: Path, base: Path) -> None:
    # test:///default's state lives in its connection: the same connection,
    # a new driver object (a restarted agent) adopts the guest.
    first = LibvirtDriver(tmp_path / "instances", hostname="h1", uri="test:///default")
    spec = make_spec(tmp_path)
    await first.spawn(spec)
    second = LibvirtDriver(tmp_path / "instances", hostname="h1", uri="test:///default")
    second._conn = await first.connection()
    assert [(g.uuid, g.power) for g in await second.guests()] == [(spec.uuid, Power.RUNNING)]
    await first.close()


async def test_errors_are_driver_errors_with_clear_messages(
    driver: LibvirtDriver, base: Path, tmp_path: Path
) -> None:
    spec = make_spec(tmp_path)
    with pytest.raises(DriverError, match=f"guest {spec.uuid} is not defined in libvirt"):
        await driver.pause(spec.uuid)
    with pytest.raises(DriverError, match="has no disk on this host"):
        await driver.start(spec)
    missing = make_spec(tmp_path, base_image=tmp_path / "nope.qcow2")
    with pytest.raises(DriverError, match="base image .*nope.qcow2 is missing"):
        await driver.spawn(missing)
    await driver.spawn(spec)
    await driver.stop(spec.uuid, timeout=1)
    with pytest.raises(DriverError, match="is not running"):
        await driver.pause(spec.uuid)
    with pytest.raises(DriverError, match="has no saved state to resume"):
        await driver.resume(spec)
    # The test hypervisor has no backup jobs, so the driver does not claim
    # snapshots on it, and says so if asked anyway.
    with pytest.raises(DriverError, match="cannot be snapshotted"):
        await driver.snapshot(spec, tmp_path / "snap.qcow2")


async def test_libvirt_errors_name_the_operation(tmp_path: Path, base: Path) -> None:
    driver = LibvirtDriver(tmp_path / "instances", hostname="h1", uri="test:///default")
    driver.capabilities = driver.capabilities | {Capability.SNAPSHOT}
    spec = make_spec(tmp_path)
    await driver.spawn(spec)
    with pytest.raises(DriverError, match=r"starting a backup of guest .* failed: .*not supported"):
        await driver.snapshot(spec, tmp_path / "snap.qcow2")
    assert not list(tmp_path.glob("snap*"))  # nothing half-written is left
    # Stopped: the disk is copied to a standalone qcow2 with qemu-img.
    await driver.stop(spec.uuid, timeout=1)
    await driver.snapshot(spec, tmp_path / "snap.qcow2")
    info = subprocess.run(
        ["qemu-img", "info", str(tmp_path / "snap.qcow2")],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert "file format: qcow2" in info and "backing file" not in info
    await driver.close()


async def test_connection_failure_is_a_driver_error(tmp_path: Path) -> None:
    driver = LibvirtDriver(
        tmp_path, hostname="h", uri="qemu+unix:///system?socket=/nonexistent/libvirt-sock"
    )
    with pytest.raises(
        DriverError,
        match=r"libvirt: cannot connect to qemu\+unix:///system\?socket=/nonexistent/libvirt-sock: .*No such file",
    ):
        await driver.host_info()


async def test_console_output_tails_the_serial_log(driver: LibvirtDriver, tmp_path: Path) -> None:
    directory = tmp_path / "g"
    directory.mkdir()
    (directory / "console.log").write_text("one\r\ntwo\nthree\n")
    assert await driver.console_output("u", directory, None) == "one\ntwo\nthree\n"
    assert await driver.console_output("u", directory, 2) == "two\nthree\n"
    assert await driver.console_output("u", tmp_path / "none", 5) == ""


class HostWithout:
    """A stand-in connection to a QEMU host whose libvirt has no backup jobs
    (or cannot run the asked virt type at all)."""

    def __init__(self, domcaps: str | None) -> None:
        self.domcaps = domcaps

    def isAlive(self) -> bool:  # noqa: N802 (libvirt's name)
        return True

    def getDomainCapabilities(self, *args: object) -> str:  # noqa: N802
        if self.domcaps is None:
            # libvirtError takes its message from the thread's last libvirt
            # error when there is one (an earlier test's failed connection).
            libvirt.virResetLastError()
            raise libvirt.libvirtError(
                "invalid argument: KVM is not supported by '/usr/bin/qemu-system-x86_64' on this host"
            )
        return self.domcaps

    def getInfo(self) -> list[object]:  # noqa: N802
        return ["x86_64", 2048, 2, 0, 1, 1, 2, 1]

    def getVersion(self) -> int:  # noqa: N802
        return 7002022


async def test_snapshot_is_not_declared_without_backup_jobs(tmp_path: Path) -> None:
    driver = LibvirtDriver(tmp_path, hostname="h", uri="qemu:///system")
    driver._conn = HostWithout(
        "<domainCapabilities><features><backup supported='no'/></features></domainCapabilities>"
    )
    info = await driver.host_info()
    assert (info.hypervisor_type, info.accelerator, info.hypervisor_version) == (
        "QEMU",
        "tcg",
        7002022,
    )
    assert Capability.SNAPSHOT not in driver.capabilities
    assert Capability.PAUSE in driver.capabilities

    able = LibvirtDriver(tmp_path, hostname="h", uri="qemu:///system")
    able._conn = HostWithout(
        "<domainCapabilities><features><backup supported='yes'/></features></domainCapabilities>"
    )
    await able.host_info()
    assert Capability.SNAPSHOT in able.capabilities


async def test_a_virt_type_the_host_cannot_run_is_a_clear_error(tmp_path: Path) -> None:
    driver = LibvirtDriver(tmp_path, hostname="h", uri="qemu:///system", virt_type="kvm")
    driver._conn = HostWithout(None)
    with pytest.raises(
        DriverError,
        match="reading the host's capabilities for kvm domains failed: .*KVM is not supported",
    ):
        await driver.host_info()
