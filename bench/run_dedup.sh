#!/usr/bin/env bash
# Dedup benchmark (issue 13): Debian's redis-server holding repeated values and ordinary
# data, plain, under libtmc without and with pool dedup, under libtmc with TMC_KSM=1, and
# plain under the kernel's KSM, side by side: memory once cold, memory and throughput under
# a Zipf load, and the CPU the dedup work costs.
#
# usage: bench/run_dedup.sh [--datasets rep4k,rep64k,real] [--size 1G] [--rounds 3]
#            [--variants plain,plain-ksm,libtmc-nodedup,libtmc-dedup,libtmc-ksm]
#            [--cold-age 10s] [--distinct 64] [--duration 60s] [--warmup 10s]
#            [--dist zipf:0.99] [--reads 0.9] [--threads 1] [--conns 4] [--pipeline 8]
#            [--ksm-pages-to-scan 1000] [--ksm-sleep-ms 20] [--env TMC_VAR=VALUE]...
#            [--settle-timeout 600] [--build-dir build] [--out bench/results] [--quick]
#   --datasets LIST  rep4k   strings of 4 KiB (--value-size 4096), each one of --distinct
#                            contents (tmc_loadgen --distinct)
#                    rep64k  strings of 16-64 KiB (log-uniform), each one of --distinct
#                            contents (jemalloc's large allocations, each at a random
#                            64-byte offset in its first page: opt.cache_oblivious)
#                    real    the load generator's realistic values (strings, hashes, lists of
#                            100 B - 4 KiB, every value its own)
#   --size SIZE      value bytes per dataset (default 1G); the key count is SIZE / the mean
#                    value size of the dataset
#   --variants LIST  plain           redis-server alone
#                    plain-ksm       redis-server made mergeable as a whole by a launcher that
#                                    calls prctl(PR_SET_MEMORY_MERGE, 1) and execs it (the
#                                    kernel's KSM for an unchanged program), ksmd running
#                    libtmc-nodedup  LD_PRELOAD=libtmc.so TMC_DEDUP=0
#                    libtmc-dedup    LD_PRELOAD=libtmc.so TMC_DEDUP=1
#                    libtmc-ksm      LD_PRELOAD=libtmc.so TMC_KSM=1 TMC_DEDUP=0, ksmd running
#                    every libtmc run with TMC_COLD_AGE=--cold-age and the --env options
#   --rounds N       every variant of every dataset N times, round by round (dataset by
#                    dataset, variant after variant), so that a drift of the machine shows
#                    as spread and falls on every variant alike
#   --ksm-pages-to-scan N, --ksm-sleep-ms N  ksmd's scan rate during the KSM runs (as root:
#                    written to /sys/kernel/mm/ksm with run=1, and the settings found put
#                    back after each run and at exit; without root the KSM runs need ksmd
#                    running already and use its settings). The report records them.
#   --quick          smoke run: 64M per dataset, one round, 8 s load (2 s warm-up), cold age
#                    3s, settling sampled every 2 s; into a temporary directory unless --out
#                    is given
# Every run, one server at a time, on 127.0.0.1 with --save "" --appendonly no
# --enable-debug-command local: load every key (tmc_loadgen --load); wait until memory
# settles (Pss sampled until it stops moving; under libtmc also until evictions stop, the
# cold age at least; with KSM also 3 full scans of ksmd); memory once cold: Pss (from
# /proc/PID/smaps_rollup; VmRSS counts a page KSM merged once per mapping, Pss once in
# all), RSS and libtmc's statistics; then the timed load (--dist, --reads, every value read
# checked) with Pss sampled each second; then every key read back (--check-all), the
# dataset put back to its loaded state (--reset) and DEBUG DIGEST compared with the plain
# run's of the same dataset: a difference fails the run. The CPU of the dedup work over the
# cold phase and over the timed load, as a share of one core: ksmd's (utime + stime in
# /proc/PID/stat) for the KSM variants, libtmc's cpu_ns_dedup (when it reports it) for the
# others; libtmc's cpu_ns_background beside it.
# Writes dedup.md (scripts/dedup_report.py: per dataset medians and ranges over the rounds,
# ratios to plain and plain-ksm, the issue's goals), dedup.csv (one row per run),
# dedup.json (the medians), dedup.meta.json and dedup_runs/ (per run: the load's JSON and
# libtmc's statistics) into --out.
# Exit status: 0 when every run passed its checks (goals missed are reported, not
# failures), 1 when a run failed (a digest that differs, a mismatch, a crash).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ORIG_CMD="bench/run_dedup.sh${*:+ $*}"
datasets=rep4k,rep64k,real
variants=plain,plain-ksm,libtmc-nodedup,libtmc-dedup,libtmc-ksm
size=1G
rounds=3
cold_age=10s
distinct=64
duration=60s
warmup=10s
dist=zipf:0.99
reads=0.9
threads=1
conns=4
pipeline=8
ksm_pages=1000
ksm_sleep=20
extra_env=()
settle_timeout=600
build_dir="$REPO/build"
out=""
quick=0
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --datasets) datasets="${2:?--datasets needs a value}"; shift 2 ;;
    --variants) variants="${2:?--variants needs a value}"; shift 2 ;;
    --size) size="${2:?--size needs a value}"; shift 2 ;;
    --rounds) rounds="${2:?--rounds needs a value}"; shift 2 ;;
    --cold-age) cold_age="${2:?--cold-age needs a value}"; shift 2 ;;
    --distinct) distinct="${2:?--distinct needs a value}"; shift 2 ;;
    --duration) duration="${2:?--duration needs a value}"; shift 2 ;;
    --warmup) warmup="${2:?--warmup needs a value}"; shift 2 ;;
    --dist) dist="${2:?--dist needs a value}"; shift 2 ;;
    --reads) reads="${2:?--reads needs a value}"; shift 2 ;;
    --threads) threads="${2:?--threads needs a value}"; shift 2 ;;
    --conns) conns="${2:?--conns needs a value}"; shift 2 ;;
    --pipeline) pipeline="${2:?--pipeline needs a value}"; shift 2 ;;
    --ksm-pages-to-scan) ksm_pages="${2:?--ksm-pages-to-scan needs a value}"; shift 2 ;;
    --ksm-sleep-ms) ksm_sleep="${2:?--ksm-sleep-ms needs a value}"; shift 2 ;;
    --env) [[ "${2:-}" =~ ^TMC_[A-Z0-9_]+=.*$ ]] || { echo "run_dedup: --env needs TMC_VAR=VALUE" >&2; exit 2; }
      extra_env+=("$2"); shift 2 ;;
    --settle-timeout) settle_timeout="${2:?--settle-timeout needs a value}"; shift 2 ;;
    --build-dir) build_dir="${2:?--build-dir needs a value}"; shift 2 ;;
    --out) out="${2:?--out needs a value}"; shift 2 ;;
    --quick) quick=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) echo "run_dedup: unknown argument '$1' (--help lists them)" >&2; exit 2 ;;
  esac
done

source "$REPO/tests/programs/lib.sh"
source "$REPO/bench/datasets/compress_lib.sh"
source "$REPO/bench/compare/ksm_lib.sh"

if ((quick)); then
  size=64M rounds=1 duration=8s warmup=2s cold_age=3s settle_timeout=180
  SETTLE_POLL=2
  [[ -n $out ]] || out="$WORK/results"
  # Inside ctest's TIMEOUT (1200 s), so that our EXIT trap always puts ksmd's settings back.
  watchdog 1100
fi
[[ -n $out ]] || out="$REPO/bench/results"
[[ "$rounds" =~ ^[1-9][0-9]*$ ]] || die "--rounds needs a positive integer"
[[ "$distinct" =~ ^[1-9][0-9]*$ ]] || die "--distinct needs a positive integer"
[[ "$ksm_pages" =~ ^[1-9][0-9]*$ && "$ksm_sleep" =~ ^[0-9]+$ ]] || die "--ksm-pages-to-scan and --ksm-sleep-ms need whole numbers"
IFS=, read -r -a dataset_list <<<"$datasets"
for d in "${dataset_list[@]}"; do
  case "$d" in rep4k | rep64k | real) ;; *) die "unknown dataset '$d' (rep4k, rep64k, real)" ;; esac
done
IFS=, read -r -a variant_list <<<"$variants"
for v in "${variant_list[@]}"; do
  case "$v" in plain | plain-ksm | libtmc-nodedup | libtmc-dedup | libtmc-ksm) ;;
    *) die "unknown variant '$v' (plain, plain-ksm, libtmc-nodedup, libtmc-dedup, libtmc-ksm)" ;; esac
done
cold_s=$(duration_s "$cold_age") || die "--cold-age: not a duration: $cold_age"
duration_s "$duration" >/dev/null || die "--duration: not a duration: $duration"
build_dir="$(cd "$build_dir" 2>/dev/null && pwd)" || die "no build directory '$build_dir'"
need_lib "$build_dir/libtmc.so"
TMCCTL="$build_dir/tmcctl"
LOADGEN="$build_dir/bench/tmc_loadgen"
[[ -x $TMCCTL ]] || die "tmcctl not found at $TMCCTL (cmake --build $build_dir --target tmcctl)"
[[ -x $LOADGEN ]] || die "tmc_loadgen not found at $LOADGEN (cmake --build $build_dir --target tmc_loadgen)"
"$LOADGEN" --help | grep -q -- --distinct || die "$LOADGEN has no --distinct: rebuild it (cmake --build $build_dir --target tmc_loadgen)"
# The load's options, checked by the load generator itself before any server starts.
"$LOADGEN" --dist "$dist" --reads "$reads" --threads "$threads" --conns "$conns" --pipeline "$pipeline" \
  --sample /dev/null --sample-bytes 4096 --keys 10 >/dev/null || die "bad load options (above)"
warmup_s=$(duration_s "$warmup") || die "--warmup: not a duration: $warmup"
awk -v w="$warmup_s" -v d="$(duration_s "$duration")" 'BEGIN {exit !(w < d)}' || die "--warmup must be shorter than --duration"
need_bin redis-server redis-cli
KEEP_WORK_ON_FAIL=1
mkdir -p "$out/dedup_runs"
out="$(cd "$out" && pwd)"
rm -f "$out"/dedup_runs/*.json
STARTED_DATE="$(date -u '+%Y-%m-%d %H:%M:%S UTC')"

# The KSM variants: ksmd's settings saved now and put back at exit; skipped (and said)
# where the machine cannot run them.
KSM_WHY=""
if [[ " ${variant_list[*]} " == *"-ksm "* ]]; then
  KSM_WHY=$(ksm_why_not)
  if [[ -n $KSM_WHY ]]; then
    log "variants plain-ksm and libtmc-ksm skipped: $KSM_WHY"
  else
    ksm_save
    on_exit ksm_restore
  fi
fi
is_ksm() { [[ $1 == *-ksm ]]; }
is_tmc() { [[ $1 == libtmc-* ]]; }

# ---------------------------------------------------------------- datasets
# DS_ARGS[d]: the load generator's dataset options; DS_KEYS[d]: key count; DS_MEAN[d]: mean
# value bytes; ratio.$d.json: the compressibility of its values.
declare -A DS_ARGS=() DS_KEYS=() DS_MEAN=()
step "datasets"
for d in "${dataset_list[@]}"; do
  case "$d" in
    rep4k) DS_ARGS[$d]="--types string:100 --value-size 4096 --distinct $distinct" ;;
    rep64k) DS_ARGS[$d]="--types string:100 --value-size 16384-65536 --distinct $distinct" ;;
    real) DS_ARGS[$d]="" ;;
  esac
  # shellcheck disable=SC2086  # DS_ARGS holds words
  "$LOADGEN" ${DS_ARGS[$d]} --ratio --keys 1000000 --sample-bytes 64M --json - >"$WORK/ratio.$d.json"
  DS_MEAN[$d]=$(jget "$WORK/ratio.$d.json" mean_value_bytes)
  DS_KEYS[$d]=$(keys_for_size "$size" "${DS_MEAN[$d]}") || die "--size: not a size: $size"
  read -r r_lz4 r_zstd < <(jget "$WORK/ratio.$d.json" lz4_4k zstd1_4k | paste -sd' ')
  log "$d: ${DS_KEYS[$d]} keys, values of ${DS_MEAN[$d]} B on average (${DS_ARGS[$d]:-realistic values, every one its own}); per 4 KiB page lz4 ${r_lz4}x, zstd -1 ${r_zstd}x"
done

# ---------------------------------------------------------------- servers
SRV_PID=""
SRV_PORT=""
start_redis() {
  local logf="$1"
  shift
  start_on_free_port "$logf" "$@" redis-server --port @PORT@ --bind 127.0.0.1 --save "" --appendonly no \
    --daemonize no --enable-debug-command local --dir "$WORK" --logfile "" || die "redis-server did not start (log: $logf)"
  SRV_PORT=$STARTED_PORT
  SRV_PID=$STARTED_PID
  SERVER_PID=$SRV_PID
}
rcli() { timeout 900 redis-cli -h 127.0.0.1 -p "$SRV_PORT" "$@"; }
alive() { kill -0 "$SRV_PID" 2>/dev/null || die "$1: redis-server died"; }
stop_redis() {
  rcli SHUTDOWN NOSAVE >/dev/null 2>&1 || true
  stop_pid "$SRV_PID" 30 || true
  SRV_PID=""
  SERVER_PID=""
}
# sample_mem FILE: "pss rss" of the server every second into FILE until killed.
sample_mem() {
  while kill -0 "$SRV_PID" 2>/dev/null; do
    echo "$(pss_bytes "$SRV_PID" 2>/dev/null || echo 0) $(rss_bytes "$SRV_PID" 2>/dev/null || echo 0)" >>"$1"
    sleep 1
  done
}
# ksm_scans_after N: ksmd has done 3 full scans since it had done N (a page merges in the
# second scan that sees it unchanged; the third is margin).
ksm_scans_after() { (($(ksm_full_scans) >= $1 + 3)); }
# cpu_pct NS SECONDS: NS of CPU over SECONDS of wall time as a percentage of one core.
cpu_pct() { awk -v n="$1" -v s="$2" 'BEGIN {if (n == "-" || s <= 0) print "-"; else printf "%.2f", n / 1e7 / s}'; }
# stat_delta A.json B.json FIELD: B's FIELD minus A's ("-" when either lacks it).
stat_delta() {
  "$PY" - "$@" <<'PY'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
f = sys.argv[3]
print(b[f] - a[f] if isinstance(a.get(f), (int, float)) and isinstance(b.get(f), (int, float)) else "-")
PY
}
# prefixed_stats FILE: "name=value;..." of every statistic named dedup_* or cpu_ns_* in FILE.
prefixed_stats() {
  "$PY" - "$1" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
print(";".join(f"{k}={v}" for k, v in sorted(d.items()) if k.startswith(("dedup_", "cpu_ns_"))))
PY
}
# tmc_cpu_put PHASE A.json B.json SECONDS: libtmc's CPU over a phase, as % of a core.
tmc_cpu_put() {
  local phase="$1" a="$2" b="$3" secs="$4" f
  for f in background reclaim fault dedup; do
    put "tmc_${f}_cpu_${phase}_pct" "$(cpu_pct "$(stat_delta "$a" "$b" "cpu_ns_$f")" "$secs")"
  done
}

COLUMNS=(dataset variant round status keys env load_s rss_load pss_load hwm settled settle_s cold_s
  pss_cold rss_cold compressed_pages dedup_pages pool_bytes orig_bytes compr_bytes ksm_merging_pages
  ksm_profit_bytes ksm_full_scans_cold dedup_stats ops_per_s p50_us p99_us p999_us read_p99_us write_p99_us run_ops
  checked mismatches
  pss_run_mean pss_run_max rss_run_max pss_after rss_after run_s ksmd_cpu_cold_pct ksmd_cpu_run_pct
  tmc_background_cpu_cold_pct tmc_reclaim_cpu_cold_pct tmc_fault_cpu_cold_pct tmc_dedup_cpu_cold_pct
  tmc_background_cpu_run_pct tmc_reclaim_cpu_run_pct tmc_fault_cpu_run_pct tmc_dedup_cpu_run_pct
  faults_run client_cpu_pct check_all_ok digest digest_ok cpu_stats_cold loadavg ksm_settings ksm_settings_end
  libtmc_bug_lines)
CSV="$WORK/rows.csv"
(IFS=,; echo "${COLUMNS[*]}") >"$CSV"

# one_run DATASET VARIANT ROUND: one run, recorded in $ROW as it goes (under run_guarded).
one_run() {
  local ds="$1" var="$2" round="$3" name="$1-$2-$3"
  local logf="$WORK/$name.log" state="$WORK/$name.state" j="$out/dedup_runs/$name.json"
  local -a wrap=(env -u LD_PRELOAD) tmc_env=()
  # shellcheck disable=SC2206  # DS_ARGS holds words
  local -a lg=("$LOADGEN" --server redis --keys "${DS_KEYS[$ds]}" --seed 1 --threads "$threads" --conns "$conns"
    --quiet ${DS_ARGS[$ds]})
  rm -f "$state"
  case "$var" in
    plain-ksm) wrap=(env -u LD_PRELOAD "${KSM_LAUNCH[@]}") ;;
    libtmc-nodedup) tmc_env=(TMC_DEDUP=0) ;;
    libtmc-dedup) tmc_env=(TMC_DEDUP=1) ;;
    libtmc-ksm) tmc_env=(TMC_KSM=1 TMC_DEDUP=0) ;;
  esac
  if is_tmc "$var"; then
    wrap=(env LD_PRELOAD="$TMC_LIB" TMC_COLD_AGE="$cold_age" "${tmc_env[@]}" "${extra_env[@]}")
    put env "TMC_COLD_AGE=$cold_age ${tmc_env[*]} ${extra_env[*]}"
  elif [[ $var == plain-ksm ]]; then
    put env "prctl(PR_SET_MEMORY_MERGE; 1) + exec"
  else
    put env "-"
  fi
  local ksm_at_start=""
  is_ksm "$var" && ksm_at_start=$(ksm_settings) && put ksm_settings "$ksm_at_start"
  put loadavg "$(cut -d' ' -f1 /proc/loadavg)"
  start_redis "$logf" "${wrap[@]}"
  if is_tmc "$var"; then is_preloaded "$SRV_PID" || die "$name: libtmc.so is not mapped into redis-server"
  else not_preloaded "$SRV_PID" || die "$name: libtmc.so is mapped into the $var redis-server"; fi
  [[ $var == plain-ksm ]] && ksm_check_merge_any "$SRV_PID"

  # Load.
  local t0
  t0=$(date +%s.%N)
  "${lg[@]}" --port "$SRV_PORT" --load --load-pipeline 64 --state "$state" || die "$name: the load failed (exit status $?)"
  put load_s "$(secs_since "$t0")"
  alive "$name: after the load"
  put rss_load "$(rss_bytes "$SRV_PID")"; put pss_load "$(pss_bytes "$SRV_PID")"
  [[ $var == libtmc-ksm && "$(ksm_stat "$SRV_PID" ksm_mergeable)" == no ]] && die "$name: TMC_KSM=1 but no area of redis-server is mergeable"

  # Cold: until memory stops moving (the cold age at least under libtmc; ksmd's scans with KSM).
  local cold0 cold1 ksm0 ksm1 settle_min=0
  cold0=$(date +%s.%N)
  ksm0=$(ksmd_cpu_ns)
  if is_tmc "$var"; then
    tmc_stats "$SRV_PID" "$WORK/$name.stats-load.json" || die "$name: tmcctl stats failed"
    settle_min=$cold_s
  fi
  log "  waiting until memory settles$(is_tmc "$var" && echo " (cold age $cold_age)")$(is_ksm "$var" && echo " and ksmd has scanned 3 times")..."
  # wait_settled's knobs (bench/datasets/compress_lib.sh), local to this run.
  local SETTLE_MEM=pss_bytes SETTLE_MEM_NAME=Pss SETTLE_UNTIL="" SETTLE_NO_TMC=""
  is_tmc "$var" || SETTLE_NO_TMC=1
  is_ksm "$var" && SETTLE_UNTIL="ksm_scans_after $(ksm_full_scans)"
  wait_settled "$SRV_PID" "$settle_min" "$settle_timeout" "$(hwm_bytes "$SRV_PID")" "$WORK/$name.samples"
  local settled=$SETTLED
  put settled "$SETTLED"; put settle_s "$SETTLE_S"
  cold1=$(date +%s.%N)
  ksm1=$(ksmd_cpu_ns)
  local cold_secs pss_cold
  cold_secs=$(awk -v a="$cold1" -v b="$cold0" 'BEGIN {printf "%.1f", a - b}')
  put cold_s "$cold_secs"
  pss_cold=$(pss_bytes "$SRV_PID")
  put pss_cold "$pss_cold"; put rss_cold "$(rss_bytes "$SRV_PID")"; put hwm "$(hwm_bytes "$SRV_PID")"
  put ksmd_cpu_cold_pct "$(cpu_pct $((ksm1 - ksm0)) "$cold_secs")"
  if is_ksm "$var"; then
    put ksm_merging_pages "$(ksm_stat "$SRV_PID" ksm_merging_pages)"
    put ksm_profit_bytes "$(ksm_stat "$SRV_PID" ksm_process_profit)"
    put ksm_full_scans_cold "$(ksm_full_scans)"
  fi
  local cold_json="$WORK/$name.stats-cold.json"
  if is_tmc "$var"; then
    tmc_stats "$SRV_PID" "$cold_json" || die "$name: tmcctl stats failed"
    local f
    for f in compressed_pages dedup_pages pool_bytes orig_bytes compr_bytes; do put "$f" "$(jget "$cold_json" "$f")"; done
    [[ $var == libtmc-ksm ]] && put ksm_merging_pages "$(jget "$cold_json" ksm_merging_pages)"
    put dedup_stats "$(prefixed_stats "$cold_json" | tr ';' '\n' | grep '^dedup_' | paste -sd';')"
    put cpu_stats_cold "$(prefixed_stats "$cold_json" | tr ';' '\n' | grep '^cpu_ns_' | paste -sd';')"
    tmc_cpu_put cold "$WORK/$name.stats-load.json" "$cold_json" "$cold_secs"
    cp "$cold_json" "$out/dedup_runs/$name.stats-cold.json"
  fi
  log "  memory once cold: Pss $(mib "$pss_cold") MiB (RSS $(mib "$(rss_bytes "$SRV_PID")") MiB) after ${cold_secs}s ($settled)"

  # The timed load, Pss sampled each second.
  local mem_file="$WORK/$name.mem" run0 run1 sampler rc=0
  : >"$mem_file"
  is_tmc "$var" && { tmc_stats "$SRV_PID" "$WORK/$name.stats-run0.json" || die "$name: tmcctl stats failed"; }
  ksm0=$(ksmd_cpu_ns)
  run0=$(date +%s.%N)
  sample_mem "$mem_file" &
  sampler=$!
  "${lg[@]}" --port "$SRV_PORT" --duration "$duration" --warmup "$warmup" --dist "$dist" --reads "$reads" \
    --pipeline "$pipeline" --verify --state "$state" --json "$j" || rc=$?
  run1=$(date +%s.%N)
  ksm1=$(ksmd_cpu_ns)
  kill "$sampler" 2>/dev/null || true
  wait "$sampler" 2>/dev/null || true
  alive "$name: after the timed load"
  local run_secs
  run_secs=$(awk -v a="$run1" -v b="$run0" 'BEGIN {printf "%.1f", a - b}')
  put run_s "$run_secs"
  put pss_after "$(pss_bytes "$SRV_PID")"; put rss_after "$(rss_bytes "$SRV_PID")"
  put ksmd_cpu_run_pct "$(cpu_pct $((ksm1 - ksm0)) "$run_secs")"
  read -r pmean pmax rmax < <(awk '{s += $1; if ($1 > m) m = $1; if ($2 > r) r = $2} END {if (NR) printf "%d %d %d\n", s / NR, m, r; else print "0 0 0"}' "$mem_file")
  put pss_run_mean "$pmean"; put pss_run_max "$pmax"; put rss_run_max "$rmax"
  if is_tmc "$var"; then
    tmc_stats "$SRV_PID" "$WORK/$name.stats-run1.json" || die "$name: tmcctl stats failed"
    tmc_cpu_put run "$WORK/$name.stats-run0.json" "$WORK/$name.stats-run1.json" "$run_secs"
    put faults_run "$(stat_delta "$WORK/$name.stats-run0.json" "$WORK/$name.stats-run1.json" faults)"
    cp "$WORK/$name.stats-run1.json" "$out/dedup_runs/$name.stats-run.json"
  fi
  [[ -s $j ]] || die "$name: the timed load wrote no report (exit status $rc)"
  local ops p50 p99 p999 rp99 wp99 nops chk mis ccpu csecs
  read -r ops p50 p99 p999 rp99 wp99 nops chk mis ccpu csecs < <(loadgen_run_summary "$j")
  put ops_per_s "$ops"; put p50_us "$p50"; put p99_us "$p99"; put p999_us "$p999"; put read_p99_us "$rp99"
  put write_p99_us "$wp99"; put run_ops "$nops"; put checked "$chk"; put mismatches "$mis"
  put client_cpu_pct "$(cpu_pct "$(awk -v c="$ccpu" 'BEGIN {printf "%.0f", c * 1e9}')" "$csecs")"
  log "  $(printf '%.0f' "$ops") ops/s, p99 ${p99} us; Pss during the load $(mib "$pmean") MiB (max $(mib "$pmax")); $chk values checked, $mis mismatches"
  ((rc == 0)) || die "$name: the timed load failed (exit status $rc; $mis mismatches)"

  # Integrity: every key read back, the loaded state back, its digest against plain's.
  if "${lg[@]}" --port "$SRV_PORT" --check-all --reset --state "$state" --json "$WORK/$name.check.json"; then
    put check_all_ok yes
  else
    put check_all_ok no
    alive "$name: --check-all"
    die "$name: --check-all found values that differ (or failed)"
  fi
  local dg ref
  dg=$(rcli DEBUG DIGEST) || true
  alive "$name: DEBUG DIGEST (it reads every key)"
  put digest "$dg"
  [[ -s $WORK/ref-digest.$ds ]] || { echo "$dg" >"$WORK/ref-digest.$ds"; echo "$var" >"$WORK/ref-variant.$ds"; }
  ref=$(cat "$WORK/ref-digest.$ds")
  if [[ $dg == "$ref" ]]; then
    put digest_ok yes
  else
    put digest_ok no
    die "$name: DEBUG DIGEST $dg DIFFERS from the $(cat "$WORK/ref-variant.$ds") run's $ref (same dataset)"
  fi
  log "  integrity: every key read back equal, DEBUG DIGEST equal to the $(cat "$WORK/ref-variant.$ds") run's"
  if is_ksm "$var"; then
    # ksmd is the machine's: say so when something else changed its settings during the run.
    put ksm_settings_end "$(ksm_settings)"
    [[ "$(ksm_settings)" == "$ksm_at_start" ]] ||
      log "  WARNING: ksmd's settings changed during the run (by another program): $(ksm_settings)"
  fi
  stop_redis
  no_crash_report "$logf" || die "$name: crash report in the server log"
}

# The plain run of a dataset is its digest's reference: it goes first in every round.
ordered=()
for v in "${variant_list[@]}"; do [[ $v == plain ]] && ordered+=("$v"); done
for v in "${variant_list[@]}"; do [[ $v == plain ]] || ordered+=("$v"); done
failures=0
for ((round = 1; round <= rounds; round++)); do
  for ds in "${dataset_list[@]}"; do
    for var in "${ordered[@]}"; do
      name="$ds-$var-$round"
      ROW="$WORK/$name.row"
      : >"$ROW"
      put dataset "$ds"; put variant "$var"; put round "$round"; put keys "${DS_KEYS[$ds]}"
      if is_ksm "$var" && [[ -n $KSM_WHY ]]; then
        put status "skipped: $KSM_WHY"
        row_csv "$ROW" "${COLUMNS[@]}" >>"$CSV"
        continue
      fi
      step "$ds, $var, round $round of $rounds"
      is_ksm "$var" && ksm_start "$ksm_pages" "$ksm_sleep"
      if run_guarded "$name" one_run "$ds" "$var" "$round"; then
        put status ok
      else
        failures=$((failures + 1))
        put status "FAILED: $(cat "$WORK/$name.fail" 2>/dev/null || echo "exit status $?")"
      fi
      is_ksm "$var" && ksm_restore
      put libtmc_bug_lines "$(grep -c 'libtmc: bug' "$WORK/$name.log" 2>/dev/null || true)"
      row_csv "$ROW" "${COLUMNS[@]}" >>"$CSV"
    done
  done
done

# ---------------------------------------------------------------- report
step "report"
cp "$CSV" "$out/dedup.csv"
"$PY" - "$out/dedup.meta.json" "$WORK" "${dataset_list[@]}" <<PY
import json, sys
path, work, datasets = sys.argv[1], sys.argv[2], sys.argv[3:]
ds = {}
for d in datasets:
    r = json.load(open(f"{work}/ratio.{d}.json"))
    ds[d] = {"ratio": r}
meta = {"command": """$ORIG_CMD""", "date": "$STARTED_DATE", "machine": """$(machine_desc)""",
    "libtmc": """$TMC_LIB ($(git_desc "$REPO"), sha256 $(sha256sum "$TMC_LIB" | cut -c1-16))""",
    "redis": """$(redis-server --version 2>/dev/null | head -1)""", "size": "$size", "rounds": $rounds,
    "cold_age": "$cold_age", "distinct": $distinct, "duration": "$duration", "warmup": "$warmup", "dist": "$dist",
    "reads": "$reads", "threads": $threads, "conns": $conns, "pipeline": $pipeline,
    "extra_env": """${extra_env[*]:-}""", "variants": """${ordered[*]}""".split(), "datasets": ds,
    "ksm_requested": {"pages_to_scan": $ksm_pages, "sleep_millisecs": $ksm_sleep},
    "ksm_found": """$(for k in "${!KSM_SAVED[@]}"; do printf '%s=%s ' "$k" "${KSM_SAVED[$k]}"; done)""".strip(),
    "ksm_skipped": """$KSM_WHY""", "quick": $quick, "duration_s": $(($(date +%s) - STARTED_AT))}
json.dump(meta, open(path, "w"), indent=1)
PY
for d in "${dataset_list[@]}"; do
  "$PY" - "$out/dedup.meta.json" "$d" "${DS_KEYS[$d]}" "${DS_MEAN[$d]}" "${DS_ARGS[$d]}" <<'PY'
import json, sys
path, d, keys, mean, args = sys.argv[1:]
m = json.load(open(path))
m["datasets"][d].update({"keys": int(keys), "mean_value_bytes": float(mean), "loadgen_args": args})
json.dump(m, open(path, "w"), indent=1)
PY
done
"$PY" "$REPO/scripts/dedup_report.py" "$out" || die "scripts/dedup_report.py failed"
log "wrote $out/dedup.md, dedup.csv, dedup.json, dedup.meta.json, dedup_runs/"
if ((failures > 0)); then
  grep -h "DIFFERS" "$WORK"/*.fail 2>/dev/null | sed 's/^/  DIGEST MISMATCH: /' >&2 || true
  die "$failures run(s) failed (see the status column of $out/dedup.md; logs in $WORK)"
fi
