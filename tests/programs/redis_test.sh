#!/usr/bin/env bash
# Redis under libtmc: loads a deterministic mixed-type dataset (strings/JSON records/
# numbers/100 KiB blobs, hashes, lists, sets, zsets), checks DBSIZE and sampled values
# against the generator's model, applies a deterministic mix of updates, and checks that
# DEBUG DIGEST survives BGSAVE + restart from the RDB and DEBUG RELOAD, and equals the
# digest of the same steps on a plain (not preloaded) redis-server.
#
# usage: redis_test.sh /path/to/libtmc.so
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_lib "${1:-}"
need_bin redis-server redis-cli
watchdog "${TMC_TEST_WATCHDOG:-170}"

KEYS="${TMC_REDIS_KEYS:-50000}"
DATASET="$PROGRAMS_DIR/redis_dataset.py"

REDIS_PID=""
REDIS_PORT=""
# start_redis NAME tmc|plain DIR: starts redis-server on a free port; sets REDIS_PID/PORT.
start_redis() {
  local name="$1" mode="$2" dir="$3"
  local -a runner=("${TMC_ENV[@]}")
  [[ "$mode" == plain ]] && runner=("${PLAIN_ENV[@]}")
  mkdir -p "$dir"
  local attempt
  for attempt in 1 2 3; do
    REDIS_PORT="$(free_port)"
    "${runner[@]}" redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no \
      --dir "$dir" --dbfilename dump.rdb --enable-debug-command local --daemonize no \
      --logfile "" >>"$WORK/$name.log" 2>&1 &
    REDIS_PID=$!
    on_exit "stop_pid $REDIS_PID 5"
    wait_port "$REDIS_PORT" 20 "$REDIS_PID" && break
    # Another test may have taken the free port in the meantime: try another one.
    grep -qi 'address already in use' "$WORK/$name.log" && [[ $attempt -lt 3 ]] && continue
    die "$name did not start"
  done
  # Redis answers -LOADING while it reads an RDB; wait until it is done.
  local i
  for ((i = 0; i < 600; i++)); do
    [[ "$(rcli PING 2>/dev/null)" == PONG ]] && break
    sleep 0.1
  done
  log "$name: redis-server pid $REDIS_PID on 127.0.0.1:$REDIS_PORT ($mode)"
}
rcli() { timeout 60 redis-cli -h 127.0.0.1 -p "$REDIS_PORT" "$@"; }
info_field() { rcli INFO "$1" | tr -d '\r' | sed -n "s/^$2://p"; }

# pipe_file FILE EXPECTED_REPLIES: sends FILE with redis-cli --pipe; checks no errors.
pipe_file() {
  local out
  out="$(timeout 120 redis-cli -h 127.0.0.1 -p "$REDIS_PORT" --pipe <"$1" 2>&1)" || { echo "$out" >&2; die "redis-cli --pipe failed"; }
  check_eq "redis-cli --pipe $(basename "$1"): no errors, every reply received" "errors: 0, replies: $2" \
    "$(echo "$out" | tr -d '\r' | grep -o 'errors: [0-9]*, replies: [0-9]*' | tail -1)"
}

# wait_exit PID SECONDS: waits for a process that is shutting down; returns its status.
wait_exit() {
  local pid="$1" i
  for ((i = 0; i < $2 * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -0 "$pid" 2>/dev/null && { echo "pid $pid still running after $2 s" >&2; return 124; }
  local rc=0
  wait "$pid" || rc=$?
  return $rc
}

step "generate the dataset ($KEYS keys) and the update stream"
"$PY" "$DATASET" resp --keys "$KEYS" >"$WORK/data.resp"
"$PY" "$DATASET" mutate --keys "$KEYS" >"$WORK/mutate.resp" 2>"$WORK/mutate.count"
MUTATIONS="$(cat "$WORK/mutate.count")"
log "dataset $(($(stat -c %s "$WORK/data.resp") >> 20)) MiB of RESP, $MUTATIONS update commands"

step "redis-server under libtmc: load, check values, update"
start_redis redis-tmc tmc "$WORK/tmc"
check "libtmc.so is mapped into redis-server" is_preloaded "$REDIS_PID"
pipe_file "$WORK/data.resp" "$KEYS"
check_eq "DBSIZE after the load" "$KEYS" "$(rcli DBSIZE)"
check "sampled keys of every type equal the generator's values" \
  "$PY" "$DATASET" check --keys "$KEYS" --port "$REDIS_PORT" --samples 2000
DIGEST_LOAD="$(rcli DEBUG DIGEST)"
log "digest after load: $DIGEST_LOAD"
pipe_file "$WORK/mutate.resp" "$MUTATIONS"
DIGEST_MUT="$(rcli DEBUG DIGEST)"
DBSIZE_MUT="$(rcli DBSIZE)"
log "digest after updates: $DIGEST_MUT (dbsize $DBSIZE_MUT)"
check "the updates changed the data" test "$DIGEST_MUT" != "$DIGEST_LOAD"
log "used_memory_human: $(info_field memory used_memory_human), mem_allocator: $(info_field memory mem_allocator)"

step "BGSAVE (forks a child under libtmc), then restart from the RDB"
before="$(rcli LASTSAVE)"
check_eq "BGSAVE accepted" "Background saving started" "$(rcli BGSAVE)"
for ((i = 0; i < 600; i++)); do
  [[ "$(info_field persistence rdb_bgsave_in_progress)" == 0 && "$(rcli LASTSAVE)" != "$before" ]] && break
  sleep 0.1
done
check_eq "BGSAVE finished successfully" ok "$(info_field persistence rdb_last_bgsave_status)"
check "dump.rdb exists" test -s "$WORK/tmc/dump.rdb"
rcli SHUTDOWN NOSAVE >/dev/null 2>&1 || true
rc=0
wait_exit "$REDIS_PID" 20 || rc=$?
check_eq "redis-server (libtmc) exit status after SHUTDOWN" 0 "$rc"
start_redis redis-tmc-restart tmc "$WORK/tmc"
check "libtmc.so is mapped into the restarted redis-server" is_preloaded "$REDIS_PID"
check_eq "DBSIZE after restart from RDB" "$DBSIZE_MUT" "$(rcli DBSIZE)"
check_eq "DEBUG DIGEST after restart from RDB" "$DIGEST_MUT" "$(rcli DEBUG DIGEST)"

step "DEBUG RELOAD (save + flush + load in place)"
check_eq "DEBUG RELOAD" OK "$(rcli DEBUG RELOAD)"
check_eq "DEBUG DIGEST after DEBUG RELOAD" "$DIGEST_MUT" "$(rcli DEBUG DIGEST)"
check_eq "DBSIZE after DEBUG RELOAD" "$DBSIZE_MUT" "$(rcli DBSIZE)"
rcli SHUTDOWN NOSAVE >/dev/null 2>&1 || true
rc=0
wait_exit "$REDIS_PID" 20 || rc=$?
check_eq "restarted redis-server (libtmc) exit status" 0 "$rc"

step "the same load and updates on a plain redis-server (no preload)"
start_redis redis-plain plain "$WORK/plain"
check "libtmc.so is not mapped into the plain redis-server" not_preloaded "$REDIS_PID"
pipe_file "$WORK/data.resp" "$KEYS"
check_eq "DEBUG DIGEST after load: libtmc == plain" "$DIGEST_LOAD" "$(rcli DEBUG DIGEST)"
pipe_file "$WORK/mutate.resp" "$MUTATIONS"
check_eq "DEBUG DIGEST after updates: libtmc == plain" "$DIGEST_MUT" "$(rcli DEBUG DIGEST)"
rcli SHUTDOWN NOSAVE >/dev/null 2>&1 || true
wait_exit "$REDIS_PID" 20 || true

check "no crash or allocator error in the libtmc redis logs" \
  no_crash_report <(cat "$WORK/redis-tmc.log" "$WORK/redis-tmc-restart.log")
finish
