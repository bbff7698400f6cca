#!/usr/bin/env bash
# Runs every test of the workspace. Beyond what cargo fetches, it installs one thing: the ONNX
# Runtime library the hil tests run models with (into .ort/; quick when already there).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-onnxruntime.sh

# Documentation examples first, so that the last runner summary is that of the whole suite.
cargo test --workspace --doc
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --lib --bins --tests --no-fail-fast
else
  cargo test --workspace --lib --bins --tests --no-fail-fast
fi
