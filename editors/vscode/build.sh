#!/usr/bin/env bash
# Builds the VS Code extension: install (from the lock file), compile, unit-test, package a .vsix.
# Works offline once node_modules is present (npm ci/install is skipped when it is up to date).
set -euo pipefail
cd "$(dirname "$0")"

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
npx --no-install tsc -p .
node --test out/test/
version=$(node -p "require('./package.json').version")
npx --no-install vsce package --allow-missing-repository --skip-license --out "dg-lsp-${version}.vsix"
echo "built $(pwd)/dg-lsp-${version}.vsix"
