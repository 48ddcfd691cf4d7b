#!/usr/bin/env bash
# Compilers for the wire snippets in examples/snippets (integration/test_snippets_go_rust.py
# builds the Go and Rust subscribers and runs them against a real hub). Debian's go 1.19
# and rustc 1.63 both build them. Idempotent: installs only what is missing from PATH.
set -euo pipefail

need=()
command -v go >/dev/null 2>&1 || need+=(golang-go)
command -v rustc >/dev/null 2>&1 || need+=(rustc)
if [ ${#need[@]} -eq 0 ]; then
    echo "toolchains peer: go and rustc already installed"
    exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "toolchains peer: missing ${need[*]} and apt-get unavailable (not root?); those snippet tests will skip"
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get install -y --no-install-recommends -o DPkg::Lock::Timeout=300 "${need[@]}"
echo "toolchains peer: installed ${need[*]}"
