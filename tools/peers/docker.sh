#!/usr/bin/env bash
# Peer for waitbus-sources-docker: podman, which serves the Docker Engine API on a
# Unix socket, plus runc (crun cannot set up cgroups in these sandboxes) and a static
# busybox the tests turn into a local image (no registry is reachable).
# Idempotent: does nothing when all three are already installed.
set -euo pipefail

need=()
command -v podman >/dev/null 2>&1 || need+=(podman)
command -v runc >/dev/null 2>&1 || need+=(runc)
# The tests copy /bin/busybox into an image with no libc: it must be the static build.
if command -v dpkg-query >/dev/null 2>&1; then
    dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q "install ok installed" || need+=(busybox-static)
else
    [ -x /bin/busybox ] || need+=(busybox-static)
fi

if [ "${#need[@]}" -eq 0 ]; then
    echo "docker peer: podman, runc and busybox already installed"
    exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "docker peer: need root and apt-get to install ${need[*]}; the docker source tests will skip" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# install.sh runs apt-get update once; run alone, refresh the lists if they are empty.
if [ -z "$(ls -A /var/lib/apt/lists 2>/dev/null | grep -v -e lock -e partial || true)" ]; then
    apt-get update -qq
fi
apt-get install -y --no-install-recommends "${need[@]}"
echo "docker peer: installed ${need[*]}"
