#!/usr/bin/env bash
# Rewrites the golden outputs (tests/golden/) from this build: the reports of the golden
# scenarios (tests/golden.rs) and the quick reproduction (tests/reproduce.rs). Run it only when a
# change of behaviour is intended, then review `git diff tests/golden` and commit it with the change.
set -euo pipefail
cd "$(dirname "$0")/.."

export INFSCALER_BLESS=1
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run -p infscaler --test golden --test reproduce
else
  cargo test -p infscaler --test golden --test reproduce
fi
git status --short tests/golden
