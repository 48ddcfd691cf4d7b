#!/usr/bin/env bash
# Peer for the "no outbound traffic" promise in SECURITY.md: strace records every socket
# the hub, the SDK and the hot CLI verbs open (integration/test_no_network.py).
# Idempotent: does nothing when strace is already on PATH.
set -euo pipefail

if command -v strace >/dev/null 2>&1; then
    echo "strace peer: already installed ($(command -v strace))"
    exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "strace peer: strace missing and apt-get unavailable (not root?); the no-network test will skip"
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get install -y --no-install-recommends -o DPkg::Lock::Timeout=300 strace
echo "strace peer: installed $(command -v strace)"
