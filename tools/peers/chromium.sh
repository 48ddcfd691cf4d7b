#!/usr/bin/env bash
# Peer for waitbus-web's browser tests (integration/web): Debian's chromium, driven by
# Playwright for Python through executable_path (Playwright cannot download its own
# browser here). Where it is missing, those tests skip and say why.
# Idempotent: does nothing when /usr/bin/chromium is already installed.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
    echo "chromium peer: already installed ($(/usr/bin/chromium --version 2>/dev/null || echo /usr/bin/chromium))"
    exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "chromium peer: need root and apt-get to install chromium; the browser tests will skip" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# install.sh runs apt-get update once; run alone, refresh the lists if they are empty.
if [ -z "$(ls -A /var/lib/apt/lists 2>/dev/null | grep -v -e lock -e partial || true)" ]; then
    apt-get update -qq
fi
apt-get install -y --no-install-recommends -o DPkg::Lock::Timeout=300 chromium
echo "chromium peer: installed $(/usr/bin/chromium --version 2>/dev/null || echo /usr/bin/chromium)"
