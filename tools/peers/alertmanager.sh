#!/usr/bin/env bash
# Peer for waitbus-sources-alertmanager: Debian's prometheus-alertmanager (0.25), the
# real Alertmanager whose webhook receiver the integration tests point at the listener.
# The tests start their own instance on free loopback ports; this script only installs
# the binary and makes sure no system instance is left running (it would hold the
# default ports 9093/9094 and gossip on the cluster port).
# Idempotent: does nothing when the binary is already installed and no service runs.
set -euo pipefail

find_binary() {
    command -v prometheus-alertmanager 2>/dev/null \
        || command -v alertmanager 2>/dev/null \
        || { [ -x /usr/bin/prometheus-alertmanager ] && echo /usr/bin/prometheus-alertmanager; } \
        || true
}

stop_system_instance() {
    # The package enables a service; a container has no init to run it, a VM does.
    if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
        systemctl disable --now prometheus-alertmanager.service >/dev/null 2>&1 || true
    elif [ -x /etc/init.d/prometheus-alertmanager ] && [ -e /run/prometheus/prometheus-alertmanager.pid ]; then
        # Only the instance the init script started (its pidfile): never a test's own.
        /etc/init.d/prometheus-alertmanager stop >/dev/null 2>&1 || true
    fi
    if command -v update-rc.d >/dev/null 2>&1 && [ -x /etc/init.d/prometheus-alertmanager ]; then
        update-rc.d prometheus-alertmanager disable >/dev/null 2>&1 || true
    fi
}

binary="$(find_binary)"
if [ -n "$binary" ]; then
    stop_system_instance
    echo "alertmanager peer: already installed ($binary)"
    exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "alertmanager peer: need root and apt-get to install prometheus-alertmanager; its tests will skip" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# install.sh runs apt-get update once; run alone, refresh the lists if they are empty.
if [ -z "$(ls -A /var/lib/apt/lists 2>/dev/null | grep -v -e lock -e partial || true)" ]; then
    apt-get update -qq
fi
# Keep the package's postinst from starting a system instance: a policy-rc.d that
# refuses every start (exit 101), only for this install and only if none exists.
temp_policy=""
if [ ! -e /usr/sbin/policy-rc.d ]; then
    temp_policy=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\nexit 101\n' >"$temp_policy"
    chmod 755 "$temp_policy"
    trap 'rm -f "$temp_policy"' EXIT
fi
apt-get install -y --no-install-recommends -o DPkg::Lock::Timeout=300 prometheus-alertmanager
stop_system_instance
binary="$(find_binary)"
if [ -z "$binary" ]; then
    echo "alertmanager peer: prometheus-alertmanager installed but no binary found" >&2
    exit 1
fi
echo "alertmanager peer: installed $binary ($("$binary" --version 2>&1 | head -n 1))"
