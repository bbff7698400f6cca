#!/usr/bin/env bash
# Validates the CPU in the loop on every scenarios/hil/ scenario, out of sample: runs
# `infscaler hil validate --reprofile --repeat N` on each, which before every live run measures
# the scenario's profiles again (the `hil profile` command recorded in each; a shared VM's speed
# drifts by up to 2x within an hour) and simulates that run with them, never with the live
# runs' own times; keeps the JSON in results/hil/validate/ and prints one table: the median
# simulation vs the median live run, each with its range, and the median of each simulation's
# error against its own live run (paired: the drift between runs left out).
# Usage: scripts/hil-validate-all.sh [REPEAT (default 3)] [SCENARIO.toml ...]
# Takes about REPEAT × (35 s + the profile's time) per scenario on a 2-core machine.
set -euo pipefail
cd "$(dirname "$0")/.."
repeat="${1:-3}"
shift || true
scenarios=("$@")
if [ ${#scenarios[@]} -eq 0 ]; then
  scenarios=(scenarios/hil/*.toml)
fi
bin="${CARGO_TARGET_DIR:-target}/release/infscaler"
cargo build --release --bin infscaler
mkdir -p results/hil/validate

for s in "${scenarios[@]}"; do
  base=$(basename "$s" .toml)
  echo "validating $s ($repeat live runs, each after its profiles are measured again)" >&2
  "$bin" hil validate "$s" --reprofile --repeat "$repeat" --json \
    >"results/hil/validate/$base.json.tmp" 2>"results/hil/validate/$base.log"
  mv "results/hil/validate/$base.json.tmp" "results/hil/validate/$base.json"
done

python3 - "${scenarios[@]}" <<'PY'
import json, os, sys
print("| scenario | throughput err [live range] | p50 sim / live ms (err) [sim range] [live range] | p99 sim / live ms (err) [sim range] [live range] | p50 / p99 paired err | p50 / p99 err with live on-core times |")
print("|---|---|---|---|---|---|")
for s in sys.argv[1:]:
    base = os.path.basename(s)[:-5]
    v = json.load(open(f"results/hil/validate/{base}.json"))
    m = {r["metric"]: r for r in v["metrics"]}
    lt = {r["metric"]: r for r in (v.get("metrics_live_times") or [])}
    pct = lambda r: "—" if r.get("relative_error") is None else f"{100*r['relative_error']:+.1f} %"
    rng = lambda r: f"[{r['live_min']:.1f}–{r['live_max']:.1f}]"
    srng = lambda r: f"[{r['simulated_min']:.1f}–{r['simulated_max']:.1f}]"
    t, p50, p99 = m["throughput_rps"], m["latency_p50_ms"], m["latency_p99_ms"]
    inner = f"{pct(lt['latency_p50_ms'])} / {pct(lt['latency_p99_ms'])}" if lt else "—"
    ppct = lambda r: "—" if r.get("paired_error") is None else f"{100*r['paired_error']:+.1f} %"
    print(f"| {base} | {pct(t)} {rng(t)} | {p50['simulated']:.1f} / {p50['live']:.1f} ({pct(p50)}) {srng(p50)} {rng(p50)} "
          f"| {p99['simulated']:.1f} / {p99['live']:.1f} ({pct(p99)}) {srng(p99)} {rng(p99)} | {ppct(p50)} / {ppct(p99)} | {inner} |")
PY
