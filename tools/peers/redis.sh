#!/usr/bin/env bash
# Peer for benchmarks/peers.py: Debian's redis-server (pub/sub and Streams with the
# append-only file). The benchmark starts its own instance on a free loopback port in
# a temp dir; this script only installs the binary and stops the system instance the
# package enables (it would hold 6379 and use CPU during measurements).
# Idempotent: does nothing when redis-server is installed and no service runs.
set -euo pipefail

stop_system_instance() {
    if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
        systemctl disable --now redis-server.service >/dev/null 2>&1 || true
    elif [ -x /etc/init.d/redis-server ] && [ -e /run/redis/redis-server.pid ]; then
        # Only the instance the init script started (its pidfile), never a benchmark's.
        /etc/init.d/redis-server stop >/dev/null 2>&1 || true
    fi
    if command -v update-rc.d >/dev/null 2>&1 && [ -x /etc/init.d/redis-server ]; then
        update-rc.d redis-server disable >/dev/null 2>&1 || true
    fi
}

if command -v redis-server >/dev/null 2>&1; then
    stop_system_instance
    echo "redis peer: already installed ($(redis-server --version | head -c 60))"
    exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "redis peer: redis-server missing and apt-get unavailable (not root?); peers.py skips Redis"
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get install -y --no-install-recommends redis-server
stop_system_instance
echo "redis peer: installed $(command -v redis-server)"
