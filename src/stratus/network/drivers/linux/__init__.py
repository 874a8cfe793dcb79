"""The Linux data plane: bridges, VXLAN, taps, nftables, dnsmasq and
router namespaces, run with the host's own tools (iproute2, nft, dnsmasq)."""

from stratus.network.drivers.linux.plane import LinuxDataPlane, LinuxSettings

__all__ = ["LinuxDataPlane", "LinuxSettings"]
