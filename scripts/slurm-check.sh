#!/usr/bin/env bash
# Checks the README's sharding lines against a real scheduler: starts a one-node Slurm cluster on
# this machine (munged, slurmctld, slurmd, all under a temporary folder, stopped at the end), runs
# the README's `sbatch --array` line and its `infscaler merge` line exactly as written (read from
# README.md), and checks that every array task succeeded and that the merged file is
# byte-identical to the unsharded sweep's. It also runs the README's Kubernetes container command
# locally, once per completion index (no Kubernetes involved), and checks its merge the same way.
#
# Needs root (Slurm's daemons run as root here). Installs Debian's Slurm 22.05 (slurmctld,
# slurmd, slurm-client) and munge with apt-get when they are missing; nothing else on the machine
# is changed, and no daemon is left running.
#
#   scripts/slurm-check.sh
#
# Environment: SWEEP (a sweep file to use instead of the README's, same command shape),
# INFSCALER_BIN (use this binary instead of building target/release/infscaler), TIMEOUT (seconds
# to wait for the array, default 180), SLURM_CHECK_PORT (slurmctld's port, slurmd's is the next;
# default 16817), KEEP=1 (keep the temporary folder after a pass; it is always kept after a fail).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
readme="$repo/README.md"
timeout=${TIMEOUT:-180}
port=${SLURM_CHECK_PORT:-16817}
SECONDS=0

say() { printf 'slurm-check: %s\n' "$*" >&2; }

tmp=""
result=""
fail() {
  say "FAIL: $*"
  result=fail
  exit 1
}

[[ $EUID -eq 0 ]] || fail "run as root (apt-get, and Slurm's daemons run as root here)"

# ---------------------------------------------------------------------------------------------
# The README's lines: run as written, so that they are checked, not a copy of them.
readme_sbatch=$(grep -m1 -E '^sbatch --array=' "$readme") || fail "no 'sbatch --array=' line in README.md"
readme_merge=$(grep -m1 -E '^infscaler merge results/' "$readme") || fail "no 'infscaler merge results/' line in README.md"
k8s_sweep=$(sed -n -E 's/^#   (infscaler sweep \/.*--shard .*)$/\1/p' "$readme" | head -n1)
k8s_merge=$(sed -n -E 's/^#   (infscaler merge \/.*)$/\1/p' "$readme" | head -n1)
[[ -n $k8s_sweep && -n $k8s_merge ]] || fail "README.md lacks the Kubernetes container's sweep or merge line"

readme_file=$(sed -E 's/.*--wrap .infscaler sweep ([^ ]+) .*/\1/' <<<"$readme_sbatch")
[[ $readme_file == scenarios/sweeps/*.toml ]] || fail "cannot find the sweep file in: $readme_sbatch"
[[ $readme_sbatch =~ --array=0-([0-9]+)[[:space:]] ]] || fail "cannot read the array's range in: $readme_sbatch"
shards=$((BASH_REMATCH[1] + 1))
[[ $k8s_sweep =~ --shard\ \$\(JOB_COMPLETION_INDEX\)/([0-9]+)[[:space:]] ]] \
  || fail "cannot read the shard count in: $k8s_sweep"
k8s_shards=${BASH_REMATCH[1]}

sweep=${SWEEP:-$readme_file}
sweep=${sweep#"$repo"/}
[[ -f $repo/$sweep ]] || fail "no sweep file $repo/$sweep"
sweep_name() { sed -n -E 's/^name[[:space:]]*=[[:space:]]*"([^"]+)".*/\1/p' "$1" | head -n1; }
readme_name=$(sweep_name "$repo/$readme_file")
name=$(sweep_name "$repo/$sweep")
[[ -n $readme_name && -n $name ]] || fail "no name = \"...\" in the sweep file"
# Another sweep (SWEEP=...) takes the README sweep's place in every line, file and name.
sbatch_cmd=${readme_sbatch//"$readme_file"/"$sweep"}
merge_cmd=${readme_merge//"$readme_name"/"$name"}
k8s_sweep_cmd=${k8s_sweep//"/$readme_file"/"/$sweep"}
k8s_merge_cmd=${k8s_merge//"$readme_name"/"$name"}

# ---------------------------------------------------------------------------------------------
# 1. Slurm and munge, from Debian's packages when missing.
pkgs=()
command -v slurmctld >/dev/null || pkgs+=(slurmctld)
command -v slurmd >/dev/null || pkgs+=(slurmd)
command -v sbatch >/dev/null || pkgs+=(slurm-client)
command -v munged >/dev/null || pkgs+=(munge)
made_policy=""
cleanup_policy() {
  if [[ -n $made_policy ]]; then rm -f /usr/sbin/policy-rc.d; made_policy=""; fi
}
if ((${#pkgs[@]})); then
  command -v apt-get >/dev/null || fail "Slurm is missing and there is no apt-get to install ${pkgs[*]}"
  say "installing ${pkgs[*]} (Debian's slurm-wlm parts) with apt-get"
  # Keep the packages' init scripts from starting daemons (as in Docker images).
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    made_policy=1
    trap cleanup_policy EXIT
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
  fi
  aptlog=$(mktemp)
  if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    --no-install-recommends "${pkgs[@]}"; } >"$aptlog" 2>&1; then
    tail -n 30 "$aptlog" >&2
    rm -f "$aptlog"
    fail "apt-get install ${pkgs[*]} failed"
  fi
  rm -f "$aptlog"
  cleanup_policy
  trap - EXIT
  say "installed: $(slurmctld -V), munge $(dpkg-query -W -f '${Version}' munge) (${SECONDS} s)"
else
  say "Slurm already installed: $(slurmctld -V)"
fi

# ---------------------------------------------------------------------------------------------
# 2. The binary.
tmp=$(mktemp -d -t infscaler-slurm-check.XXXXXX)
chmod 755 "$tmp"
mkdir -p "$tmp/bin"
if [[ -n ${INFSCALER_BIN:-} ]]; then
  bin=$INFSCALER_BIN
  say "using INFSCALER_BIN=$bin"
else
  target=${CARGO_TARGET_DIR:-target}
  [[ $target == /* ]] || target="$repo/$target"
  say "cargo build --release --bin infscaler (target: $target)"
  (cd "$repo" && cargo build --release --bin infscaler) || fail "cargo build failed"
  bin="$target/release/infscaler"
fi
[[ -x $bin ]] || fail "no binary at $bin"
# A link (or copy) of its own, so that a concurrent rebuild cannot change it mid-check.
ln -f "$bin" "$tmp/bin/infscaler" 2>/dev/null || cp "$bin" "$tmp/bin/infscaler"
export PATH="$tmp/bin:$PATH"

# ---------------------------------------------------------------------------------------------
# 3. A one-node cluster, everything under $tmp.
pids=()
jobid=""
cleanup() {
  local rc=$? pid i
  set +e
  if [[ -n $jobid ]]; then
    scancel "$jobid" 2>/dev/null
    for ((i = 0; i < 20; i++)); do
      [[ -z $(squeue -h -j "$jobid" 2>/dev/null) ]] && break
      sleep 0.5
    done
  fi
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    pid=${pids[i]}
    kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  done
  ((${#pids[@]})) && say "stopped slurmd, slurmctld and munged"
  cleanup_policy
  if [[ $result == pass && -z ${KEEP:-} ]]; then
    rm -rf "$tmp"
  else
    [[ $result == pass ]] || rc=1
    say "kept $tmp (logs in $tmp/log)"
    if [[ $result != pass ]]; then
      say "FAIL after ${SECONDS} s"
    fi
  fi
  exit "$rc"
}
trap cleanup EXIT

mkdir -p "$tmp"/{etc,munge,log,state,spool,work,whole,k8s}
chmod 700 "$tmp/munge"
dd if=/dev/urandom of="$tmp/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$tmp/munge/munge.key"
socket="$tmp/munge/munge.socket"
munged -F -f --key-file="$tmp/munge/munge.key" --socket="$socket" \
  --pid-file="$tmp/munge/munged.pid" --seed-file="$tmp/munge/munged.seed" \
  --log-file="$tmp/log/munged.log" >>"$tmp/log/munged.log" 2>&1 &
pids+=($!)
for ((i = 0; i < 50; i++)); do
  [[ -S $socket ]] && break
  sleep 0.1
done
[[ -S $socket ]] || { tail -n 20 "$tmp/log/munged.log" >&2; fail "munged did not start"; }
munge -n -S "$socket" | unmunge -S "$socket" >/dev/null || fail "munge cannot decode its own credential"

host=$(hostname -s)
cpus=$(nproc)
mem=$(free -m | awk '/^Mem:/ { print $2 }')
conf="$tmp/etc/slurm.conf"
cat >"$conf" <<EOF
ClusterName=infscaler-check
SlurmctldHost=$host
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$socket
StateSaveLocation=$tmp/state
SlurmdSpoolDir=$tmp/spool/%n
SlurmctldPidFile=$tmp/state/slurmctld.pid
SlurmdPidFile=$tmp/spool/slurmd.pid
SlurmctldLogFile=$tmp/log/slurmctld.log
SlurmdLogFile=$tmp/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
ReturnToService=2
MinJobAge=600
NodeName=$host CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=check Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF="$conf"
say "starting a one-node cluster: $host, $cpus CPUs, $mem MiB, ports $port-$((port + 1)), in $tmp"
slurmctld -D -i >>"$tmp/log/slurmctld.out" 2>&1 &
pids+=($!)
slurmd -D >>"$tmp/log/slurmd.out" 2>&1 &
pids+=($!)

daemon_logs() {
  local f
  for f in slurmctld.log slurmctld.out slurmd.log slurmd.out; do
    [[ -s $tmp/log/$f ]] && { echo "--- $f" && tail -n 15 "$tmp/log/$f"; } >&2
  done
  return 0
}
state=""
for ((i = 0; i < 60; i++)); do
  for pid in "${pids[@]}"; do
    kill -0 "$pid" 2>/dev/null || { daemon_logs; fail "a daemon exited (pid $pid)"; }
  done
  state=$(sinfo -h -n "$host" -o %T 2>/dev/null || true)
  [[ $state == idle ]] && break
  sleep 0.5
done
if [[ $state != idle ]]; then
  scontrol show node "$host" >&2 2>/dev/null || true
  daemon_logs
  fail "node $host is '${state:-unknown}', not idle, after 30 s"
fi
say "node $host is idle"

# ---------------------------------------------------------------------------------------------
# 4. The README's array job, waited for and checked, then its merge.
ln -s "$repo/scenarios" "$tmp/work/scenarios"
ln -s "$repo/scenarios" "$tmp/whole/scenarios"
ln -s "$repo/scenarios" "$tmp/k8s/scenarios"
cd "$tmp/work"
say "\$ $sbatch_cmd"
out=$(bash -c "$sbatch_cmd") || fail "sbatch failed: $out"
[[ $out =~ ^Submitted\ batch\ job\ ([0-9]+) ]] || fail "unexpected sbatch output: $out"
jobid=${BASH_REMATCH[1]}
say "array job $jobid: $shards tasks, waiting (at most $timeout s)"
submitted=$SECONDS
waited=0
while :; do
  if ! q=$(squeue -h -j "$jobid" -o '%i %T' 2>&1); then
    [[ $q == *"Invalid job id"* ]] && break
    fail "squeue: $q"
  fi
  [[ -z $q ]] && break
  ((waited < timeout)) || fail "array job $jobid not finished after $timeout s: $(tr '\n' ' ' <<<"$q")"
  sleep 1
  waited=$((waited + 1))
done
say "array job $jobid finished in $((SECONDS - submitted)) s"
declare -A problem=() seen=()
while read -r line; do
  [[ $line =~ ArrayTaskId=([0-9]+) ]] || continue
  t=${BASH_REMATCH[1]}
  if ! [[ $line =~ JobState=COMPLETED && $line =~ \ ExitCode=0:0 ]]; then
    problem[$t]=$(grep -oE 'JobState=[^ ]+|ExitCode=[^ ]+' <<<"$line" | paste -sd ' ')
  fi
  seen[$t]=1
done < <(scontrol -o show job "$jobid" 2>/dev/null)
for ((t = 0; t < shards; t++)); do
  f="results/$name.shard-$t-of-$shards.parquet"
  if [[ -z ${seen[$t]:-} ]]; then
    problem[$t]="not in 'scontrol show job $jobid'"
  elif [[ -z ${problem[$t]:-} && ! -s $f ]]; then
    problem[$t]="no $f"
  fi
done
if ((${#problem[@]})); then
  why=""
  for ((t = 0; t < shards; t++)); do
    [[ -n ${problem[$t]:-} ]] || continue
    why+=$'\n'"  task $t: ${problem[$t]}"
    f="slurm-${jobid}_$t.out"
    [[ -s $f ]] && { echo "--- $f" && tail -n 5 "$f"; } >&2
  done
  fail "array job $jobid: ${#problem[@]} of $shards tasks failed:$why"
fi
say "all $shards tasks COMPLETED with ExitCode=0:0 and wrote their shard"
say "\$ $merge_cmd"
bash -c "$merge_cmd" >&2 || fail "merge failed"
merged="$tmp/work/results/$name.parquet"

# ---------------------------------------------------------------------------------------------
# 5. The same sweep, unsharded, must give the same bytes.
cd "$tmp/whole"
say "\$ infscaler sweep $sweep   (unsharded, in $tmp/whole)"
infscaler sweep "$sweep" >/dev/null 2>"$tmp/log/whole.err" || {
  cat "$tmp/log/whole.err" >&2
  fail "the unsharded sweep failed"
}
whole="$tmp/whole/results/$name.parquet"
cmp "$merged" "$whole" >&2 || fail "merged shards differ from the unsharded sweep ($merged vs $whole)"
say "merged $shards Slurm shards == unsharded sweep ($(stat -c %s "$whole") bytes, cmp)"

# ---------------------------------------------------------------------------------------------
# 6. The README's Kubernetes container command, run here once per index, with the volumes'
#    /scenarios and /results as folders of $tmp/k8s.
cd "$tmp/k8s"
mkdir -p results
local_path() { sed -e 's# /scenarios/# scenarios/#g' -e 's# /results/# results/#g'; }
for ((t = 0; t < k8s_shards; t++)); do
  cmd=$(local_path <<<"${k8s_sweep_cmd//\$(JOB_COMPLETION_INDEX)/$t}")
  ((t == 0)) && say "\$ $cmd   (and the other indexes, locally)"
  bash -c "$cmd" >/dev/null 2>>"$tmp/log/k8s.err" || {
    tail -n 5 "$tmp/log/k8s.err" >&2
    fail "Kubernetes command for index $t failed: $cmd"
  }
done
cmd=$(local_path <<<"$k8s_merge_cmd")
say "\$ $cmd"
bash -c "$cmd" >&2 || fail "Kubernetes merge failed: $cmd"
k8s_out=$(sed -E 's/.*--out ([^ ]+).*/\1/' <<<"$cmd")
cmp "$k8s_out" "$whole" >&2 || fail "the Kubernetes shards' merge differs from the unsharded sweep"
say "merged $k8s_shards Kubernetes-style shards == unsharded sweep (cmp)"

result=pass
say "PASS in ${SECONDS} s"
