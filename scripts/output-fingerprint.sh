#!/usr/bin/env bash
# Writes the outputs of a fixed set of runs (every scenario file at three seeds, two sweeps, a
# capacity search) into DIR, so that two builds can be compared byte for byte:
#   scripts/output-fingerprint.sh /tmp/before [path/to/old/infscaler]
#   scripts/output-fingerprint.sh /tmp/after
#   diff -r /tmp/before /tmp/after
# `events_processed` (a cost measure, not a result) is left out of the run reports, and sweep rows
# keep only their results (no wall time).
set -euo pipefail
out=${1:?usage: scripts/output-fingerprint.sh DIR [INFSCALER_BINARY]}
bin=${2:-target/release/infscaler}
cd "$(dirname "$0")/.."
mkdir -p "$out"
scenarios=(scenarios/quickstart.toml scenarios/examples/*.toml scenarios/hil/*.toml
  scenarios/paper/alexnet-cap.toml scenarios/paper/poisson-base.toml scenarios/paper/trace-replay.toml)
for s in "${scenarios[@]}"; do
  name=$(basename "$(dirname "$s")")-$(basename "$s" .toml)
  for seed in 1 2 3; do
    "$bin" run "$s" --json --seed "$seed" | grep -v '"events_processed"' >"$out/$name-seed$seed.json"
  done
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for sweep in scenarios/sweeps/bench.toml scenarios/paper/fig6-handoff.toml; do
  name=$(basename "$sweep" .toml)
  "$bin" sweep "$sweep" --jobs 2 --out "$tmp/$name.jsonl" >/dev/null 2>&1
  python3 - "$tmp/$name.jsonl" >"$out/sweep-$name.jsonl" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    row = json.loads(line)
    for k in [k for k in row if "wall" in k or k == "events_processed"]:
        del row[k]
    print(json.dumps(row, sort_keys=True))
PY
done
"$bin" capacity scenarios/examples/vu-http-nx.toml --json --jobs 2 2>/dev/null \
  | grep -v '"events_processed"\|wall' >"$out/capacity-vu-http-nx.json"
echo "wrote $(ls "$out" | wc -l) files to $out"
