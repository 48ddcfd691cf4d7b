#!/usr/bin/env bash
# Peer for waitbus-sources-github: GitHub's own example webhook deliveries, from the
# npm package @octokit/webhooks-examples (real workflow_run / workflow_job bodies as
# GitHub sends them). There is no GitHub here; the integration tests sign these bodies
# with HMAC-SHA256 as GitHub does and POST them to the real listener.
# Installs into /opt/waitbus-peers/github as root, else into the checkout's git-ignored
# .peers/github (override with WAITBUS_GITHUB_PEER_DIR): npm needs no root.
# Idempotent: does nothing when the package is already there.
set -euo pipefail

if [ "$(id -u)" = 0 ]; then default=/opt/waitbus-peers/github; else default="$(cd "$(dirname "$0")/../.." && pwd)/.peers/github"; fi
dest="${WAITBUS_GITHUB_PEER_DIR:-$default}"
pkg="$dest/node_modules/@octokit/webhooks-examples"

if [ -f "$pkg/package.json" ]; then
    echo "github peer: already installed ($pkg)"
    exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        # Debian's npm brings nodejs too, which the Node wire snippet test also runs.
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends -o DPkg::Lock::Timeout=300 nodejs npm
    else
        echo "github peer: npm is not installed (apt-get install -y npm); the example-payload tests will skip" >&2
        exit 1
    fi
fi
mkdir -p "$dest"
npm install --prefix "$dest" --no-audit --no-fund --loglevel=error @octokit/webhooks-examples
if [ ! -f "$pkg/package.json" ]; then
    echo "github peer: npm finished but $pkg is missing" >&2
    exit 1
fi
echo "github peer: installed $pkg ($(node -p "require('$pkg/package.json').version" 2>/dev/null || echo '?'))"
