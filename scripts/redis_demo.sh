#!/usr/bin/env bash
# The main job: Redis (Debian's redis-server) on a generated dataset of realistic records,
# plain and under libtmc, side by side: resident memory before and after libtmc compresses
# the cold heap, the memory saved, the dataset digests, and libtmc's own statistics.
#
#   scripts/redis_demo.sh [--keys N] [--cold-age 5s] [--codec lz4|zstd] [--build-dir DIR]
#     --keys N         dataset size (default 200000 keys: about 215 MB of values, ~270 MB RSS)
#     --cold-age D     TMC_COLD_AGE: how long a page stays untouched before it is compressed
#                      (default 5s, short for the demo; the library's default is 2m)
#     --codec C        TMC_CODEC, lz4 (default) or zstd
#     --build-dir DIR  where to build libtmc (default build)
#
# Sets itself up: installs Debian packages, builds libtmc, starts and stops its own
# servers (one at a time) on 127.0.0.1 in a temporary directory. The dataset comes from
# bench/datasets/records.py (JSON users/orders/events, English-like text, numeric series,
# session blobs; strings, hashes and lists). The full-size benchmark, with BGSAVE and
# restarts, is bench/redis_compress.sh.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
keys=200000
cold_age=5s
codec=lz4
build="$root/build"
while [ $# -gt 0 ]; do
  case "$1" in
    --keys) keys="${2:?--keys needs a number}"; shift 2 ;;
    --cold-age) cold_age="${2:?}"; shift 2 ;;
    --codec) codec="${2:?}"; shift 2 ;;
    --build-dir) build="${2:?}"; shift 2 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "usage: $0 [--keys N] [--cold-age 5s] [--codec lz4|zstd] [--build-dir DIR]" >&2; exit 2 ;;
  esac
done
[[ "$keys" =~ ^[1-9][0-9]*$ ]] || { echo "redis_demo: --keys needs a positive integer" >&2; exit 2; }
[[ "$codec" == lz4 || "$codec" == zstd ]] || { echo "redis_demo: --codec is lz4 or zstd" >&2; exit 2; }

"$root/scripts/install_deps.sh"
echo "building libtmc in $build..."
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$(nproc)" --target tmc tmcctl >/dev/null

source "$root/tests/programs/lib.sh"
source "$root/bench/datasets/compress_lib.sh"
need_lib "$build/libtmc.so"
TMCCTL="$build/tmcctl"
cold_s=$(duration_s "$cold_age") || die "--cold-age: not a duration: $cold_age"

log "generating $keys keys of realistic records (JSON users/orders/events, text, series, sessions; strings, hashes, lists)..."
"$PY" "$RECORDS" resp --keys "$keys" >"$WORK/dataset.resp"

REDIS_PID=""
REDIS_PORT=""
rcli() { timeout 300 redis-cli -h 127.0.0.1 -p "$REDIS_PORT" "$@"; }
# run_redis NAME ENV...: starts redis-server, loads the dataset; sets REDIS_PID, REDIS_PORT.
run_redis() {
  local name="$1"
  shift
  REDIS_PORT=$(free_port)
  mkdir -p "$WORK/$name"
  "$@" redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no \
    --dir "$WORK/$name" --enable-debug-command local --logfile "" >"$WORK/$name.log" 2>&1 &
  REDIS_PID=$!
  on_exit "stop_pid $REDIS_PID 20"
  wait_port "$REDIS_PORT" 20 "$REDIS_PID" || die "$name: redis-server did not start"
  local outp
  outp=$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" --pipe <"$WORK/dataset.resp" 2>&1)
  echo "$outp" | grep -q "errors: 0, replies: $keys" || { echo "$outp" >&2; die "$name: loading failed"; }
}
stop_redis() {
  rcli shutdown nosave >/dev/null 2>&1 || true
  stop_pid "$REDIS_PID" 20 || true
}

log "loading into plain redis-server..."
run_redis plain "${PLAIN_ENV[@]}"
sleep 1
plain_rss=$(rss_bytes "$REDIS_PID")
plain_peak=$(hwm_bytes "$REDIS_PID")
plain_digest=$(rcli debug digest)
stop_redis

log "loading into redis-server under libtmc (TMC_CODEC=$codec TMC_COLD_AGE=$cold_age; pages untouched that long are"
log "  compressed even during the load, and the digest after the load brings them back)..."
run_redis libtmc env LD_PRELOAD="$TMC_LIB" TMC_CODEC="$codec" TMC_COLD_AGE="$cold_age"
is_preloaded "$REDIS_PID" || die "libtmc.so is not mapped into redis-server"
sleep 1
tmc_rss_hot=$(rss_bytes "$REDIS_PID")
tmc_peak=$(hwm_bytes "$REDIS_PID")
tmc_digest_hot=$(rcli debug digest)
log "waiting for the data to go cold and be compressed (cold age $cold_age)..."
wait_settled "$REDIS_PID" "$cold_s" 300 "$tmc_rss_hot" "$WORK/settle.samples"
tmc_rss_cold=$(rss_bytes "$REDIS_PID")
echo
echo "libtmc's view of the server once cold (tmcctl stats $REDIS_PID):"
"$TMCCTL" stats "$REDIS_PID"
tmc_stats "$REDIS_PID" "$WORK/cold.json"
read -r orig compr pool cpages < <(jget "$WORK/cold.json" orig_bytes compr_bytes pool_bytes compressed_pages | paste -sd' ')
# Reading every value (DEBUG DIGEST) brings every compressed page back.
tmc_digest_cold=$(rcli debug digest)
stop_redis

echo
row() { printf '%-32s %14s %14s\n' "$@"; }
row "" "plain" "libtmc"
row "resident memory, peak (VmHWM)" "$(mib "$plain_peak") MiB" "$(mib "$tmc_peak") MiB"
row "resident memory, after the load" "$(mib "$plain_rss") MiB" "$(mib "$tmc_rss_hot") MiB"
row "resident memory, once cold" "" "$(mib "$tmc_rss_cold") MiB"
row "memory saved" "" "$(mib "$((plain_rss - tmc_rss_cold))") MiB"
row "cold RSS / plain RSS" "" "$(awk -v c="$tmc_rss_cold" -v p="$plain_rss" 'BEGIN {printf "%.1f%%", 100 * c / p}')"
row "cold RSS / libtmc peak" "" "$(awk -v c="$tmc_rss_cold" -v k="$tmc_peak" 'BEGIN {printf "%.1f%%", 100 * c / k}')"
awk -v o="$orig" -v c="$compr" -v p="$pool" -v n="$cpages" 'BEGIN {
  if (c > 0) printf "%-32s %29s\n%-32s %29s\n", "compressed", sprintf("%d pages, %.1f MiB", n, o / 1048576),
    "  into blobs / pool", sprintf("%.1f / %.1f MiB (%.2fx)", c / 1048576, p / 1048576, o / c) }'
row "dataset digest, after the load" "${plain_digest:0:12}" "${tmc_digest_hot:0:12}"
row "dataset digest, once cold" "" "${tmc_digest_cold:0:12}"
if [[ "$plain_digest" != "$tmc_digest_hot" || "$plain_digest" != "$tmc_digest_cold" ]]; then
  echo "FAIL: the dataset differs under libtmc" >&2
  exit 1
fi
echo "digests equal: the data under libtmc, compressed and brought back, is the plain run's."
