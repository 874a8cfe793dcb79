#!/usr/bin/env bash
# Start libvirt's daemons (virtlogd, libvirtd) when qemu:///system does not
# answer, for machines without systemd (containers, CI).  As root.  Safe to
# run again: it starts only what is not running.  On a machine with systemd,
# use `systemctl enable --now libvirtd` instead.
set -euo pipefail

answers() { virsh -c qemu:///system version >/dev/null 2>&1; }

if answers; then
    exit 0
fi
if [ "$(id -u)" != 0 ]; then
    echo "libvirtd: qemu:///system does not answer, and only root can start libvirtd" >&2
    exit 1
fi
for daemon in virtlogd libvirtd; do
    pidfile=/run/$daemon.pid
    if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
        continue
    fi
    echo "libvirtd: starting $daemon"
    "$daemon" --daemon
done
for _ in $(seq 1 120); do
    answers && exit 0
    sleep 0.5
done
echo "libvirtd: started, but qemu:///system did not answer within 60 s" >&2
exit 1
