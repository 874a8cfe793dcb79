"""A real QEMU guest on the network data plane: the agent makes the port's
tap in the host's namespace, ``vif.open_tap`` hands its descriptor to QEMU
(``-netdev tap,fd=N``), the guest gets the port's address from dnsmasq,
serves a page a neighbour reads, asks the metadata service for itself, and
a second NIC is hot-plugged over QMP (``getfd`` + ``netdev_add`` +
``device_add``) and gets its address too.  One boot."""

from __future__ import annotations

import array
import json
import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from stratus.compute.agent.configdrive import build_config_drive
from stratus.compute.guest import tiny
from stratus.network import vif
from tests.functional.network.lab import Lab, allow, lab_at, needs_root, wait_for
from tests.functional.network.test_dataplane_metadata import upstream  # noqa: F401 (a fixture)

QEMU = shutil.which("qemu-system-x86_64")
BOOT_TIMEOUT = 240
# The route to 169.254.169.254 comes by DHCP (option 121); a NIC plugged in
# later gets its address from the image's hot-plug helper.
USER_DATA = b"""#!/bin/sh
mkdir -p /www && echo "hello from the guest" > /www/index.html
httpd -p 8080 -h /www
echo "e2e-meta: $(wget -qO- http://169.254.169.254/openstack/latest/meta_data.json)"
"""


class Qmp:
    """Enough QMP to hot-plug a NIC, file descriptors included."""

    def __init__(self, path: Path) -> None:
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.settimeout(30)
        self.sock.connect(str(path))
        self.file = self.sock.makefile("rb")
        json.loads(self.file.readline())  # the greeting
        self.execute("qmp_capabilities")

    def execute(self, command: str, pass_fd: int | None = None, **arguments: Any) -> Any:
        message = json.dumps({"execute": command, "arguments": arguments}).encode() + b"\n"
        if pass_fd is None:
            self.sock.sendall(message)
        else:  # SCM_RIGHTS: the descriptor travels with the command
            fds = array.array("i", [pass_fd])
            self.sock.sendmsg([message], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, fds)])
        while True:
            reply = json.loads(self.file.readline())
            if "error" in reply:
                raise RuntimeError(reply["error"])
            if "return" in reply:
                return reply["return"]

    def close(self) -> None:
        self.file.close()
        self.sock.close()


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    with lab_at(tmp_path / "lab") as the_lab:
        yield the_lab


def console_has(console: Path, text: str) -> bool:
    return console.exists() and text in console.read_text(errors="replace")


@needs_root
@pytest.mark.skipif(QEMU is None, reason="qemu-system-x86_64 is not installed")
def test_a_qemu_guest_on_a_tap_gets_its_address_metadata_and_a_second_nic(
    lab: Lab,
    tmp_path: Path,
    upstream: str,  # noqa: F811
) -> None:
    assert QEMU is not None
    from dataclasses import replace

    settings = replace(lab.host_settings("h1", 1, tunnel=False), metadata_upstream=upstream)
    t = lab.topo
    net = t.network("10.91.0.0/24")
    net2 = t.network("10.92.0.0/24")
    sg = t.group((allow("egress"), allow("ingress", "icmp"), allow("ingress", "tcp", 8080)))
    vm = t.port("h1", net, "10.91.0.11", (sg,))
    peer = t.port("h1", net, "10.91.0.12", (sg,))
    peer2 = t.port("h1", net2, "10.92.0.12", (sg,))
    t.serve_dhcp("h1", net)
    t.serve_dhcp("h1", net2)
    neighbour, neighbour2 = lab.guest("h1", peer), lab.guest("h1", peer2)
    lab.start_agent("h1", settings)
    lab.apply()
    lab.source.wait_status(vm.id)
    neighbour.dhcp()
    neighbour2.dhcp()

    base = tiny.build_tiny_image(tmp_path / "images")
    disk = tmp_path / "disk.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", str(base), "-F", "qcow2", str(disk)],
                   check=True)  # fmt: skip
    drive = tmp_path / "config.iso"
    build_config_drive(
        drive,
        meta_data={"uuid": vm.device_id, "name": "vm", "hostname": "vm"},
        user_data=USER_DATA,
        network_data={"links": [], "networks": [], "services": []},
    )
    console, qmp_path = tmp_path / "console.log", tmp_path / "qmp.sock"
    fd = vif.open_tap(vm.id, settings.host_namespace)
    argv = [
        QEMU, "-accel", "tcg", "-machine", "pc", "-m", "256", "-smp", "1",
        "-nodefaults", "-no-user-config", "-display", "none",
        "-drive", f"file={disk},if=virtio,format=qcow2",
        "-drive", f"file={drive},media=cdrom,if=ide,format=raw,readonly=on",
        "-netdev", f"tap,id=n0,fd={fd},vhost=off",
        "-device", f"virtio-net-pci,netdev=n0,mac={vm.mac_address},romfile=",
        "-serial", f"file:{console}",
        "-qmp", f"unix:{qmp_path},server=on,wait=off",
    ]  # fmt: skip
    proc = subprocess.Popen(argv, pass_fds=(fd,), stdin=subprocess.DEVNULL, stderr=subprocess.PIPE)
    os.close(fd)
    qmp = None
    try:
        wait_for("the guest's address", lambda: console_has(console, "stratus-tiny: eth0 10.91.0.11")
                 or proc.poll() is not None, timeout=BOOT_TIMEOUT, every=0.5)  # fmt: skip
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        wait_for(
            "the guest to be ready", lambda: console_has(console, "stratus-tiny: ready"), timeout=60
        )
        assert neighbour.ping("10.91.0.11", count=3)
        assert "hello from the guest" in neighbour.run(
            "curl", "-sf", "-m", "10", "http://10.91.0.11:8080/"
        )
        meta = next(
            line for line in console.read_text(errors="replace").splitlines() if "e2e-meta:" in line
        )
        seen = json.loads(meta.split("e2e-meta:", 1)[1])
        assert seen["headers"]["X-Instance-ID"] == vm.device_id
        assert seen["headers"]["X-Forwarded-For"] == "10.91.0.11"

        # Hot-plug a second NIC on the other network.
        vm2 = t.port("h1", net2, "10.92.0.11", (sg,))
        lab.apply()
        lab.source.wait_status(vm2.id)
        qmp = Qmp(qmp_path)
        fd2 = vif.open_tap(vm2.id, settings.host_namespace)
        try:
            qmp.execute("getfd", pass_fd=fd2, fdname="nic1")
        finally:
            os.close(fd2)
        qmp.execute("netdev_add", type="tap", id="n1", fd="nic1", vhost=False)
        qmp.execute(
            "device_add", driver="virtio-net-pci", netdev="n1", mac=vm2.mac_address, id="nic1"
        )
        wait_for("the guest's second address", lambda: console_has(console, "stratus-tiny: eth1 10.92.0.11"),
                 timeout=120, every=0.5)  # fmt: skip
        assert neighbour2.ping("10.92.0.11", count=3)
    finally:
        if qmp is not None:
            qmp.close()
        proc.kill()
        proc.wait()
