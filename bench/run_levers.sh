#!/usr/bin/env bash
# One lever at a time, against a baseline in the same script: bench_hotset --dist zipf (the
# policy benchmark's load, bench/accuracy/policy_run.h) under TMC_TARGET, run for each
# variant in turn, ROUNDS times interleaved (A B C A B C ...), so that a drift of the machine
# falls on every variant alike. A variant is options (TMC_* variables) and/or another
# libtmc.so (a code change built elsewhere). Writes OUT/levers.md: per variant the median and
# range over the rounds of accesses per second, faults per access, the CPU of a fault cycle
# (fault thread per fault, reclaimer per eviction), held time and RSS, and each median as a
# ratio to the first variant's; one JSON per run beside it. Builds nothing.
#
#   bench/run_levers.sh [--build-dir DIR] [--out DIR] [--size SIZE] [--target PCT]
#                       [--rounds N] [--measure DURATION] [--warmup DURATION]
#                       [--warmup-max DURATION] [--quick] --variant SPEC [--variant SPEC]...
#
# --variant   NAME[:VAR=VALUE[,VAR=VALUE...]][:lib=PATH]; the first is the baseline. E.g.
#             --variant default --variant spin0:TMC_FAULT_SPIN=0 --variant new:lib=/tmp/b/libtmc.so
# --size      data size (1G)
# --target    TMC_TARGET as a percentage of the plain RSS (50)
# --rounds    repetitions of every variant (3)
# --measure   the measured window of each run (40s); --warmup (40s), --warmup-max (60s)
# --out       directory for levers.md and the runs (a new one under /tmp)
# --quick     CI smoke run: 64M, one round, 2s-6s warm-up, 4s window; checks that every
#             variant ran, kept every page and is in the report, not any figure
# Exit: 0 when every run exited 0 (every page intact), 1 otherwise.
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
build="$REPO/build"
out=""
size="1G"
target="50"
rounds=3
measure="40s"
warmup="40s"
warmup_max="60s"
sample="1s"
quick=0
variants=()
orig_args=("$@")
while [ $# -gt 0 ]; do
  case "$1" in
    --build-dir) build="$(cd "${2:?--build-dir needs a directory}" && pwd)"; shift 2 ;;
    --out) out="${2:?--out needs a directory}"; shift 2 ;;
    --size) size="${2:?--size needs a value such as 1G}"; shift 2 ;;
    --target)
      [[ "${2:-}" =~ ^[0-9]+(\.[0-9]+)?$ ]] || { echo "run_levers: --target needs a percentage such as 50, got '${2:-}'" >&2; exit 1; }
      target="$2"; shift 2 ;;
    --rounds)
      [[ "${2:-}" =~ ^[1-9][0-9]*$ ]] || { echo "run_levers: --rounds needs a positive count, got '${2:-}'" >&2; exit 1; }
      rounds="$2"; shift 2 ;;
    --measure) measure="${2:?--measure needs a duration such as 40s}"; shift 2 ;;
    --warmup) warmup="${2:?--warmup needs a duration such as 40s}"; shift 2 ;;
    --warmup-max) warmup_max="${2:?--warmup-max needs a duration such as 60s}"; shift 2 ;;
    --variant)
      [[ "${2:-}" =~ ^[A-Za-z0-9_.-]+(:TMC_[A-Z0-9_]+=[^,:]*(,TMC_[A-Z0-9_]+=[^,:]*)*)?(:lib=[^:]+)?$ ]] ||
        { echo "run_levers: --variant needs NAME[:TMC_VAR=VALUE,...][:lib=PATH], got '${2:-}'" >&2; exit 1; }
      variants+=("$2"); shift 2 ;;
    --quick) quick=1; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "run_levers: unknown argument: $1 (see --help)" >&2; exit 1 ;;
  esac
done
((${#variants[@]} >= 1)) || { echo "run_levers: give at least one --variant (the first is the baseline)" >&2; exit 1; }
# machine_desc, git_desc; run_need_build, run_start_notes, run_hotset
source "$REPO/bench/datasets/compress_lib.sh"
source "$REPO/bench/accuracy/run_lib.sh"
run_need_build run_levers "$build"
if ((quick)); then
  size="64M"; rounds=1; warmup="2s"; warmup_max="6s"; measure="4s"; sample="500ms"
fi
default_lib="$lib"
[ -n "$out" ] || out="$(mktemp -d /tmp/levers.XXXXXX)"
mkdir -p "$out"
run_start_notes run_levers

# Each variant's name, options and library, checked before the first run.
names=() envs=() libs=()
for spec in "${variants[@]}"; do
  name="${spec%%:*}" rest="" vlib="$default_lib" venv=""
  [[ "$spec" == *:* ]] && rest="${spec#*:}"
  if [[ "$rest" == *lib=* ]]; then
    vlib="${rest##*lib=}"
    rest="${rest%lib=*}"
    rest="${rest%:}"
  fi
  [ -f "$vlib" ] || { echo "run_levers: variant $name: no library at $vlib" >&2; exit 1; }
  for n in "${names[@]}"; do [ "$n" != "$name" ] || { echo "run_levers: two variants named $name" >&2; exit 1; }; done
  names+=("$name") envs+=("${rest//,/ }") libs+=("$vlib")
done

failed=0
jsons=()
for r in $(seq 1 "$rounds"); do
  for i in "${!names[@]}"; do
    prefix="$out/${names[$i]}.$r"
    lib="${libs[$i]}"
    read -r -a venv <<<"${envs[$i]}"
    rc=0
    run_hotset "$prefix" "${venv[@]}" -- --dist zipf --size "$size" --target "$target%" \
      --warmup "$warmup" --warmup-max "$warmup_max" --measure "$measure" --sample "$sample" || rc=$?
    if ((rc != 0)); then
      echo "run_levers: ${names[$i]} round $r exited $rc (1: a page lost its contents; see $prefix.log)" >&2
      failed=1
      continue
    fi
    jsons+=("${names[$i]}|${envs[$i]}|${libs[$i]}|$prefix.json")
  done
done
lib="$default_lib"

run_report run_levers levers_report.py "$out/levers.md" "bench/run_levers.sh ${orig_args[*]}" "${jsons[@]}"
# Every variant that ran must be in the report (a report script that dropped one would
# otherwise go unseen).
for name in "${names[@]}"; do
  grep -q "^| $name |" "$out/levers.md" 2>/dev/null || { echo "run_levers: variant $name is missing from $out/levers.md" >&2; failed=1; }
done
exit "$failed"
