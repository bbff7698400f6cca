#!/usr/bin/env bash
# Runs every test of the workspace. Installs nothing the machine lacks beyond what cargo fetches.
set -euo pipefail
cd "$(dirname "$0")/.."

# Documentation examples first, so that the last runner summary is that of the whole suite.
cargo test --workspace --doc
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --lib --bins --tests --no-fail-fast
else
  cargo test --workspace --lib --bins --tests --no-fail-fast
fi
