#!/usr/bin/env bash
# Set up everything and start the cloud in the foreground (Ctrl-C stops it).
# Arguments go to `stratus up`, e.g. scripts/up.sh --port 9000 --data-dir /srv/stratus
# With STRATUS_COMPUTE__DRIVER=libvirt it also installs libvirt and starts its
# daemons (scripts/libvirtd.sh) before the cloud.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${STRATUS_COMPUTE__DRIVER:-}" = libvirt ]; then
    scripts/setup.sh libvirt
    scripts/libvirtd.sh
else
    scripts/setup.sh
fi
exec .venv/bin/stratus up "$@"
