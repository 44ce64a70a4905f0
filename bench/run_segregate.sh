#!/usr/bin/env bash
# Hot/cold segregation by allocation site (TMC_SEGREGATE), measured on a cache whose
# per-entry headers are read all the time while its payloads, of the same jemalloc size
# class and allocated right after them, are almost never read
# (bench/segregate/hotcold_cache.cc). Three modes, interleaved (the order rotates with
# every repetition):
#   jemalloc      LD_PRELOAD=libjemalloc.so.2: the memory the program needs
#   libtmc        LD_PRELOAD=libtmc.so TMC_SEGREGATE=0
#   segregate     LD_PRELOAD=libtmc.so TMC_SEGREGATE=1
# Both libtmc modes run with TMC_COLD_AGE (default 5s, so that the run fits in minutes;
# the default age of 2m behaves alike over a longer run) and every other option at its
# default. Each run prints a line per second (RSS, operations, faults); the report takes
# the means over the second half of each run (after the cache has filled) and writes
# OUT/segregate.md headed by this command line, with the per-second series in
# OUT/segregate_runs/.
#
# usage: bench/run_segregate.sh [--build-dir DIR] [--out DIR] [--reps N] [--seconds S]
#                               [--fill-seconds F] [--entries N] [--cold-age AGE] [--quick]
#   --build-dir  where bench/bench_hotcold_cache and libtmc.so are (default build)
#   --out        bench/results (--quick: a new temporary directory)
#   --reps       repetitions of each mode (default 2)
#   --seconds    length of each run (default 180); --fill-seconds: the cache fills over
#                this long first (default 90); --entries: cache entries (default 300000)
#   --quick      CI smoke run: 40000 entries, 20 s runs, one repetition; checks that the
#                program ran and its data survived, not the goals
# Exit: 0 when every run ended with check=ok.
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
JEMALLOC_SO=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2
build="$REPO/build"
out=""
reps=2
seconds=180
fill=90
entries=300000
cold_age=5s
quick=0
orig_args=("$@")
while [ $# -gt 0 ]; do
  case "$1" in
    --build-dir) build="$(cd "${2:?--build-dir needs a directory}" && pwd)"; shift 2 ;;
    --out) out="${2:?}"; shift 2 ;;
    --reps) reps="${2:?}"; shift 2 ;;
    --seconds) seconds="${2:?}"; shift 2 ;;
    --fill-seconds) fill="${2:?}"; shift 2 ;;
    --entries) entries="${2:?}"; shift 2 ;;
    --cold-age) cold_age="${2:?}"; shift 2 ;;
    --quick) quick=1; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "run_segregate: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
if [ "$quick" = 1 ]; then
  entries=40000; seconds=20; fill=8; reps=1; cold_age=2s
  out="${out:-$(mktemp -d)}"
fi
out="${out:-$REPO/bench/results}"
program="$build/bench/bench_hotcold_cache"
libtmc="$build/libtmc.so"
for f in "$program" "$libtmc" "$JEMALLOC_SO"; do
  [ -e "$f" ] || { echo "run_segregate: $f is missing (build the bench_hotcold_cache and tmc targets)" >&2; exit 1; }
done
mkdir -p "$out/segregate_runs"
rm -f "$out"/segregate_runs/*.log

modes=(jemalloc libtmc segregate)
run_one() {  # mode rep
  local mode="$1" rep="$2" log="$out/segregate_runs/$1_$2.log"
  local env=(env -u LD_PRELOAD -u MALLOC_CONF)
  while IFS= read -r v; do env+=(-u "$v"); done < <(compgen -e | grep '^TMC_' || true)
  case "$mode" in
    jemalloc) env+=(LD_PRELOAD="$JEMALLOC_SO") ;;
    libtmc) env+=(LD_PRELOAD="$libtmc" TMC_COLD_AGE="$cold_age" TMC_SEGREGATE=0) ;;
    segregate) env+=(LD_PRELOAD="$libtmc" TMC_COLD_AGE="$cold_age" TMC_SEGREGATE=1) ;;
  esac
  echo "== $mode, repetition $rep ($seconds s)" >&2
  "${env[@]}" "$program" --entries "$entries" --fill-seconds "$fill" --seconds "$seconds" > "$log"
  tail -n 1 "$log" >&2
  grep -q 'check=ok' "$log"
}
for ((rep = 1; rep <= reps; rep++)); do
  for ((i = 0; i < ${#modes[@]}; i++)); do
    run_one "${modes[$(((i + rep - 1) % ${#modes[@]}))]}" "$rep"
  done
done
python3 "$REPO/scripts/segregate_report.py" --runs "$out/segregate_runs" --out "$out/segregate.md" \
  --command "bench/run_segregate.sh ${orig_args[*]}" --cold-age "$cold_age" --libtmc "$libtmc"
echo "report: $out/segregate.md" >&2
