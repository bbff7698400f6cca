#!/usr/bin/env bash
# Runs every test of the workspace. Installs nothing the machine lacks beyond what cargo fetches.
set -euo pipefail
cd "$(dirname "$0")/.."

if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --lib --bins --tests --no-fail-fast
else
  cargo test --workspace --lib --bins --tests --no-fail-fast
fi
cargo test --workspace --doc
