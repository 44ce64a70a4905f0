#!/usr/bin/env bash
# One lever on Redis or memcached, measured on its own: bench/compare_zram.sh run for two
# (or more) builds of libtmc in turn, round by round, so that the builds see the same
# machine; then per build and scenario the median of the rounds and its ratio to the first
# build's (scripts/compare_builds_report.py).
#
# usage: bench/compare_builds.sh --builds DIR_A,DIR_B [--rounds 2] [--out DIR] [--label A,B]
#            -- COMPARE_ZRAM_ARGS...
#   --builds    build directories (each with libtmc.so, tmcctl and bench/tmc_loadgen); the
#               first is the reference
#   --label     a name per build for the report (default: the directories' names)
#   --rounds N  rounds; each runs compare_zram.sh once per build (--reps 1), in turn
#   --out DIR   where each run's compare.md / compare.csv go (DIR/BUILD-ROUND/) and the
#               report, DIR/builds.md (default bench/results/builds)
# Everything after -- goes to compare_zram.sh, e.g.
#   bench/compare_builds.sh --builds build-a,build-b -- --servers redis --size 512M \
#       --scenarios plain,tmc@50 --tuned TMC_CODEC=zstd --duration 60s --steady 60s
# Exit status: 0 when every run passed its checks.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ORIG_CMD="bench/compare_builds.sh${*:+ $*}"
builds="" labels="" rounds=2 out="$REPO/bench/results/builds"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --builds) builds="${2:?--builds needs a value}"; shift 2 ;;
    --label) labels="${2:?--label needs a value}"; shift 2 ;;
    --rounds) rounds="${2:?--rounds needs a value}"; shift 2 ;;
    --out) out="${2:?--out needs a value}"; shift 2 ;;
    --) shift; break ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "compare_builds: unknown argument '$1' (--help)" >&2; exit 2 ;;
  esac
done
IFS=, read -r -a dirs <<<"$builds"
((${#dirs[@]} >= 2)) || { echo "compare_builds: --builds needs at least two build directories" >&2; exit 2; }
[[ $rounds =~ ^[1-9][0-9]*$ ]] || { echo "compare_builds: --rounds needs a positive integer" >&2; exit 2; }
if [[ -n $labels ]]; then IFS=, read -r -a names <<<"$labels"; else names=(); for d in "${dirs[@]}"; do names+=("$(basename "$d")"); done; fi
((${#names[@]} == ${#dirs[@]})) || { echo "compare_builds: --label needs one name per build" >&2; exit 2; }
for d in "${dirs[@]}"; do
  [[ -f $d/libtmc.so && -x $d/tmcctl && -x $d/bench/tmc_loadgen ]] ||
    { echo "compare_builds: $d has no libtmc.so, tmcctl and bench/tmc_loadgen (build it first)" >&2; exit 2; }
done
mkdir -p "$out"
out="$(cd "$out" && pwd)"
failed=0
for ((r = 1; r <= rounds; r++)); do
  for i in "${!dirs[@]}"; do
    echo "== round $r of $rounds: ${names[$i]} (${dirs[$i]})" >&2
    bash "$REPO/bench/compare_zram.sh" --build-dir "${dirs[$i]}" --reps 1 --out "$out/${names[$i]}-$r" "$@" || failed=$((failed + 1))
  done
done
{
  echo "$ORIG_CMD"
  for i in "${!dirs[@]}"; do echo "${names[$i]} ${dirs[$i]} $(stat -c %y "${dirs[$i]}/libtmc.so" | cut -d. -f1)"; done
} >"$out/builds.meta"
/usr/bin/python3 "$REPO/scripts/compare_builds_report.py" "$out" "${names[@]}"
((failed == 0)) || { echo "compare_builds: $failed run(s) failed (their compare.md says why)" >&2; exit 1; }
