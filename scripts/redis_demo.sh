#!/usr/bin/env bash
# The main job: Redis (Debian's redis-server) on a generated dataset, plain and under
# libtmc, side by side: resident memory, the memory saved, the dataset digest, and
# libtmc's own statistics from tmcctl.
#
#   scripts/redis_demo.sh [--keys N]        (default 200000 keys, about 300 MB in Redis)
#
# Sets itself up: installs Debian packages, builds libtmc, starts and stops its own
# servers on 127.0.0.1 in a temporary directory.
set -euo pipefail

keys=200000
while [ $# -gt 0 ]; do
  case "$1" in
    --keys) keys="$2"; shift 2 ;;
    *) echo "usage: $0 [--keys N]" >&2; exit 2 ;;
  esac
done

root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install_deps.sh"
build="$root/build"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$(nproc)" --target tmc tmcctl >/dev/null
lib="$build/libtmc.so"
tmcctl="$build/tmcctl"
dataset="$root/tests/programs/redis_dataset.py"

work=$(mktemp -d /tmp/tmc-redis-demo.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
mib() { awk -v k="$1" 'BEGIN {printf "%.1f MiB", k / 1024}'; }

echo "generating $keys keys of mixed types (JSON-like records, text, numbers, hashes, lists, sets)..."
python3 "$dataset" resp --keys "$keys" > "$work/dataset.resp"

# Starts redis-server (with an optional preload), loads the dataset, and prints
# "PID RSS_KIB DIGEST".
run_redis() {
  local name="$1" preload="$2" port
  port=$(free_port)
  mkdir -p "$work/$name"
  env ${preload:+LD_PRELOAD=$preload} redis-server --bind 127.0.0.1 --port "$port" --save "" \
      --appendonly no --dir "$work/$name" --enable-debug-command local \
      > "$work/$name/redis.log" 2>&1 &
  local pid=$!
  pids+=("$pid")
  for _ in $(seq 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
  redis-cli -p "$port" --pipe < "$work/dataset.resp" > "$work/$name/load.log"
  grep -q 'errors: 0' "$work/$name/load.log" || { cat "$work/$name/load.log"; exit 1; }
  local digest
  digest=$(redis-cli -p "$port" debug digest)
  echo "$pid $port $(rss_kib "$pid") $digest"
}

echo "loading into plain redis-server..."
read -r plain_pid plain_port plain_rss plain_digest < <(run_redis plain "")
redis-cli -p "$plain_port" shutdown nosave >/dev/null 2>&1 || true
echo "loading into redis-server under libtmc..."
read -r tmc_pid tmc_port tmc_rss tmc_digest < <(run_redis libtmc "$lib")

echo
echo "libtmc's view of the server (tmcctl stats $tmc_pid):"
"$tmcctl" stats "$tmc_pid"
echo
saved=$((plain_rss - tmc_rss))
printf '%-22s %14s %14s\n' "" "plain" "libtmc"
printf '%-22s %14s %14s\n' "resident memory" "$(mib "$plain_rss")" "$(mib "$tmc_rss")"
printf '%-22s %14s %14s\n' "dataset digest" "${plain_digest:0:12}" "${tmc_digest:0:12}"
awk -v s="$saved" -v p="$plain_rss" 'BEGIN {printf "%-22s %14.1f MiB (%.1f%% of the plain run)\n", "memory saved", s / 1024, 100 * s / p}'
if [ "$plain_digest" != "$tmc_digest" ]; then
  echo "FAIL: the dataset differs under libtmc" >&2
  exit 1
fi
redis-cli -p "$tmc_port" shutdown nosave >/dev/null 2>&1 || true
