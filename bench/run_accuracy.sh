#!/usr/bin/env bash
# Accuracy of libtmc's cold detection (bench/accuracy/hotset.cc, run under the preload): a
# heap with a known hot set, and after warm-up the share of cold pages compressed (goal >=
# 95%), the share of hot accesses that fault (goal <= 0.1%), libtmc's background CPU (goal
# <= 5% of a core), then how fast it follows a hot set that moves. Writes the report
# OUT/accuracy.md (command, machine, one column per run, goals met or not) and one JSON per
# run. Builds nothing.
#
#   bench/run_accuracy.sh [--build-dir DIR] [--out DIR] [--size SIZE] [--warmup DURATION]
#                         [--warmup-max DURATION]
#                         [--env VAR=VALUE]... [--runs LIST] [--quick]
#
# Runs (each with TMC_COLD_AGE set, --threads 1, --shift):
#   cold30      TMC_COLD_AGE=30s, 10% of hot accesses write
#   cold10      TMC_COLD_AGE=10s, 10% of hot accesses write
#   cold10-read TMC_COLD_AGE=10s, the hot set only read (write tracking cannot see it)
# --size        data size (2G)
# --warmup      least warm-up of every run (default four cold ages); bench_hotset then goes
#               on until no more cold pages are being evicted (the reclaimer works under
#               TMC_CPU_BUDGET, and 2 GiB can take minutes), at most --warmup-max (600s)
# --env V=X     passed to every run (repeatable), e.g. --env TMC_TRACK_WRITES=0
# --runs LIST   only these runs, e.g. cold10 or cold30,cold10 (all three)
# --quick       CI smoke run: 256M, TMC_COLD_AGE=2s, 12s warm-up, 5s window, 8s shift,
#               one run; checks the program ran and every page survived, not the goals
# --out         bench/results (--quick: a new temporary directory)
# Exit: 0 when every run exited 0 (every page intact), 1 otherwise.
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
build="$REPO/build"
out=""
size="2G"
warmup=""
warmup_max="600s"
quick=0
only=""
extra_env=()
orig_args=("$@")
while [ $# -gt 0 ]; do
  case "$1" in
    --build-dir) build="$(cd "${2:?--build-dir needs a directory}" && pwd)"; shift 2 ;;
    --out) out="${2:?--out needs a directory}"; shift 2 ;;
    --size) size="${2:?--size needs a value such as 2G}"; shift 2 ;;
    --warmup) warmup="${2:?--warmup needs a duration such as 120s}"; shift 2 ;;
    --warmup-max) warmup_max="${2:?--warmup-max needs a duration such as 600s}"; shift 2 ;;
    --env)
      [[ "${2:-}" =~ ^TMC_[A-Z0-9_]+=.*$ ]] || { echo "run_accuracy: --env needs TMC_NAME=VALUE, got '${2:-}'" >&2; exit 1; }
      extra_env+=("$2"); shift 2 ;;
    --runs) only="${2:?--runs needs a list such as cold10,cold30}"; shift 2 ;;
    --quick) quick=1; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "run_accuracy: unknown argument: $1 (see --help)" >&2; exit 1 ;;
  esac
done
# machine_desc, git_desc; run_need_build, run_start_notes, run_hotset
source "$REPO/bench/datasets/compress_lib.sh"
source "$REPO/bench/accuracy/run_lib.sh"
run_need_build run_accuracy "$build"

# name | TMC_COLD_AGE | program arguments
if ((quick)); then
  [ -n "$out" ] || out="$(mktemp -d /tmp/accuracy-quick.XXXXXX)"
  runs=("quick|2s|--size 256M --warmup 12s --warmup-max 60s --measure 5s --shift --shift-time 8s")
else
  [ -n "$out" ] || out="$REPO/bench/results"
  common="--size $size --warmup-max $warmup_max --measure 60s --threads 1 --shift --shift-time 60s"
  runs=("cold30|30s|$common --warmup ${warmup:-120s} --write-percent 10"
        "cold10|10s|$common --warmup ${warmup:-40s} --write-percent 10"
        "cold10-read|10s|$common --warmup ${warmup:-40s} --write-percent 0")
  if [ -n "$only" ]; then
    picked=()
    IFS=, read -r -a wanted <<<"$only"
    for w in "${wanted[@]}"; do
      found=0
      for spec in "${runs[@]}"; do
        if [ "${spec%%|*}" = "$w" ]; then picked+=("$spec"); found=1; fi
      done
      ((found)) || { echo "run_accuracy: --runs: no run named '$w' (cold30, cold10, cold10-read)" >&2; exit 1; }
    done
    runs=("${picked[@]}")
  fi
fi
mkdir -p "$out"

run_start_notes run_accuracy

failed=0
jsons=()
for spec in "${runs[@]}"; do
  IFS='|' read -r name cold args <<<"$spec"
  echo "== $name" >&2
  # The extra --env settings come after TMC_COLD_AGE, so --env TMC_COLD_AGE=... wins.
  rc=0
  # shellcheck disable=SC2086  # $args is a list of words on purpose
  run_hotset "$out/accuracy_$name" TMC_COLD_AGE="$cold" "${extra_env[@]}" -- $args || rc=$?
  if ((rc != 0)); then
    echo "run_accuracy: $name exited $rc (1: a page lost its contents; 2: could not measure; see $out/accuracy_$name.log)" >&2
    failed=1
    continue
  fi
  jsons+=("$out/accuracy_$name.json")
done

run_report run_accuracy accuracy_report.py "$out/accuracy.md" "bench/run_accuracy.sh ${orig_args[*]}" "${jsons[@]}"
exit "$failed"
