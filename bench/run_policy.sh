#!/usr/bin/env bash
# libtmc's choice of pages against LRU (bench_hotset --dist zipf, bench/accuracy/policy_run.h,
# run under the preload): a heap of compressible records accessed by one thread with Zipf
# popularity over every page, TMC_TARGET at a share of the heap's plain RSS; after a
# warm-up (until RSS and faults per access are flat), libtmc's faults per access over a
# window against an exact LRU simulation of the same access sequence, at (a) the heap pages
# libtmc kept resident and (b) the pages the target allows. Goal: libtmc within 1.5x of
# LRU at each target. One run per target, one after the other, in one invocation; writes
# OUT/policy.md (command, machine, libtmc commit, one column per target) and one JSON per
# run (policy_targetN.json, with .log and .options.json). Builds nothing.
#
#   bench/run_policy.sh [--build-dir DIR] [--out DIR] [--size SIZE] [--targets LIST]
#                       [--measure DURATION] [--warmup DURATION] [--warmup-max DURATION]
#                       [--zipf-s S] [--env VAR=VALUE]... [--quick]
#
# --size        data size (1G)
# --targets     TMC_TARGET as percentages of the plain RSS, comma-separated (30,50,70)
# --measure     the measured window (60s)
# --warmup      least warm-up (60s); it goes on until RSS and faults per access are flat,
#               at most --warmup-max (600s)
# --zipf-s      the Zipf exponent (0.99)
# --env V=X     passed to every run (repeatable), e.g. --env TMC_CODEC=zstd
# --quick       CI smoke run: 64M, target 50%, 2s-6s warm-up, 4s window, into a new
#               temporary directory; checks that the program ran, every page survived and
#               the replay was the thread's sequence, not the goal
# --out         bench/results (--quick: a new temporary directory)
# Exit: 0 when every run exited 0 (every page intact, the replay matched), 1 otherwise.
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
build="$REPO/build"
out=""
size="1G"
targets="30,50,70"
measure="60s"
warmup="60s"
warmup_max="600s"
zipf_s="0.99"
quick=0
extra_env=()
orig_args=("$@")
while [ $# -gt 0 ]; do
  case "$1" in
    --build-dir) build="$(cd "${2:?--build-dir needs a directory}" && pwd)"; shift 2 ;;
    --out) out="${2:?--out needs a directory}"; shift 2 ;;
    --size) size="${2:?--size needs a value such as 1G}"; shift 2 ;;
    --targets)
      [[ "${2:-}" =~ ^[0-9]+(\.[0-9]+)?(,[0-9]+(\.[0-9]+)?)*$ ]] ||
        { echo "run_policy: --targets needs percentages such as 30,50,70, got '${2:-}'" >&2; exit 1; }
      targets="$2"; shift 2 ;;
    --measure) measure="${2:?--measure needs a duration such as 60s}"; shift 2 ;;
    --warmup) warmup="${2:?--warmup needs a duration such as 60s}"; shift 2 ;;
    --warmup-max) warmup_max="${2:?--warmup-max needs a duration such as 600s}"; shift 2 ;;
    --zipf-s) zipf_s="${2:?--zipf-s needs an exponent such as 0.99}"; shift 2 ;;
    --env)
      [[ "${2:-}" =~ ^TMC_[A-Z0-9_]+=.*$ ]] || { echo "run_policy: --env needs TMC_NAME=VALUE, got '${2:-}'" >&2; exit 1; }
      extra_env+=("$2"); shift 2 ;;
    --quick) quick=1; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "run_policy: unknown argument: $1 (see --help)" >&2; exit 1 ;;
  esac
done
# machine_desc, git_desc; run_need_build, run_start_notes, run_hotset
source "$REPO/bench/datasets/compress_lib.sh"
source "$REPO/bench/accuracy/run_lib.sh"
run_need_build run_policy "$build"

if ((quick)); then
  [ -n "$out" ] || out="$(mktemp -d /tmp/policy-quick.XXXXXX)"
  size="64M"; targets="50"; warmup="2s"; warmup_max="6s"; measure="4s"
  sample="500ms"
else
  [ -n "$out" ] || out="$REPO/bench/results"
  sample="1s"
fi
mkdir -p "$out"
run_start_notes run_policy

failed=0
jsons=()
IFS=, read -r -a target_list <<<"$targets"
for t in "${target_list[@]}"; do
  prefix="$out/policy_target$t"
  rc=0
  run_hotset "$prefix" "${extra_env[@]}" -- --dist zipf --zipf-s "$zipf_s" --size "$size" --target "$t%" \
    --warmup "$warmup" --warmup-max "$warmup_max" --measure "$measure" --sample "$sample" || rc=$?
  if ((rc != 0)); then
    echo "run_policy: target $t% exited $rc (1: a page lost its contents; 2: could not measure, or the replay differed; see $prefix.log)" >&2
    failed=1
    continue
  fi
  jsons+=("$prefix.json")
done

run_report run_policy policy_report.py "$out/policy.md" "bench/run_policy.sh ${orig_args[*]}" "${jsons[@]}"
exit "$failed"
