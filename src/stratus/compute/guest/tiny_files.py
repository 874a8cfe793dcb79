"""The tiny guest's own files: busybox init's table and the scripts it runs.

`FILES` maps a path in the guest's root file system to (mode, text). The image
builder in `tiny.py` puts them into the initrd; editing any of them changes the
image's name, so a cached image is rebuilt.
"""

from __future__ import annotations

# Marker lines on the serial console (ttyS0) that tests and drivers wait for.
READY_LINE = "stratus-tiny: ready"
INSTANCE_PREFIX = "stratus-tiny: instance "
# FAT label of the image's boot partition, which the guest mounts on /mnt/disk.
BOOT_LABEL = "TINYBOOT"

INITTAB = """\
::sysinit:/etc/init.d/rcS
ttyS0::askfirst:-/bin/sh
::ctrlaltdel:/sbin/reboot
::shutdown:/etc/init.d/rcK
"""

RCS = r"""#!/bin/sh
# Stratus tiny guest: start-up, run once by busybox init (PID 1) as sysinit.
export PATH=/sbin:/bin:/usr/sbin:/usr/bin HOME=/root
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t tmpfs -o mode=755 tmpfs /run
echo 1 > /proc/sys/kernel/printk
say() { echo "stratus-tiny: $*" > /dev/ttyS0; }

# Drivers by modalias, in two passes: the first binds the buses (virtio_pci,
# ata_piix, ACPI), the second the devices they reveal (virtio-blk, virtio-net).
# Disk and cdrom drivers first, so that disks show up as the controllers probe
# (module loading waits for those probes).
modprobe -qa sd_mod sr_mod evdev button
for pass in 1 2; do
    modprobe -qa $(cat /sys/bus/*/devices/*/modalias 2>/dev/null | sort -u)
done
modprobe -qa iso9660 vfat nls_cp437 nls_iso8859_1 nls_utf8 nls_ascii

# The ACPI power button (QMP system_powerdown) runs /etc/acpi/PWRF/00000080.
acpid -l /var/log/acpid.log

hostname stratus-tiny
ip link set lo up
if [ -e /sys/class/net/eth0 ]; then
    ip link set eth0 up
    # Waits about 3 s at most for a lease, then goes on trying in the background.
    # Classless static routes (option 121) carry the metadata service's route.
    udhcpc -i eth0 -t 3 -T 1 -b -S -O staticroutes -O mtu -p /run/udhcpc.eth0.pid \
        >/dev/null 2>&1
fi
# NICs and disks plugged in later (server add network / add volume): busybox
# uevent runs the helper for each kernel event (the kernel has no uevent helper).
uevent /sbin/hotplug </dev/null >/dev/null 2>&1 &

# The image's own boot partition, read-write: what is written there persists.
boot=$(findfs LABEL=TINYBOOT 2>/dev/null)
if [ -n "$boot" ] && mount -t vfat -o rw,sync "$boot" /mnt/disk; then
    say "disk $boot on /mnt/disk"
else
    say "boot partition not found"
fi

find_config() {
    dev=$(findfs LABEL=config-2 2>/dev/null) && mount -r "$dev" /mnt/config 2>/dev/null &&
        return 0
    for dev in /dev/sr* /dev/vd* /dev/sd*; do
        [ -b "$dev" ] && [ "$dev" != "$boot" ] || continue
        mount -r "$dev" /mnt/config 2>/dev/null || continue
        [ -f /mnt/config/openstack/latest/meta_data.json ] && return 0
        umount /mnt/config
    done
    return 1
}
tries=0
until find_config; do
    tries=$((tries + 1))
    [ $tries -lt 5 ] && [ -e /dev/sr0 -o -e /dev/vdb ] || break
    sleep 0.2
done

# Without a config drive, the metadata service (as cloud-init falls back to).
# Debian's static busybox is built without wget's -T (FEATURE_WGET_TIMEOUT):
# asking for it crashes wget (SIGSEGV), so the timeout applet bounds it.
fetch_metadata() {
    [ -e /sys/class/net/eth0 ] || return 1
    url=http://169.254.169.254/openstack/latest
    mkdir -p /run/md/openstack/latest
    tries=0
    until timeout 3 wget -q -O /run/md/openstack/latest/meta_data.json $url/meta_data.json; do
        tries=$((tries + 1))
        [ $tries -lt 5 ] || return 1
        sleep 1
    done
    timeout 3 wget -q -O /run/md/openstack/latest/user_data $url/user_data ||
        rm -f /run/md/openstack/latest/user_data
    return 0
}

meta=/mnt/config/openstack/latest
source="config drive $dev"
if [ ! -f $meta/meta_data.json ] && fetch_metadata; then
    meta=/run/md/openstack/latest
    source="metadata service"
fi
if [ -f $meta/meta_data.json ]; then
    say "$source"
    mkdir -p /run/meta
    awk -v dir=/run/meta -f /etc/stratus/meta.awk $meta/meta_data.json
    uuid=$(cat /run/meta/uuid 2>/dev/null)
    name=$(cat /run/meta/hostname 2>/dev/null)
    say "instance $uuid hostname $name"
    if [ -n "$name" ] && hostname "$name"; then
        echo "$name" > /etc/hostname
    fi
    if [ -s /run/meta/authorized_keys ]; then
        mkdir -p -m 700 /root/.ssh
        cp /run/meta/authorized_keys /root/.ssh/authorized_keys
        chmod 600 /root/.ssh/authorized_keys
    fi
    if [ "$(head -c 2 $meta/user_data 2>/dev/null)" = "#!" ]; then
        cp $meta/user_data /run/user_data
        chmod 700 /run/user_data
        say "running user_data"
        (cd / && /run/user_data) </dev/null >/dev/ttyS0 2>&1
        say "user_data exited with status $?"
    fi
else
    say "no config drive"
fi
# The SSH server: root logs in with the keys above (host keys made on first use).
dropbear -R -s -E -p 22 -P /run/dropbear.pid 2>>/var/log/dropbear.log
say "ready"
"""

RCK = """#!/bin/sh
# Stratus tiny guest: shutdown, run by busybox init before it powers off.
echo "stratus-tiny: stopping" > /dev/ttyS0
sync
umount /mnt/config 2>/dev/null
umount /mnt/disk 2>/dev/null || mount -o remount,ro /mnt/disk 2>/dev/null
sync
"""

POWER_BUTTON = """#!/bin/sh
poweroff
"""

# busybox uevent, started by rcS, runs this on every kernel device event: it
# loads the driver a new device needs, brings up a new NIC with DHCP, and
# says on the console what came and went.
HOTPLUG = r"""#!/bin/sh
[ "$ACTION" = add ] && [ -n "$MODALIAS" ] && modprobe -q "$MODALIAS"
say() { echo "stratus-tiny: $*" > /dev/ttyS0; }
case "$SUBSYSTEM:$ACTION" in
net:add)
    case "$INTERFACE" in eth*) ;; *) exit 0 ;; esac
    say "nic added $INTERFACE $(cat /sys/class/net/$INTERFACE/address 2>/dev/null)"
    ip link set "$INTERFACE" up
    udhcpc -i "$INTERFACE" -b -S -O staticroutes -O mtu -p "/run/udhcpc.$INTERFACE.pid" \
        >/dev/null 2>&1
    ;;
net:remove)
    case "$INTERFACE" in eth*) ;; *) exit 0 ;; esac
    say "nic removed $INTERFACE"
    [ -f "/run/udhcpc.$INTERFACE.pid" ] && kill "$(cat "/run/udhcpc.$INTERFACE.pid")" 2>/dev/null
    ;;
block:add)
    case "$DEVNAME" in vd* | sd*) say "disk added $DEVNAME" ;; esac
    ;;
block:remove)
    case "$DEVNAME" in vd* | sd*) say "disk removed $DEVNAME" ;; esac
    ;;
esac
exit 0
"""

UDHCPC_SCRIPT = r"""#!/bin/sh
# udhcpc calls this on DHCP events; $ip, $mask (prefix length), $router, $dns.
case "$1" in
deconfig)
    ip -4 addr flush dev "$interface"
    ip link set "$interface" up
    ;;
bound)
    ip -4 addr flush dev "$interface"
    [ -n "$mtu" ] && ip link set dev "$interface" mtu "$mtu"
    ip addr add "$ip/${mask:-24}" dev "$interface"
    if [ -n "$staticroutes" ]; then
        # Option 121 replaces the router option (RFC 3442): "dest/len gw ...".
        set -- $staticroutes
        while [ $# -ge 2 ]; do
            ip route add "$1" via "$2" dev "$interface" 2>/dev/null
            shift 2
        done
    else
        for r in $router; do ip route add default via "$r" dev "$interface"; break; done
    fi
    : > /etc/resolv.conf
    for d in $dns; do echo "nameserver $d" >> /etc/resolv.conf; done
    echo "stratus-tiny: $interface $ip" > /dev/ttyS0
    ;;
renew)
    ip addr add "$ip/${mask:-24}" dev "$interface" 2>/dev/null
    ;;
esac
exit 0
"""

# A small JSON reader in awk (busybox has no jq): writes each top-level string
# member of meta_data.json to DIR/NAME and each value of "public_keys" as a line
# of DIR/authorized_keys.
META_AWK = r"""{ doc = doc $0 "\n" }
function hexval(h,   v, k) {
    v = 0
    for (k = 1; k <= length(h); k++)
        v = v * 16 + index("0123456789abcdef", tolower(substr(h, k, 1))) - 1
    return v
}
END {
    n = length(doc); depth = 0
    for (i = 1; i <= n; i++) {
        c = substr(doc, i, 1)
        if (c == "{" || c == "[") { depth++; kind[depth] = c; want[depth] = (c == "{") }
        else if (c == "}" || c == "]") depth--
        else if (c == ",") want[depth] = (kind[depth] == "{")
        else if (c == "\"") {
            s = ""
            for (i++; i <= n; i++) {
                c = substr(doc, i, 1)
                if (c == "\"") break
                if (c == "\\") {
                    c = substr(doc, ++i, 1)
                    if (c == "n") c = "\n"
                    else if (c == "t") c = "\t"
                    else if (c == "r") c = "\r"
                    else if (c == "u") {
                        v = hexval(substr(doc, i + 1, 4)); i += 4
                        c = (v < 128) ? sprintf("%c", v) : "?"
                    }
                }
                s = s c
            }
            if (want[depth]) { key[depth] = s; want[depth] = 0 }
            else if (depth == 1 && key[1] ~ /^[a-z0-9_]+$/) {
                f = dir "/" key[1]; printf "%s", s > f; close(f)
            } else if (depth == 2 && key[1] == "public_keys" && kind[2] == "{") {
                sub(/\n+$/, "", s); print s >> (dir "/authorized_keys")
            }
        }
    }
}
"""

PROFILE = r"""export PATH=/sbin:/bin:/usr/sbin:/usr/bin HOME=/root
PS1='\h:\w\$ '
"""

FILES: dict[str, tuple[int, str]] = {
    "etc/inittab": (0o644, INITTAB),
    "etc/init.d/rcS": (0o755, RCS),
    "etc/init.d/rcK": (0o755, RCK),
    "etc/acpi/PWRF/00000080": (0o755, POWER_BUTTON),
    "sbin/hotplug": (0o755, HOTPLUG),
    "etc/shells": (0o644, "/bin/sh\n"),
    "etc/udhcpc/default.script": (0o755, UDHCPC_SCRIPT),
    "etc/stratus/meta.awk": (0o644, META_AWK),
    "etc/profile": (0o644, PROFILE),
    "etc/passwd": (0o644, "root:x:0:0:root:/root:/bin/sh\n"),
    "etc/group": (0o644, "root:x:0:\n"),
    "etc/shadow": (0o600, "root:*:19000:0:99999:7:::\n"),
    "etc/hostname": (0o644, "stratus-tiny\n"),
    "etc/hosts": (0o644, "127.0.0.1\tlocalhost\n"),
}

# Empty folders of the root file system.
DIRS = (
    "dev", "proc", "sys", "tmp", "run", "root", "mnt/disk", "mnt/config", "var/log",
    "etc/dropbear",
)  # fmt: skip
SYMLINKS = {"var/run": "/run"}
