#!/usr/bin/env bash
# memcached compression benchmark: how far the resident memory of Debian's memcached falls
# under libtmc once its items are cold, and that every value stays exact.
#
# usage: bench/memcached_compress.sh [--size 1G | --keys N] [--cold-age 10s] [--codecs lz4,zstd]
#                                    [--zstd-level 1] [--seed 1] [--build-dir build]
#                                    [--mem-mb 4096] [--threads 4] [--settle-timeout 600]
#                                    [--out bench/results]
#   --size SIZE       value bytes to load (K/M/G; default 1G): the key count is SIZE / the
#                     generator's mean value size (bench/datasets/records.py keys)
#   --keys N          load exactly N keys instead
#   --cold-age D      TMC_COLD_AGE of the libtmc runs (default 10s)
#   --codecs LIST     libtmc runs to make, in order (default lz4,zstd)
#   --zstd-level N    TMC_ZSTD_LEVEL of the zstd run (default 1)
#   --seed S          dataset seed (default 1)
#   --build-dir DIR   where libtmc.so and tmcctl are (default build; not built by this script)
#   --mem-mb M        memcached -m (default 4096: far above the data, so nothing is evicted)
#   --threads T       memcached -t (default 4, memcached's own default)
#   --settle-timeout S  longest wait for compression to settle, per run (default 600)
#   --out DIR         where memcached_compress.md, .csv and .meta.json go (default bench/results)
#
# Runs, one server at a time, memcached -l 127.0.0.1 -U 0 -m M -t T (otherwise its
# defaults: LRU maintainer and crawler threads on):
#   plain        no preload: set every key (pipelined), RSS, read every value back
#   libtmc-CODEC under libtmc (TMC_CODEC, TMC_COLD_AGE): set every key, peak RSS (VmHWM);
#                wait until compression settles (tmcctl stats polled until RSS stops falling
#                and evictions stop growing); RSS after, compression statistics; then read
#                EVERY value back and compare bytes and flags with what was written.
# The values are generated once into a memcached protocol stream (records.py memcached);
# the loader sends that stream and the checker compares with the values in it.
# Prints the table and writes it as Markdown and CSV, with the command line, machine and
# date. A libtmc run that fails (a wrong or missing value, a crash, a failed step) is
# reported with what it measured up to then and the reason, and the next run goes on.
# Exit status: 0 when every value read back was exact in every run (goals missed are
# reported, not failures), 1 when a run failed (the work directory is kept then).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ORIG_CMD="bench/memcached_compress.sh${*:+ $*}"
size=1G
keys=""
cold_age=10s
codecs=lz4,zstd
zstd_level=1
seed=1
build_dir="$REPO/build"
mem_mb=4096
threads=4
settle_timeout=600
out="$REPO/bench/results"
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --size) size="${2:?--size needs a value}"; shift 2 ;;
    --keys) keys="${2:?--keys needs a value}"; shift 2 ;;
    --cold-age) cold_age="${2:?}"; shift 2 ;;
    --codecs) codecs="${2:?}"; shift 2 ;;
    --zstd-level) zstd_level="${2:?}"; shift 2 ;;
    --seed) seed="${2:?}"; shift 2 ;;
    --build-dir) build_dir="${2:?}"; shift 2 ;;
    --mem-mb) mem_mb="${2:?}"; shift 2 ;;
    --threads) threads="${2:?}"; shift 2 ;;
    --settle-timeout) settle_timeout="${2:?}"; shift 2 ;;
    --out) out="${2:?}"; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "memcached_compress: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
  esac
done

source "$REPO/tests/programs/lib.sh"
source "$REPO/bench/datasets/compress_lib.sh"
KEEP_WORK_ON_FAIL=1
[[ -z "$keys" || "$keys" =~ ^[1-9][0-9]*$ ]] || die "--keys needs a positive integer"
[[ "$seed" =~ ^[0-9]+$ ]] || die "--seed needs a non-negative integer"
[[ "$mem_mb" =~ ^[1-9][0-9]*$ && "$threads" =~ ^[1-9][0-9]*$ ]] || die "--mem-mb and --threads need positive integers"
IFS=, read -r -a codec_list <<<"$codecs"
for c in "${codec_list[@]}"; do [[ "$c" == lz4 || "$c" == zstd ]] || die "unknown codec '$c' (lz4, zstd)"; done
build_dir="$(cd "$build_dir" 2>/dev/null && pwd)" || die "no build directory '$build_dir'"
need_lib "$build_dir/libtmc.so"
TMCCTL="$build_dir/tmcctl"
need_bin memcached
need_compress_tools
cold_s=$(duration_s "$cold_age") || die "--cold-age: not a duration: $cold_age"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
STARTED_DATE="$(date -u '+%Y-%m-%d %H:%M:%S UTC')"
MC_ARGS=(-l 127.0.0.1 -U 0 -m "$mem_mb" -t "$threads" -c 1024 -u "$(id -un)")

# ---------------------------------------------------------------- the dataset
step "dataset"
if [[ -z "$keys" ]]; then
  keys=$("$PY" "$RECORDS" keys --size "$size" --seed "$seed")
else
  size=""
fi
log "generating $keys keys (seed $seed) as memcached sets..."
t0=$(date +%s)
"$PY" "$RECORDS" memcached --keys "$keys" --seed "$seed" >"$WORK/data.mc"
log "  $(mib "$(stat -c %s "$WORK/data.mc")") MiB of protocol in $(($(date +%s) - t0)) s"
"$PY" "$RECORDS" ratio --seed "$seed" --sample 16M --json >"$WORK/ratio.json"
read -r r_lz4_file r_lz4_4k r_zstd_file r_zstd_4k < <(jget "$WORK/ratio.json" lz4_1_file lz4_1_4k zstd_1_file zstd_1_4k | paste -sd' ')
log "  compressibility of the values (16 MiB sample): lz4 -1 ${r_lz4_file}x whole, ${r_lz4_4k}x per 4 KiB; zstd -1 ${r_zstd_file}x whole, ${r_zstd_4k}x per 4 KiB"

# ---------------------------------------------------------------- memcached helpers
MC_PID=""
MC_PORT=""
# start_mc NAME ENV...: starts memcached (ENV: plain or `env LD_PRELOAD=...`).
start_mc() {
  local name="$1"
  shift
  start_on_free_port "$WORK/$name.log" "$@" memcached -p @PORT@ "${MC_ARGS[@]}" ||
    die "$name: memcached did not start"
  MC_PORT=$STARTED_PORT
  MC_PID=$STARTED_PID
  SERVER_PID=$MC_PID
}
# mc_stat NAME...: values of memcached's `stats` fields, one per line.
mc_stat() {
  "$PY" - "$MC_PORT" "$@" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=60)
s.sendall(b"stats\r\n")
buf = b""
while not buf.endswith(b"END\r\n"):
    c = s.recv(65536)
    if not c:
        sys.exit("memcached closed the connection")
    buf += c
st = {}
for ln in buf.decode().splitlines():
    p = ln.split()
    if len(p) == 3 and p[0] == "STAT":
        st[p[1]] = p[2]
for f in sys.argv[2:]:
    print(st.get(f, ""))
PY
}
# load NAME: sends the stream; sets LOAD_S.
load() {
  local t0
  t0=$(date +%s.%N)
  timeout 1800 "$PY" "$RECORDS" mc-load --keys "$keys" --port "$MC_PORT" --from "$WORK/data.mc" >>"$WORK/$1.client" 2>&1 ||
    { cat "$WORK/$1.client" >&2; die "$1: loading failed"; }
  LOAD_S=$(awk -v a="$(date +%s.%N)" -v b="$t0" 'BEGIN {printf "%.1f", a - b}')
  local items
  items=$(mc_stat curr_items)
  [[ "$items" == "$keys" ]] || die "$1: memcached holds $items items after the load, expected $keys"
}
# verify NAME: reads every value back; sets VERIFY_S, V_OK, V_MISSING, V_WRONG.
verify() {
  local t0 rc=0 line
  t0=$(date +%s.%N)
  timeout 3600 "$PY" "$RECORDS" mc-verify --keys "$keys" --port "$MC_PORT" --from "$WORK/data.mc" \
    >"$WORK/$1.verify" 2>&1 || rc=$?
  VERIFY_S=$(awk -v a="$(date +%s.%N)" -v b="$t0" 'BEGIN {printf "%.1f", a - b}')
  line=$(grep '^mc-verify:' "$WORK/$1.verify" | tail -1)
  log "  $line"
  read -r V_OK V_MISSING V_WRONG < <(echo "$line" | sed -E 's/.*: ([0-9]+) equal, ([0-9]+) missing, ([0-9]+) wrong.*/\1 \2 \3/')
  if [[ $rc -ne 0 ]]; then
    sed 's/^/    /' "$WORK/$1.verify" >&2
    die "$1: values read back differ from what was written (engine bug? logs in $WORK)"
  fi
}
stop_mc() {
  local rc=0
  stop_pid "$MC_PID" 30 || rc=$?
  SERVER_PID=""
  [[ $rc -eq 0 || $rc -eq 143 ]] || die "$1: memcached exited with status $rc"
  no_crash_report "$WORK/$1.log" || die "$1: crash report in the memcached log"
}

COLUMNS=(run codec cold_age keys status load_s rss_load rss_peak rss_peak_run rss_after after_peak_pct
  after_plain_pct orig_bytes compr_bytes pool_bytes compressed_pages zero_pages same_pages evictions
  faults refaults fault_ns_p50 fault_ns_p99 cpu_ns_background settled settle_s verify_ok verify_missing
  verify_wrong verify_s faults_verify mc_evictions curr_items mc_bytes goal_pct goal_met self_faults libtmc_bug_lines)
CSV="$WORK/rows.csv"
(IFS=,; echo "${COLUMNS[*]}") >"$CSV"

# ---------------------------------------------------------------- plain
step "plain memcached (no preload)"
start_mc plain "${PLAIN_ENV[@]}"
not_preloaded "$MC_PID" || die "libtmc.so is mapped into the plain memcached"
load plain
sleep 2
PLAIN_RSS=$(rss_bytes "$MC_PID")
PLAIN_HWM=$(hwm_bytes "$MC_PID")
read -r mc_bytes < <(mc_stat bytes)
log "  loaded in ${LOAD_S}s; RSS $(mib "$PLAIN_RSS") MiB (peak $(mib "$PLAIN_HWM") MiB); memcached's bytes $(mib "$mc_bytes") MiB"
((PLAIN_RSS >= 1073741824)) || log "  note: plain RSS is below 1 GiB (use --size/--keys for a bigger dataset)"
verify plain
read -r mc_ev items < <(mc_stat evictions curr_items | paste -sd' ')
ROW="$WORK/plain.row"
: >"$ROW"
put run plain; put keys "$keys"; put status ok; put load_s "$LOAD_S"; put rss_load "$PLAIN_RSS"
put rss_peak "$PLAIN_HWM"; put rss_peak_run "$(hwm_bytes "$MC_PID")"; put rss_after "$PLAIN_RSS"
put after_plain_pct 100.0; put verify_ok "$V_OK"; put verify_missing "$V_MISSING"; put verify_wrong "$V_WRONG"
put verify_s "$VERIFY_S"; put mc_evictions "$mc_ev"; put curr_items "$items"; put mc_bytes "$mc_bytes"
row_csv "$ROW" "${COLUMNS[@]}" >>"$CSV"
stop_mc plain

# ---------------------------------------------------------------- libtmc runs
# libtmc_run CODEC: one libtmc run, recorded in $ROW as it goes (run under run_guarded).
libtmc_run() {
  local codec="$1" run="libtmc-$1" goal=60
  [[ "$codec" == zstd ]] && goal=45
  put goal_pct "$goal"
  start_mc "$run" env LD_PRELOAD="$TMC_LIB" TMC_CODEC="$codec" TMC_COLD_AGE="$cold_age" TMC_ZSTD_LEVEL="$zstd_level"
  is_preloaded "$MC_PID" || die "libtmc.so is not mapped into memcached ($run)"
  load "$run"
  local rss_load hwm mc_bytes
  rss_load=$(rss_bytes "$MC_PID")
  hwm=$(hwm_bytes "$MC_PID")
  read -r mc_bytes < <(mc_stat bytes)
  put load_s "$LOAD_S"; put rss_load "$rss_load"; put rss_peak "$hwm"; put mc_bytes "$mc_bytes"
  log "  loaded in ${LOAD_S}s; RSS at the end of the load $(mib "$rss_load") MiB, peak $(mib "$hwm") MiB"

  record_cold "$MC_PID" "$run" "$hwm" "$goal" "$cold_age" "$cold_s" "$settle_timeout"

  log "reading every value back..."
  verify "$run"
  put verify_ok "$V_OK"; put verify_missing "$V_MISSING"; put verify_wrong "$V_WRONG"; put verify_s "$VERIFY_S"
  tmc_stats "$MC_PID" "$WORK/$run.stats-after-verify.json" || die "$run: tmcctl stats failed"
  put faults_verify "$(($(jget "$WORK/$run.stats-after-verify.json" faults) - COLD_FAULTS))"
  local mc_ev items
  read -r mc_ev items < <(mc_stat evictions curr_items | paste -sd' ')
  put mc_evictions "$mc_ev"; put curr_items "$items"
  log "  read-back took ${VERIFY_S}s; memcached evictions $mc_ev, curr_items $items"
  stop_mc "$run"
}

failures=0
for codec in "${codec_list[@]}"; do
  run="libtmc-$codec"
  step "memcached under libtmc, TMC_CODEC=$codec TMC_COLD_AGE=$cold_age"
  ROW="$WORK/$run.row"
  : >"$ROW"
  put run "$run"; put codec "$codec"; put cold_age "$cold_age"; put keys "$keys"
  if run_guarded "$run" libtmc_run "$codec"; then
    put status ok
  else
    failures=$((failures + 1))
    put status "FAILED: $(cat "$WORK/$run.fail" 2>/dev/null || echo "exit status $?")"
  fi
  put libtmc_bug_lines "$(grep -c 'libtmc: bug' "$WORK/$run.log" 2>/dev/null || true)"
  row_csv "$ROW" "${COLUMNS[@]}" >>"$CSV"
done

# ---------------------------------------------------------------- report
step "report"
"$PY" "$DATASETS_DIR/compress_report.py" meta "$WORK/meta.json" "$WORK/ratio.json" \
  command="$ORIG_CMD" date="$STARTED_DATE" machine="$(machine_desc)" \
  server="$(memcached -V)" libtmc="$TMC_LIB ($(git_desc "$REPO"), sha256 $(sha256sum "$TMC_LIB" | cut -c1-16), built $(date -u -r "$TMC_LIB" '+%Y-%m-%d %H:%M:%S UTC'))" \
  keys="$keys" seed="$seed" size="$size" cold_age="$cold_age" zstd_level="$zstd_level" \
  input_bytes="$(stat -c %s "$WORK/data.mc")" duration_s="$(($(date +%s) - STARTED_AT))" \
  mc_args="memcached ${MC_ARGS[*]}"
cp "$CSV" "$out/memcached_compress.csv"
cp "$WORK/meta.json" "$out/memcached_compress.meta.json"  # with the CSV, enough to render the Markdown again
"$PY" "$DATASETS_DIR/compress_report.py" memcached "$out/memcached_compress.csv" "$WORK/meta.json" "$out/memcached_compress.md"
log "wrote $out/memcached_compress.md and $out/memcached_compress.csv"
if ((failures > 0)); then
  die "$failures libtmc run(s) failed (see the status column; logs in $WORK)"
fi
