#!/usr/bin/env bash
# tmux for `make hero` and its test (integration/test_hero.py runs the hero demo in a
# detached tmux session of its own). Idempotent: installs only when missing.
set -euo pipefail
if command -v tmux >/dev/null 2>&1; then
    echo "tmux peer: already installed ($(tmux -V))"
    exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "tmux peer: tmux is missing and apt-get is unavailable (not root?); the hero test will skip"
    exit 1
fi
DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends -o DPkg::Lock::Timeout=300 tmux
echo "tmux peer: installed $(tmux -V)"
