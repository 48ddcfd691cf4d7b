#!/usr/bin/env bash
# Peer for benchmarks/peers.py: inotifywait from Debian's inotify-tools, the thing a
# script would use instead of `waitbus wait --source fs`.
# Idempotent: does nothing when inotifywait is already on PATH.
set -euo pipefail

if command -v inotifywait >/dev/null 2>&1; then
    echo "inotify peer: already installed ($(command -v inotifywait))"
    exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "inotify peer: inotifywait missing and apt-get unavailable (not root?); peers.py skips it"
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get install -y --no-install-recommends inotify-tools
echo "inotify peer: installed $(command -v inotifywait)"
