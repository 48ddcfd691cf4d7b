#!/usr/bin/env bash
# Peer for waitbus-sources-fs: a real editor. The source's own counterpart is the kernel
# (inotify through watchdog, which pip installs); vim is here so one test saves a file
# with the real editor (swap file, backup rename) rather than only replaying its steps.
# Idempotent: does nothing when vim is already on PATH.
set -euo pipefail

if command -v vim >/dev/null 2>&1; then
    echo "fs peer: vim already installed ($(command -v vim))"
    exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "fs peer: vim missing and apt-get unavailable (not root?); the real-vim test will skip"
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# The full `vim` package (vim.basic), the build the test was written against.
apt-get install -y --no-install-recommends vim
echo "fs peer: installed $(command -v vim)"
