#!/usr/bin/env bash
# Overhead of libtmc against plain jemalloc (and of jemalloc against glibc malloc), and of
# libtmc's allocation-site profiler (on by default) against libtmc with it turned off.
#
# Runs every workload in bench/workloads/ in four modes, INTERLEAVED (mode order rotated on
# every repetition, so slow drift of the machine hits every mode alike):
#   plain           glibc malloc, nothing preloaded
#   jemalloc        LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2
#   libtmc          LD_PRELOAD=<build>/libtmc.so TMC_ENABLE=1 (every other TMC_* at its default,
#                   so the sampled allocation-site profiler TMC_SITES=1 is on)
#   libtmc-nosites  LD_PRELOAD=<build>/libtmc.so TMC_ENABLE=1 TMC_SITES=0 (the same library with
#                   the profiler off; libtmc/libtmc-nosites is what profiling costs)
# measuring each run with GNU time (elapsed, user, sys, max RSS, minor faults) into
# <out>/overhead.csv, then runs the Google Benchmark fast-path binary once per mode
# (--benchmark_repetitions=N, JSON into <out>/micro/), and finally writes <out>/overhead.md
# (medians and ratios, via scripts/bench_overhead_report.py) headed by this command line.
#
# usage: bench/run_overhead.sh [--reps N] [--quick] [--out DIR] [--build-dir DIR]
#                              [--libtmc PATH] [--modes plain,jemalloc,libtmc,libtmc-nosites]
#                              [--workloads larson,cache_scratch,...] [--no-micro] [--no-build]
#   --reps N     repetitions per workload and mode, and micro-benchmark repetitions (default 5)
#   --quick      CI smoke run: 1 repetition, small work, short micro runs. Writes to a fresh
#                temporary directory (or --out, which must not be bench/results), never to the
#                committed results.
#   --out DIR    where overhead.csv, overhead.md and micro/ go (default bench/results)
#   --build-dir  the CMake build directory (default build); if it is configured, the script
#                runs `cmake --build` for the benchmark targets (and libtmc) first
#   --libtmc     the preload to test in modes libtmc and libtmc-nosites (default <build-dir>/libtmc.so)
#   --modes      a subset of the modes, e.g. plain,jemalloc while libtmc.so doesn't build
#   --no-build   don't call cmake --build
#   --max-retries N  how often a repetition of a workload (all modes) or a mode's micro run is
#                redone because other work used more than 5% of a CPU during it (default 10;
#                0 in --quick); before each, the script waits up to 10 minutes for the machine
#                to be idle
#
# Every run must print malloc_from=<the library that was supposed to be preloaded>, and every
# workload checks its own data; any failure stops the script with a non-zero status.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
JEMALLOC_SO=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2
ALL_MODES=(plain jemalloc libtmc libtmc-nosites)
ALL_WORKLOADS=(larson cache_scratch xmalloc_test realloc_heavy)

reps=5
quick=0
out=""
build_dir="$REPO/build"
libtmc=""
modes_arg=""
workloads_arg=""
micro=1
do_build=1
max_retries=10
orig_args=("$@")

die() { echo "run_overhead: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
  case "$1" in
    --reps) reps="${2:?}"; shift 2 ;;
    --quick) quick=1; shift ;;
    --out) out="${2:?}"; shift 2 ;;
    --build-dir) build_dir="${2:?}"; shift 2 ;;
    --libtmc) libtmc="${2:?}"; shift 2 ;;
    --modes) modes_arg="${2:?}"; shift 2 ;;
    --workloads) workloads_arg="${2:?}"; shift 2 ;;
    --no-micro) micro=0; shift ;;
    --no-build) do_build=0; shift ;;
    --max-retries) max_retries="${2:?}"; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
done
[[ "$reps" =~ ^[1-9][0-9]*$ ]] || die "--reps needs a positive integer"
build_dir="$(cd "$build_dir" 2>/dev/null && pwd)" || die "no build directory (configure first: cmake -S . -B build)"
[ -n "$libtmc" ] || libtmc="$build_dir/libtmc.so"

IFS=, read -r -a modes <<<"${modes_arg:-$(IFS=,; echo "${ALL_MODES[*]}")}"
IFS=, read -r -a workloads <<<"${workloads_arg:-$(IFS=,; echo "${ALL_WORKLOADS[*]}")}"
for m in "${modes[@]}"; do [[ " ${ALL_MODES[*]} " == *" $m "* ]] || die "unknown mode: $m"; done
for w in "${workloads[@]}"; do [[ " ${ALL_WORKLOADS[*]} " == *" $w "* ]] || die "unknown workload: $w"; done
has_mode() { [[ " ${modes[*]} " == *" $1 "* ]]; }
uses_libtmc() { has_mode libtmc || has_mode libtmc-nosites; }

results_dir="$REPO/bench/results"
if [ "$quick" = 1 ]; then
  reps=1
  max_retries=0
  if [ -z "$out" ]; then
    out="$(mktemp -d "${TMPDIR:-/tmp}/tmc-bench-quick.XXXXXX")"
  fi
  mkdir -p "$out"
  [ "$(cd "$out" && pwd)" != "$(mkdir -p "$results_dir" && cd "$results_dir" && pwd)" ] ||
    die "--quick never writes to bench/results (pick another --out)"
fi
[ -n "$out" ] || out="$results_dir"
mkdir -p "$out"
out="$(cd "$out" && pwd)"

# ---- build (only cmake --build of an already configured tree) --------------------------------
if [ "$do_build" = 1 ]; then
  [ -f "$build_dir/CMakeCache.txt" ] || die "$build_dir is not a configured CMake build (cmake -S . -B build), or pass --no-build"
  if grep -q '^TMC_BUILD_BENCH:BOOL=OFF' "$build_dir/CMakeCache.txt"; then
    die "$build_dir was configured with TMC_BUILD_BENCH=OFF (cmake -S . -B $build_dir -DTMC_BUILD_BENCH=ON)"
  fi
  targets=(bench)
  if uses_libtmc && [ "$libtmc" = "$build_dir/libtmc.so" ]; then targets+=(tmc); fi
  echo "== cmake --build $build_dir --target ${targets[*]}" >&2
  cmake --build "$build_dir" -j"$(nproc)" --target "${targets[@]}" >&2 || die "build failed"
fi
bindir="$build_dir/bench"
for w in "${workloads[@]}"; do [ -x "$bindir/bench_$w" ] || die "missing $bindir/bench_$w (cmake --build $build_dir --target bench)"; done
micro_bin="$bindir/bench_malloc_fast_path"
if [ "$micro" = 1 ] && [ ! -x "$micro_bin" ]; then die "missing $micro_bin (is libbenchmark-dev installed?), or pass --no-micro"; fi
if uses_libtmc; then
  [ -f "$libtmc" ] || die "libtmc not found at $libtmc (build it, pass --libtmc PATH, or --modes plain,jemalloc)"
  libtmc="$(cd "$(dirname "$libtmc")" && pwd)/$(basename "$libtmc")"
fi
has_mode jemalloc && { [ -f "$JEMALLOC_SO" ] || die "$JEMALLOC_SO missing (apt-get install libjemalloc2)"; }
[ -x /usr/bin/time ] || die "GNU time missing (apt-get install time)"

# ---- modes ------------------------------------------------------------------------------------
# Every run starts from the same environment: no preload, no allocator tuning, no TMC_* knobs.
clean_env=(-u LD_PRELOAD -u MALLOC_CONF -u _RJEM_MALLOC_CONF -u GLIBC_TUNABLES -u MALLOC_ARENA_MAX)
while IFS= read -r v; do clean_env+=(-u "$v"); done < <(compgen -e | grep '^TMC_' || true)

mode_env() {  # prints nothing; sets the array menv for mode $1
  case "$1" in
    plain) menv=() ;;
    jemalloc) menv=("LD_PRELOAD=$JEMALLOC_SO") ;;
    libtmc) menv=("LD_PRELOAD=$libtmc" TMC_ENABLE=1) ;;
    libtmc-nosites) menv=("LD_PRELOAD=$libtmc" TMC_ENABLE=1 TMC_SITES=0) ;;
  esac
}
expected_malloc_from() {
  case "$1" in
    plain) echo libc.so.6 ;;
    jemalloc) basename "$JEMALLOC_SO" ;;
    libtmc|libtmc-nosites) basename "$libtmc" ;;
  esac
}

# ---- workloads: fixed work; the quick sizes only prove the harness works ---------------------
workload_args() {
  if [ "$quick" = 1 ]; then
    case "$1" in
      larson) echo "-t 2 -n 4 -o 100000" ;;
      cache_scratch) echo "-t 2 -n 50 -r 20000" ;;
      xmalloc_test) echo "-t 2 -n 500000" ;;
      realloc_heavy) echo "-t 2 -n 300000" ;;
    esac
  else
    case "$1" in
      larson) echo "-t 2 -n 100 -o 500000" ;;
      cache_scratch) echo "-t 2 -n 1000 -r 400000" ;;
      xmalloc_test) echo "-t 2 -n 30000000" ;;
      realloc_heavy) echo "-t 2 -n 10000000" ;;
    esac
  fi
}

csv="$out/overhead.csv"
tmp="$(mktemp -d "${TMPDIR:-/tmp}/tmc-bench-run.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
echo "workload,mode,rep,position,elapsed_s,user_s,sys_s,maxrss_kb,minor_faults,exit_code,workload_s,ops_per_s,other_cpu_s,attempt,malloc_from,args" >"$csv"

# Busy CPU time of the whole machine so far, in clock ticks (user nice system irq softirq steal).
busy_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9; exit }' /proc/stat; }
HZ="$(getconf CLK_TCK)"
# A run is "disturbed" when the rest of the machine used more than 5% of a CPU during it
# (plus 0.05 s for this script's own env/time/awk processes).
disturbed() {  # disturbed OTHER_CPU_S ELAPSED_S
  awk -v o="$1" -v e="$2" 'BEGIN { exit !(o > 0.05 * e + 0.05) }'
}
# Waits (at most 10 minutes) until the rest of the machine has used under 5% of a CPU for 2 s.
wait_quiet() {
  [ "$max_retries" -gt 0 ] || return 0
  local waited=0 b0 b1
  while :; do
    b0="$(busy_ticks)"; sleep 2; b1="$(busy_ticks)"
    awk -v b="$((b1 - b0))" -v hz="$HZ" 'BEGIN { exit !(b / hz < 0.1) }' && return 0
    if [ "$waited" -ge 600 ]; then
      echo "run_overhead: machine still busy after ${waited}s; going on" >&2
      return 0
    fi
    [ "$waited" -gt 0 ] || echo "run_overhead: machine busy; waiting for it to calm down" >&2
    sleep 8; waited=$((waited + 10))
  done
}

# run_one WORKLOAD MODE REP POSITION RECORD ATTEMPT: RECORD=1 appends a CSV row to
# $tmp/group and sets run_disturbed=1 when other work disturbed the run.
run_one() {
  local w="$1" mode="$2" rep="$3" pos="$4" record="${5:-1}" attempt="${6:-0}"
  local -a args
  read -r -a args <<<"$(workload_args "$w")"
  mode_env "$mode"
  local rc=0 busy0 busy1
  busy0="$(busy_ticks)"
  /usr/bin/time -o "$tmp/time" -f 'TIME %e %U %S %M %R %x' \
    env "${clean_env[@]}" "${menv[@]}" "$bindir/bench_$w" "${args[@]}" >"$tmp/stdout" 2>"$tmp/stderr" || rc=$?
  busy1="$(busy_ticks)"
  local line
  line="$(grep -m1 "^$w " "$tmp/stdout" || true)"
  if [ "$rc" != 0 ] || [ -z "$line" ]; then
    echo "run_overhead: $w failed in mode $mode (exit $rc):" >&2
    tail -n 20 "$tmp/stdout" "$tmp/stderr" >&2
    exit 1
  fi
  local from
  from="$(sed -n 's/.* malloc_from=\([^ ]*\).*/\1/p' <<<"$line")"
  if [ "$from" != "$(expected_malloc_from "$mode")" ]; then
    die "$w in mode $mode called malloc from '$from', expected '$(expected_malloc_from "$mode")': the preload did not take effect"
  fi
  if [ -s "$tmp/stderr" ]; then
    echo "run_overhead: note: $w ($mode) wrote to stderr:" >&2
    head -n 5 "$tmp/stderr" >&2
  fi
  [ "$record" = 1 ] || return 0
  local t e u s m r x
  read -r t e u s m r x < <(grep '^TIME ' "$tmp/time")
  local secs ops
  secs="$(sed -n 's/.* seconds=\([^ ]*\).*/\1/p' <<<"$line")"
  ops="$(sed -n 's/.* ops_per_s=\([^ ]*\).*/\1/p' <<<"$line")"
  # CPU time the rest of the machine used during the run: other work skews the numbers.
  local other
  other="$(awk -v b="$((busy1 - busy0))" -v hz="$HZ" -v u="$u" -v s="$s" \
    'BEGIN { o = b / hz - u - s; if (o < 0) o = 0; printf "%.2f", o }')"
  echo "$w,$mode,$rep,$pos,$e,$u,$s,$m,$r,$x,$secs,$ops,$other,$attempt,$from,${args[*]}" >>"$tmp/group"
  local flag=""
  if disturbed "$other" "$e"; then run_disturbed=1; flag="  (disturbed)"; fi
  printf '  %-14s %-14s rep %d  %6.2f s  %7d KB  other CPU %5.2f s%s\n' "$w" "$mode" "$rep" "$e" "$m" "$other" "$flag" >&2
}

echo "== results to $out (reps=$reps quick=$quick modes=${modes[*]})" >&2
# Other work on the machine skews the numbers far more than 5%; say so rather than guess.
load_start="$(cut -d' ' -f1-3 /proc/loadavg)"
if awk -v l="${load_start%% *}" -v n="$(nproc)" 'BEGIN { exit !(l > 0.25 * n) }'; then
  echo "run_overhead: WARNING: load average is $load_start on $(nproc) CPUs; other work will skew the results" >&2
fi
# One unrecorded warm-up per workload and mode (page cache, first-run effects), at quick size.
saved_quick="$quick"; quick=1
for w in "${workloads[@]}"; do for m in "${modes[@]}"; do run_one "$w" "$m" 0 0 0; done; done
quick="$saved_quick"

# A repetition of a workload runs every mode back to back; if other work disturbed any of
# them, the whole group is run again, so the modes of one repetition stay comparable.
n_modes=${#modes[@]}
for ((rep = 1; rep <= reps; rep++)); do
  for w in "${workloads[@]}"; do
    for ((attempt = 0; ; attempt++)); do
      wait_quiet
      : >"$tmp/group"
      run_disturbed=0
      for ((i = 0; i < n_modes; i++)); do
        m="${modes[$(((i + rep - 1) % n_modes))]}"
        run_one "$w" "$m" "$rep" "$((i + 1))" 1 "$attempt"
      done
      if [ "$run_disturbed" = 0 ] || [ "$attempt" -ge "$max_retries" ]; then break; fi
      echo "run_overhead: other work disturbed $w rep $rep; running it again" >&2
    done
    cat "$tmp/group" >>"$csv"
  done
done

# ---- micro-benchmarks ---------------------------------------------------------------------------
micro_dir="$out/micro"
if [ "$micro" = 1 ]; then
  mkdir -p "$micro_dir"
  rm -f "$micro_dir"/micro_*.json
  if [ "$quick" = 1 ]; then
    gb_args=(--benchmark_repetitions=1 --benchmark_min_time=0.01)
  else
    gb_args=(--benchmark_repetitions="$reps" --benchmark_min_time=0.2 --benchmark_enable_random_interleaving=true)
  fi
  for m in "${modes[@]}"; do
    mode_env "$m"
    for ((attempt = 0; ; attempt++)); do
      wait_quiet
      echo "== micro-benchmarks, mode $m" >&2
      b0="$(busy_ticks)"
      /usr/bin/time -o "$tmp/time" -f 'TIME %e %U %S' \
        env "${clean_env[@]}" "${menv[@]}" "$micro_bin" "${gb_args[@]}" \
        --benchmark_out="$micro_dir/micro_$m.json" --benchmark_out_format=json \
        >"$tmp/micro.stdout" 2>"$tmp/micro.stderr" || {
        cat "$tmp/micro.stderr" >&2
        die "micro-benchmarks failed in mode $m"
      }
      b1="$(busy_ticks)"
      read -r _ e u s < <(grep '^TIME ' "$tmp/time")
      other="$(awk -v b="$((b1 - b0))" -v hz="$HZ" -v u="$u" -v s="$s" \
        'BEGIN { o = b / hz - u - s; if (o < 0) o = 0; printf "%.2f", o }')"
      echo "   $e s, other CPU $other s" >&2
      if ! disturbed "$other" "$e" || [ "$attempt" -ge "$max_retries" ]; then break; fi
      echo "run_overhead: other work disturbed the micro-benchmarks in mode $m; running them again" >&2
    done
    from="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["context"].get("malloc_from",""))' "$micro_dir/micro_$m.json")"
    [ "$from" = "$(expected_malloc_from "$m")" ] ||
      die "micro-benchmarks in mode $m called malloc from '$from': the preload did not take effect"
  done
fi

# ---- report -------------------------------------------------------------------------------------
cmdline="bench/run_overhead.sh"
for a in "${orig_args[@]+"${orig_args[@]}"}"; do
  if [[ "$a" =~ ^[A-Za-z0-9_./,=:+-]+$ ]]; then cmdline+=" $a"; else cmdline+=" $(printf '%q' "$a")"; fi
done
report_args=(--csv "$csv" --out "$out/overhead.md" --command "$cmdline" --reps "$reps"
  --load "$load_start / $(cut -d' ' -f1-3 /proc/loadavg)"
  --jemalloc "$JEMALLOC_SO" --repo "$REPO" --build-dir "$build_dir")
uses_libtmc && report_args+=(--libtmc "$libtmc")
[ "$micro" = 1 ] && report_args+=(--micro-dir "$micro_dir" --micro-csv "$out/micro.csv")
[ "$quick" = 1 ] && report_args+=(--quick)
python3 "$REPO/scripts/bench_overhead_report.py" "${report_args[@]}"
echo "== wrote $out/overhead.md" >&2
