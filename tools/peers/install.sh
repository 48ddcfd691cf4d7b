#!/usr/bin/env bash
# Install the real counterparts the integration tests run against (podman,
# Alertmanager, GitHub's example payloads, ...). Each peer has its own idempotent
# script here; a peer that cannot be installed makes its tests skip with the reason.
# Needs root for apt (CI runs as root); without it, only what needs no root is set up.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq || echo "peers: apt-get update failed; apt peers may be missing"
fi
status=0
for script in "$here"/*.sh; do
    [ "$(basename "$script")" = install.sh ] && continue
    echo "peers: $(basename "$script")"
    bash "$script" || { echo "peers: $(basename "$script") failed (its tests will skip)"; status=1; }
done
exit 0  # a missing peer skips its tests with the reason; it does not fail CI here
