#!/usr/bin/env bash
# Peer for benchmarks/peers.py: the reference `waitbus` 0.2.0 from PyPI, a different
# project that shares our name. It goes into its own venv, never into ours
# (WAITBUS_REF_VENV, default /opt/waitbus-ref-0.2.0); peers.py drives it with that
# venv's Python and its own `waitbus broadcast serve` hub.
# Idempotent: does nothing when the venv already has waitbus 0.2.0.
set -euo pipefail

version=0.2.0
venv="${WAITBUS_REF_VENV:-/opt/waitbus-ref-$version}"
if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('waitbus') != '$version')" 2>/dev/null; then
    echo "waitbus-ref peer: already installed in $venv"
    exit 0
fi
python=""
for candidate in python3.11 python3.12 python3.13 python3; do
    if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
        python="$(command -v "$candidate")"
        break
    fi
done
if [ -z "$python" ]; then
    echo "waitbus-ref peer: no Python >= 3.11 found; peers.py skips the reference"
    exit 1
fi
if command -v uv >/dev/null 2>&1; then
    uv venv -q --python "$python" --clear "$venv"
    uv pip install -q --python "$venv/bin/python" "waitbus==$version"
else
    "$python" -m venv --clear "$venv"
    "$venv/bin/pip" install -q "waitbus==$version"
fi
echo "waitbus-ref peer: installed waitbus $version in $venv"
