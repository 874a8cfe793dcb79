"""Plugging a guest into its port, for compute: an open file descriptor of
the port's tap, to hand to QEMU (``-netdev tap,fd=N,vhost=off`` at boot; QMP
``getfd`` then ``netdev_add tap,fd=NAME`` for a hot-plug).

The network agent makes each port's tap (persistent, on its network's bridge,
its rules in place) as soon as the port is bound to the host, and reports
the port ACTIVE; compute opens it then.  The tap may live in the host's
network namespace (``[network] host_namespace``) while QEMU runs in the root
one: the descriptor is opened by a thread inside that namespace and works
from anywhere.  A tap that does not exist is an error, never made here: a
tap the agent did not make would carry frames without rules.
"""

from __future__ import annotations

import fcntl
import os
import socket
import struct

from stratus.network.drivers.base import DataPlaneError, tap_name
from stratus.network.drivers.linux.netns import call_in_netns

TUNSETIFF = 0x400454CA
IFF_TAP = 0x0002
IFF_NO_PI = 0x1000
IFF_VNET_HDR = 0x4000
TUN_DEVICE = "/dev/net/tun"


def _attach(name: str) -> int:
    try:
        socket.if_nametoindex(name)  # asked in this thread's namespace (/sys is not)
    except OSError:
        raise DataPlaneError(
            f"tap {name} does not exist on this host (is its port bound here?)"
        ) from None
    fd = os.open(TUN_DEVICE, os.O_RDWR | os.O_CLOEXEC)
    try:
        ifr = struct.pack("16sH", name.encode(), IFF_TAP | IFF_NO_PI | IFF_VNET_HDR)
        fcntl.ioctl(fd, TUNSETIFF, ifr)
    except OSError as exc:
        os.close(fd)
        raise DataPlaneError(f"tap {name}: {exc.strerror}") from exc
    return fd


def open_tap(port_id: str, host_namespace: str = "") -> int:
    """Open the tap of port ``port_id`` (made by the network agent) and
    return its descriptor (close-on-exec: pass it on explicitly).  Blocking
    for a moment; call it in a thread from async code."""
    name = tap_name(port_id)
    return call_in_netns(host_namespace or None, lambda: _attach(name))
