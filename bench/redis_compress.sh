#!/usr/bin/env bash
# Redis compression benchmark: how far the resident memory of Debian's redis-server falls
# under libtmc once its data is cold, and that the data stays exact.
#
# usage: bench/redis_compress.sh [--size 1G | --keys N] [--cold-age 10s] [--codecs lz4,zstd]
#                                [--zstd-level 1] [--deep-age 0] [--deep-level 6] [--seed 1]
#                                [--build-dir build]
#                                [--settle-timeout 600] [--bgsave-timeout 300]
#                                [--out bench/results]
#   --size SIZE       value bytes to load (K/M/G suffixes; default 1G): the key count is
#                     SIZE / the generator's mean value size (bench/datasets/records.py keys)
#   --keys N          load exactly N keys instead
#   --cold-age D      TMC_COLD_AGE of the libtmc runs (default 10s)
#   --codecs LIST     libtmc runs to make, in order (default lz4,zstd); a codec written
#                     CODEC+file (zstd+file) is a run with the file tier (--file-age), the
#                     others run without it, so one report shows memory with and without
#   --zstd-level N    TMC_ZSTD_LEVEL of the zstd run (default 1)
#   --deep-age D      TMC_DEEP_AGE of the libtmc runs (default 0: no recompression of idle
#                     blobs); compression has settled only once recompression has caught up
#                     (a whole sweep found fewer than 1% of the compressed pages to do)
#   --deep-level N    TMC_DEEP_LEVEL of the libtmc runs (default 6)
#   --file-age D      TMC_FILE_AGE of the +file runs (default 20s when one is asked); compression
#                     has settled only once the file tier has caught up (fewer than 1% of
#                     the compressed pages' blobs left in memory), and the report adds the
#                     file tier's table: bytes in the file, disk used, faults that read from
#                     it during the cold DEBUG DIGEST and their latency, against 4 KiB preads
#                     at random offsets of a file on the same file system, each out of the
#                     page cache (the device's own latency, measured here after the runs)
#   --file-dir DIR    TMC_FILE_DIR of the libtmc runs (default: the work directory, on disk)
#   --seed S          dataset seed (default 1)
#   --build-dir DIR   where libtmc.so and tmcctl are (default build; not built by this script)
#   --settle-timeout S  longest wait for compression to settle, per run (default 600)
#   --bgsave-timeout S  longest wait for BGSAVE (default 300); a BGSAVE child stuck longer is
#                     diagnosed (threads, kernel stack, gdb backtrace) and killed, and the run
#                     is reported as failed
#   --out DIR         where redis_compress.md, .csv and .meta.json go (default bench/results)
#
# Runs, one server at a time, each on 127.0.0.1 with --save "" --appendonly no
# --enable-debug-command local:
#   plain        redis-server without preload: load the dataset (redis-cli --pipe), RSS,
#                DEBUG DIGEST (the reference)
#   libtmc-CODEC redis-server under libtmc (TMC_CODEC=CODEC, TMC_COLD_AGE): load, peak RSS
#                (VmHWM), DEBUG DIGEST; wait until compression settles (tmcctl stats polled
#                until RSS stops falling and evictions stop growing); RSS after, compression
#                statistics; DEBUG DIGEST again (faults everything back); BGSAVE; restart
#                redis-server under libtmc from the RDB, DEBUG DIGEST; DEBUG RELOAD, DEBUG
#                DIGEST. Every digest must equal the plain run's.
# Prints the table and writes it as Markdown and CSV, with the command line, machine and
# date. Goals (from the issue): RSS once cold at most 60% of peak with lz4, 45% with zstd.
# A libtmc run that fails (digest mismatch, crash, stuck BGSAVE, failed step) is reported
# with what it measured up to then and the reason, and the next run goes on. Exit status:
# 0 when every run passed every check (goals missed are reported, not failures), 1 when a
# run failed (the work directory, with the servers' logs, is kept then).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ORIG_CMD="bench/redis_compress.sh${*:+ $*}"
size=1G
keys=""
cold_age=10s
codecs=lz4,zstd
zstd_level=1
deep_age=0
deep_level=6
file_age=0
file_dir=""
seed=1
build_dir="$REPO/build"
settle_timeout=600
bgsave_timeout=300
out="$REPO/bench/results"
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --size) size="${2:?--size needs a value}"; shift 2 ;;
    --keys) keys="${2:?--keys needs a value}"; shift 2 ;;
    --cold-age) cold_age="${2:?}"; shift 2 ;;
    --codecs) codecs="${2:?}"; shift 2 ;;
    --zstd-level) zstd_level="${2:?}"; shift 2 ;;
    --deep-age) deep_age="${2:?}"; shift 2 ;;
    --deep-level) deep_level="${2:?}"; shift 2 ;;
    --file-age) file_age="${2:?}"; shift 2 ;;
    --file-dir) file_dir="${2:?}"; shift 2 ;;
    --seed) seed="${2:?}"; shift 2 ;;
    --build-dir) build_dir="${2:?}"; shift 2 ;;
    --settle-timeout) settle_timeout="${2:?}"; shift 2 ;;
    --bgsave-timeout) bgsave_timeout="${2:?}"; shift 2 ;;
    --out) out="${2:?}"; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "redis_compress: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
  esac
done

source "$REPO/tests/programs/lib.sh"
source "$REPO/bench/datasets/compress_lib.sh"
KEEP_WORK_ON_FAIL=1
[[ -z "$keys" || "$keys" =~ ^[1-9][0-9]*$ ]] || die "--keys needs a positive integer"
[[ "$seed" =~ ^[0-9]+$ ]] || die "--seed needs a non-negative integer"
IFS=, read -r -a codec_list <<<"$codecs"
for c in "${codec_list[@]}"; do [[ "${c%+file}" == lz4 || "${c%+file}" == zstd ]] || die "unknown codec '$c' (lz4, zstd, lz4+file, zstd+file)"; done
[[ "$codecs" == *+file* && "$file_age" == 0 ]] && file_age=20s
build_dir="$(cd "$build_dir" 2>/dev/null && pwd)" || die "no build directory '$build_dir'"
need_lib "$build_dir/libtmc.so"
TMCCTL="$build_dir/tmcctl"
need_bin redis-server redis-cli
need_compress_tools
cold_s=$(duration_s "$cold_age") || die "--cold-age: not a duration: $cold_age"
deep_s=$(duration_s "$deep_age") || die "--deep-age: not a duration: $deep_age"
file_s=$(duration_s "$file_age") || die "--file-age: not a duration: $file_age"
[[ -n "$file_dir" ]] || file_dir="$WORK"
[[ -d "$file_dir" ]] || die "--file-dir: no directory '$file_dir'"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
STARTED_DATE="$(date -u '+%Y-%m-%d %H:%M:%S UTC')"

# ---------------------------------------------------------------- the dataset
step "dataset"
if [[ -z "$keys" ]]; then
  keys=$("$PY" "$RECORDS" keys --size "$size" --seed "$seed")
else
  size=""
fi
log "generating $keys keys (seed $seed) as RESP..."
t0=$(date +%s)
"$PY" "$RECORDS" resp --keys "$keys" --seed "$seed" >"$WORK/data.resp"
log "  $(mib "$(stat -c %s "$WORK/data.resp")") MiB of RESP in $(($(date +%s) - t0)) s"
"$PY" "$RECORDS" ratio --seed "$seed" --sample 16M --json >"$WORK/ratio.json"
read -r r_lz4_file r_lz4_4k r_zstd_file r_zstd_4k < <(jget "$WORK/ratio.json" lz4_1_file lz4_1_4k zstd_1_file zstd_1_4k | paste -sd' ')
log "  compressibility of the values (16 MiB sample): lz4 -1 ${r_lz4_file}x whole, ${r_lz4_4k}x per 4 KiB; zstd -1 ${r_zstd_file}x whole, ${r_zstd_4k}x per 4 KiB"

# ---------------------------------------------------------------- redis helpers
REDIS_PID=""
REDIS_PORT=""
# start_redis NAME DIR ENV...: starts redis-server (ENV: plain or `env LD_PRELOAD=...`),
# waits until it answers PING (after loading an RDB in DIR, if any).
start_redis() {
  local name="$1" dir="$2"
  shift 2
  mkdir -p "$dir"
  start_on_free_port "$WORK/$name.log" "$@" redis-server --port @PORT@ --bind 127.0.0.1 --save "" \
    --appendonly no --dir "$dir" --dbfilename dump.rdb --enable-debug-command local --daemonize no \
    --logfile "" || die "$name: redis-server did not start"
  REDIS_PORT=$STARTED_PORT
  REDIS_PID=$STARTED_PID
  SERVER_PID=$REDIS_PID
  local i
  for ((i = 0; i < 6000; i++)); do
    [[ "$(rcli PING 2>/dev/null)" == PONG ]] && return 0
    kill -0 "$REDIS_PID" 2>/dev/null || die "$name: redis-server died while starting"
    sleep 0.1
  done
  die "$name: redis-server does not answer PING after 600 s"
}
rcli() { timeout 900 redis-cli -h 127.0.0.1 -p "$REDIS_PORT" "$@"; }
info_field() { rcli INFO "$1" | tr -d '\r' | sed -n "s/^$2://p"; }
# stop_redis NAME: SHUTDOWN NOSAVE and wait for the exit; a non-zero exit is a failure.
stop_redis() {
  rcli SHUTDOWN NOSAVE >/dev/null 2>&1 || true
  local i
  for ((i = 0; i < 600; i++)); do kill -0 "$REDIS_PID" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$REDIS_PID" 2>/dev/null && die "$1: redis-server still running 60 s after SHUTDOWN"
  local rc=0
  wait "$REDIS_PID" || rc=$?
  SERVER_PID=""
  [[ $rc -eq 0 ]] || die "$1: redis-server exited with status $rc"
  no_crash_report "$WORK/$1.log" || die "$1: crash report in the redis log"
}
# load NAME: the dataset through redis-cli --pipe; sets LOAD_S.
load() {
  local t0 t1 outp
  t0=$(date +%s.%N)
  outp="$(timeout 1800 redis-cli -h 127.0.0.1 -p "$REDIS_PORT" --pipe <"$WORK/data.resp" 2>&1)" ||
    { echo "$outp" >&2; die "$1: redis-cli --pipe failed"; }
  t1=$(date +%s.%N)
  LOAD_S=$(awk -v a="$t1" -v b="$t0" 'BEGIN {printf "%.1f", a - b}')
  [[ "$(echo "$outp" | tr -d '\r' | grep -o 'errors: [0-9]*, replies: [0-9]*' | tail -1)" == "errors: 0, replies: $keys" ]] ||
    { echo "$outp" >&2; die "$1: redis-cli --pipe reported errors"; }
  [[ "$(rcli DBSIZE)" == "$keys" ]] || die "$1: DBSIZE $(rcli DBSIZE), expected $keys"
}
# digest: DEBUG DIGEST into DIGEST; DIGEST_S: the seconds it took.
digest() {
  local t0 t1
  t0=$(date +%s.%N)
  DIGEST=$(rcli DEBUG DIGEST) || die "DEBUG DIGEST failed (or took longer than 900 s)"
  t1=$(date +%s.%N)
  DIGEST_S=$(awk -v a="$t1" -v b="$t0" 'BEGIN {printf "%.1f", a - b}')
}
# check_digest KEY WHAT: DIGEST must equal the plain run's; records KEY=yes|no.
check_digest() {
  if [[ "$DIGEST" == "$PLAIN_DIGEST" ]]; then
    put "$1" yes
    log "  ok: $2: digest equals the plain run's ($DIGEST)"
  else
    put "$1" no
    die "$2: DEBUG DIGEST $DIGEST differs from the plain run's $PLAIN_DIGEST"
  fi
}

COLUMNS=(run codec cold_age keys status load_s used_memory rss_load rss_peak rss_peak_run rss_after
  after_peak_pct after_plain_pct orig_bytes compr_bytes pool_bytes compressed_pages zero_pages
  same_pages evictions faults refaults fault_ns_p50 fault_ns_p99 cpu_ns_background settled settle_s
  digest digest_load_ok digest_cold_ok digest_restart_ok digest_reload_ok digest_s digest_cold_s
  faults_digest bgsave_s restart_s goal_pct goal_met self_faults libtmc_bug_lines deep_pages deep_saved_bytes
  deep_dict_bytes cpu_ns_deep file_blobs file_bytes file_disk_bytes cpu_ns_file file_reads_digest
  file_fault_ns_p50 file_fault_ns_p99 file_errors)
CSV="$WORK/rows.csv"
(IFS=,; echo "${COLUMNS[*]}") >"$CSV"

# ---------------------------------------------------------------- plain
step "plain redis-server (no preload)"
start_redis plain "$WORK/plain" "${PLAIN_ENV[@]}"
not_preloaded "$REDIS_PID" || die "libtmc.so is mapped into the plain redis-server"
load plain
sleep 2
PLAIN_RSS=$(rss_bytes "$REDIS_PID")
PLAIN_HWM=$(hwm_bytes "$REDIS_PID")
used=$(info_field memory used_memory)
digest
PLAIN_DIGEST=$DIGEST
log "  loaded in ${LOAD_S}s; RSS $(mib "$PLAIN_RSS") MiB (peak $(mib "$PLAIN_HWM") MiB), used_memory $(mib "$used") MiB; digest $PLAIN_DIGEST (${DIGEST_S}s)"
((PLAIN_RSS >= 1073741824)) || log "  note: plain RSS is below 1 GiB (use --size/--keys for a bigger dataset)"
ROW="$WORK/plain.row"
: >"$ROW"
put run plain; put keys "$keys"; put status ok; put load_s "$LOAD_S"; put used_memory "$used"
put rss_load "$PLAIN_RSS"; put rss_peak "$PLAIN_HWM"; put rss_peak_run "$PLAIN_HWM"; put rss_after "$PLAIN_RSS"
put after_plain_pct 100.0; put digest "$PLAIN_DIGEST"; put digest_s "$DIGEST_S"
row_csv "$ROW" "${COLUMNS[@]}" >>"$CSV"
stop_redis plain

# ---------------------------------------------------------------- libtmc runs
# deep_settled: wait_settled's SETTLE_UNTIL with --deep-age: recompression has caught up,
# its last whole sweep over the heap (after the deep dictionary was made) found fewer than
# max(256, 1% of the compressed pages) to recompress (wait_settled's settle.json).
deep_settled() {
  local dict sweeps left cp
  read -r dict sweeps left cp < <(jget "$WORK/settle.json" deep_dict_bytes deep_sweeps deep_sweep_candidates \
    compressed_pages | paste -sd' ')
  ((dict > 0 && sweeps > 0)) || return 1
  awk -v l="$left" -v c="$cp" 'BEGIN {m = c * 0.01; if (m < 256) m = 256; exit !(l < m)}'
}

# file_settled: wait_settled's SETTLE_UNTIL with --file-age: fewer than max(256, 1% of the
# compressed pages) blobs are still in memory (compressed pages hold one blob each, or
# share one under dedup: file_blobs counts blobs, so this errs towards waiting).
file_settled() {
  local fb cp
  read -r fb cp < <(jget "$WORK/settle.json" file_blobs compressed_pages | paste -sd' ')
  awk -v f="$fb" -v c="$cp" 'BEGIN {m = c * 0.01; if (m < 256) m = 256; exit !(c - f < m)}'
}
both_settled() { deep_settled && file_settled; }

# libtmc_run CODEC: one libtmc run, recorded in $ROW as it goes (run under run_guarded).
libtmc_run() {
  local codec="${1%+file}" run="libtmc-$1" goal=60 run_file_age=0
  [[ "$1" == *+file ]] && run_file_age="$file_age"
  [[ "$codec" == zstd ]] && goal=45
  local -a tmc_env=(env LD_PRELOAD="$TMC_LIB" TMC_CODEC="$codec" TMC_COLD_AGE="$cold_age" TMC_ZSTD_LEVEL="$zstd_level" TMC_DEEP_AGE="$deep_age" TMC_DEEP_LEVEL="$deep_level" TMC_FILE_AGE="$run_file_age" TMC_FILE_DIR="$file_dir")
  put goal_pct "$goal"
  start_redis "$run" "$WORK/$run" "${tmc_env[@]}"
  is_preloaded "$REDIS_PID" || die "libtmc.so is not mapped into redis-server ($run)"
  load "$run"
  local rss_load hwm used
  rss_load=$(rss_bytes "$REDIS_PID")
  hwm=$(hwm_bytes "$REDIS_PID")
  used=$(info_field memory used_memory)
  put load_s "$LOAD_S"; put rss_load "$rss_load"; put rss_peak "$hwm"; put used_memory "$used"
  log "  loaded in ${LOAD_S}s; RSS at the end of the load $(mib "$rss_load") MiB, peak $(mib "$hwm") MiB; used_memory $(mib "$used") MiB"
  digest
  put digest "$DIGEST"; put digest_s "$DIGEST_S"
  check_digest digest_load_ok "$run after the load"

  local SETTLE_UNTIL="" has_deep=0 has_file=0
  awk -v d="$deep_s" 'BEGIN {exit !(d > 0)}' && has_deep=1
  [[ "$run_file_age" != 0 ]] && has_file=1
  ((has_deep)) && SETTLE_UNTIL=deep_settled
  ((has_file)) && SETTLE_UNTIL=file_settled
  ((has_deep && has_file)) && SETTLE_UNTIL=both_settled
  record_cold "$REDIS_PID" "$run" "$hwm" "$goal" "$cold_age" "$(awk -v a="$cold_s" -v b="$deep_s" -v f="$((has_file))" -v fs="$file_s" 'BEGIN {x = a + b; if (f && a + fs > x) x = a + fs; print x}')" "$settle_timeout"
  if ((has_deep)); then
    local dp ds dd dc
    read -r dp ds dd dc < <(jget "$WORK/$run.stats-cold.json" deep_pages deep_saved_bytes deep_dict_bytes cpu_ns_deep | paste -sd' ')
    put deep_pages "$dp"; put deep_saved_bytes "$ds"; put deep_dict_bytes "$dd"; put cpu_ns_deep "$dc"
    log "  recompressed: $dp pages hold deep blobs, $(mib "$ds") MiB saved, deep dictionary $(mib "$dd") MiB, $(awk -v n="$dc" 'BEGIN {printf "%.1f", n / 1e9}') s of CPU"
  fi

  digest
  put digest_cold_s "$DIGEST_S"
  tmc_stats "$REDIS_PID" "$WORK/$run.stats-after-digest.json" || die "$run: tmcctl stats failed"
  put faults_digest "$(($(jget "$WORK/$run.stats-after-digest.json" faults) - COLD_FAULTS))"
  if ((has_file)); then
    local fb fby fd fc fr0 fr1 f50 f99 we re
    read -r fb fby fd fc fr0 < <(jget "$WORK/$run.stats-cold.json" file_blobs file_bytes file_disk_bytes cpu_ns_file file_reads | paste -sd' ')
    read -r fr1 f50 f99 we re < <(jget "$WORK/$run.stats-after-digest.json" file_reads file_fault_ns_p50 file_fault_ns_p99 \
      file_write_errors file_read_errors | paste -sd' ')
    put file_blobs "$fb"; put file_bytes "$fby"; put file_disk_bytes "$fd"; put cpu_ns_file "$fc"
    put file_reads_digest "$((fr1 - fr0))"; put file_fault_ns_p50 "$f50"; put file_fault_ns_p99 "$f99"
    put file_errors "$((we + re))"
    log "  file tier: $fb blobs, $(mib "$fby") MiB in the file ($(mib "$fd") MiB of disk); the cold digest read $((fr1 - fr0)) of them back, fault p50/p99 $f50/$f99 ns; $((we + re)) errors"
  fi
  log "  DEBUG DIGEST on the cold dataset took ${DIGEST_S}s"
  check_digest digest_cold_ok "$run once cold"

  local before t0 i child
  before=$(rcli LASTSAVE)
  t0=$(date +%s.%N)
  [[ "$(rcli BGSAVE)" == "Background saving started" ]] || die "$run: BGSAVE not accepted"
  for ((i = 0; i < bgsave_timeout * 10; i++)); do
    [[ "$(info_field persistence rdb_bgsave_in_progress)" == 0 && "$(rcli LASTSAVE)" != "$before" ]] && break
    sleep 0.1
  done
  if [[ "$(info_field persistence rdb_bgsave_in_progress)" != 0 ]]; then
    for child in $(pgrep -P "$REDIS_PID"); do
      diagnose_stuck "$child" >"$WORK/$run.bgsave-stuck.txt" 2>&1 || true
    done
    cat "$WORK/$run.bgsave-stuck.txt" >&2 || true
    die "$run: BGSAVE did not finish in ${bgsave_timeout}s: its child process is stuck (diagnosis: redis_compress.$run.bgsave-stuck.txt)"
  fi
  put bgsave_s "$(secs_since "$t0")"
  [[ "$(info_field persistence rdb_last_bgsave_status)" == ok ]] || die "$run: BGSAVE failed (rdb_last_bgsave_status $(info_field persistence rdb_last_bgsave_status))"
  log "  BGSAVE done in $(secs_since "$t0")s ($(mib "$(stat -c %s "$WORK/$run/dump.rdb")") MiB RDB)"
  stop_redis "$run"

  t0=$(date +%s.%N)
  start_redis "$run-restart" "$WORK/$run" "${tmc_env[@]}"
  put restart_s "$(secs_since "$t0")"
  is_preloaded "$REDIS_PID" || die "libtmc.so is not mapped into the restarted redis-server ($run)"
  [[ "$(rcli DBSIZE)" == "$keys" ]] || die "$run: DBSIZE $(rcli DBSIZE) after the restart, expected $keys"
  digest
  check_digest digest_restart_ok "$run after restart from the RDB"
  [[ "$(rcli DEBUG RELOAD)" == OK ]] || die "$run: DEBUG RELOAD failed"
  digest
  check_digest digest_reload_ok "$run after DEBUG RELOAD"
  stop_redis "$run-restart"
}
# bug_lines RUN: lines in which libtmc reports a bug of its own, in the run's server logs.
bug_lines() { cat "$WORK/$1".log "$WORK/$1"-restart.log 2>/dev/null | grep -c 'libtmc: bug' || true; }

failures=0
for codec in "${codec_list[@]}"; do
  run="libtmc-$codec"
  step "redis-server under libtmc, TMC_CODEC=${codec%+file} TMC_COLD_AGE=$cold_age$([[ "$codec" == *+file ]] && echo " TMC_FILE_AGE=$file_age")"
  ROW="$WORK/$run.row"
  : >"$ROW"
  put run "$run"; put codec "${codec%+file}"; put cold_age "$cold_age"; put keys "$keys"
  if run_guarded "$run" libtmc_run "$codec"; then
    put status ok
  else
    failures=$((failures + 1))
    put status "FAILED: $(cat "$WORK/$run.fail" 2>/dev/null || echo "exit status $?")"
  fi
  put libtmc_bug_lines "$(bug_lines "$run")"
  row_csv "$ROW" "${COLUMNS[@]}" >>"$CSV"
done

# ---------------------------------------------------------------- the device's own latency
# 4 KiB preads at random offsets of a 256 MiB file in the file tier's directory, each one out
# of the page cache (written back, then POSIX_FADV_DONTNEED), as a fault from the file
# tier reads: what the device itself costs, against which the file tier's faults are set.
PREAD_JSON=""
if awk -v d="$file_s" 'BEGIN {exit !(d > 0)}'; then
  step "4 KiB preads from the device, in $file_dir"
  PREAD_JSON="$WORK/pread.json"
  "$PY" - "$file_dir" >"$PREAD_JSON" <<'PY'
import json, os, random, sys, time
path = os.path.join(sys.argv[1], "tmc-pread-probe")
size, n = 256 << 20, 4000
fd = os.open(path, os.O_CREAT | os.O_RDWR | os.O_TRUNC, 0o600)
os.unlink(path)
chunk = os.urandom(1 << 20)
for off in range(0, size, len(chunk)):
    os.pwrite(fd, chunk, off)
os.fsync(fd)
os.posix_fadvise(fd, 0, size, os.POSIX_FADV_DONTNEED)
rng = random.Random(1)
lat = []
for _ in range(n):
    off = rng.randrange(size // 4096) * 4096
    t0 = time.perf_counter_ns()
    os.pread(fd, 4096, off)
    lat.append(time.perf_counter_ns() - t0)
    os.posix_fadvise(fd, off, 4096, os.POSIX_FADV_DONTNEED)
lat.sort()
print(json.dumps({"reads": n, "p50_ns": lat[n // 2], "p99_ns": lat[n * 99 // 100]}))
PY
  log "  $(cat "$PREAD_JSON")"
fi

# ---------------------------------------------------------------- report
step "report"
"$PY" "$DATASETS_DIR/compress_report.py" meta "$WORK/meta.json" "$WORK/ratio.json" \
  command="$ORIG_CMD" date="$STARTED_DATE" machine="$(machine_desc)" \
  server="$(redis-server --version | head -1)" libtmc="$TMC_LIB ($(git_desc "$REPO"), sha256 $(sha256sum "$TMC_LIB" | cut -c1-16), built $(date -u -r "$TMC_LIB" '+%Y-%m-%d %H:%M:%S UTC'))" \
  keys="$keys" seed="$seed" size="$size" cold_age="$cold_age" zstd_level="$zstd_level" deep_age="$deep_age" deep_level="$deep_level" \
  file_age="$file_age" pread_json="$PREAD_JSON" \
  input_bytes="$(stat -c %s "$WORK/data.resp")" duration_s="$(($(date +%s) - STARTED_AT))" \
  failures_dir="$WORK"
rm -f "$out"/redis_compress.*.bgsave-stuck.txt
for f in "$WORK"/*.bgsave-stuck.txt; do [[ -e "$f" ]] && cp "$f" "$out/redis_compress.$(basename "$f" .txt | sed 's/\.bgsave-stuck//').bgsave-stuck.txt"; done
cp "$CSV" "$out/redis_compress.csv"
cp "$WORK/meta.json" "$out/redis_compress.meta.json"  # with the CSV, enough to render the Markdown again
"$PY" "$DATASETS_DIR/compress_report.py" redis "$out/redis_compress.csv" "$WORK/meta.json" "$out/redis_compress.md"
log "wrote $out/redis_compress.md and $out/redis_compress.csv"
if ((failures > 0)); then
  die "$failures libtmc run(s) failed (see the status column; logs in $WORK)"
fi
