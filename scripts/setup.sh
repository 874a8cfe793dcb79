#!/usr/bin/env bash
# Set up everything Stratus needs on a Debian 12 machine, as root:
# Debian packages, then a virtual environment in .venv with Stratus and the
# OpenStack clients (openstack, openstacksdk) in it.
#   scripts/setup.sh          what running the cloud needs
#   scripts/setup.sh libvirt  also the libvirt driver: libvirt's daemons and libvirt-python
#   scripts/setup.sh test     also what the test suite needs (PostgreSQL, libvirt, the OpenStack clients)
# Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:-run}
# qemu-utils: qemu-img (image conversion, instance disks); qemu-system-x86: the
# hypervisor; busybox-static, syslinux, syslinux-common, mtools, dosfstools and
# linux-image-amd64: the built-in tiny guest image is made from them (with
# dropbear-bin, its SSH server).  iproute2, nftables and dnsmasq-base: the
# network data plane (bridges, VXLAN, namespaces, filtering and NAT, DHCP).
# haproxy: the load balancers' data plane (the lb agent runs its own processes).
# postgresql, postgresql-client, mariadb-server, mariadb-client and
# mariadb-backup: the database service's servers (the database agent runs
# their binaries itself, never the system services), clients and backup tools;
# e2fsprogs and util-linux: a filesystem on a database volume and its loop mount.
# tgt and qemu-block-extra: iSCSI volume exports ([volume] target_protocol =
# "iscsi": the userspace target tgtd/tgtadm, and QEMU's iSCSI block driver).
packages=(python3 python3-venv python3-dev gcc qemu-utils qemu-system-x86
          busybox-static syslinux syslinux-common mtools dosfstools linux-image-amd64
          dropbear-bin iproute2 nftables dnsmasq-base haproxy
          postgresql postgresql-client mariadb-server mariadb-client mariadb-backup
          e2fsprogs util-linux tgt qemu-block-extra)
# The libvirt driver: libvirt's daemons and QEMU driver, and what building
# libvirt-python needs (libvirt-dev, pkg-config; gcc is above).  Without
# systemd, start them by hand as root: `virtlogd -d && libvirtd -d`.
libvirt_packages=(libvirt-daemon-system libvirt-clients libvirt-daemon-driver-qemu
                  libvirt-dev pkg-config)
case "$mode" in
    run) ;;
    libvirt) packages+=("${libvirt_packages[@]}") ;;
    # socat, curl and ping: the network tests' stand-in guests talk with them.
    test) packages+=(postgresql "${libvirt_packages[@]}" socat curl iputils-ping) ;;
    *) echo "usage: scripts/setup.sh [run|libvirt|test]" >&2; exit 2 ;;
esac

missing=()
for pkg in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$pkg")
    fi
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing Debian packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

python=${PYTHON:-python3}
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    echo "setup: Stratus needs Python 3.11 or newer ($python is $("$python" --version))" >&2
    exit 1
fi
if [ ! -x .venv/bin/python ]; then
    echo "setup: creating the virtual environment in .venv"
    "$python" -m venv .venv
fi

extras="[clients]"
[ "$mode" = libvirt ] && extras="[clients,libvirt]"
[ "$mode" = test ] && extras="[test]"
# Reinstall only when the dependencies changed.
stamp=".venv/.stratus-installed$extras"
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "setup: installing Stratus${extras} into .venv"
    .venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip >/dev/null
    .venv/bin/python -m pip install -q --disable-pip-version-check -e ".${extras}"
    echo "$want" > "$stamp"
fi

# Python keeps the compiled form of each module it imports, except where
# PYTHONDONTWRITEBYTECODE is set (as on these machines): then every process
# the cloud or the tests start compiles all of Stratus again (~0.5 s of CPU
# each). Compile it once; a module edited later is compiled afresh as usual.
.venv/bin/python -m compileall -q src >/dev/null
