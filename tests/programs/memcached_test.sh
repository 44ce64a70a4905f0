#!/usr/bin/env bash
# memcached under libtmc: sets 20k keys with generated 100 B .. 4 KiB values, reads every
# one back and compares bytes and flags, then deletes, overwrites (other size classes),
# appends/prepends and counters, and checks the whole key space again. The read-back
# digests must equal those of the same client run against a plain memcached.
#
# usage: memcached_test.sh /path/to/libtmc.so
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_lib "${1:-}"
need_bin memcached
watchdog "${TMC_TEST_WATCHDOG:-100}"

KEYS="${TMC_MEMCACHED_KEYS:-20000}"
CLIENT="$PROGRAMS_DIR/memcached_client.py"

# run_memcached NAME tmc|plain: starts memcached, runs the client, stops it; the client's
# output goes to $WORK/NAME.out.
run_memcached() {
  local name="$1" mode="$2"
  local -a runner=("${TMC_ENV[@]}")
  [[ "$mode" == plain ]] && runner=("${PLAIN_ENV[@]}")
  local port pid attempt
  for attempt in 1 2 3; do
    port="$(free_port)"
    # -u: memcached refuses to run as root without it; ignored for other users.
    "${runner[@]}" memcached -l 127.0.0.1 -p "$port" -U 0 -m 256 -t 4 -c 256 -u "$(id -un)" \
      >>"$WORK/$name.log" 2>&1 &
    pid=$!
    on_exit "stop_pid $pid 5"
    wait_port "$port" 20 "$pid" && break
    # Another test may have taken the free port in the meantime: try another one.
    grep -qi 'address already in use' "$WORK/$name.log" && [[ $attempt -lt 3 ]] && continue
    die "$name did not start"
  done
  log "$name: memcached pid $pid on 127.0.0.1:$port ($mode)"
  if [[ "$mode" == tmc ]]; then
    check "libtmc.so is mapped into memcached" is_preloaded "$pid"
  else
    check "libtmc.so is not mapped into the plain memcached" not_preloaded "$pid"
  fi
  local rc=0
  timeout 60 "$PY" "$CLIENT" --port "$port" --keys "$KEYS" >"$WORK/$name.out" 2>&1 || rc=$?
  sed 's/^/    /' "$WORK/$name.out"
  check_eq "$name: client found every value as expected (exit status)" 0 "$rc"
  rc=0
  stop_pid "$pid" 10 || rc=$?
  check "$name: memcached was still running and stopped on SIGTERM (status $rc)" test "$rc" -eq 0 -o "$rc" -eq 143
  check "$name: no crash or allocator error in the memcached log" no_crash_report "$WORK/$name.log"
}

step "memcached under libtmc: set/get $KEYS keys, deletes, overwrites, appends, counters"
run_memcached memcached-tmc tmc
step "the same on a plain memcached"
run_memcached memcached-plain plain

step "compare the read-back digests"
check_eq "digests of everything read back: libtmc == plain" \
  "$(grep '^digest ' "$WORK/memcached-plain.out")" "$(grep '^digest ' "$WORK/memcached-tmc.out")"
check_eq "item counts: libtmc == plain" \
  "$(grep '^stats: ' "$WORK/memcached-plain.out" | cut -d, -f1)" "$(grep '^stats: ' "$WORK/memcached-tmc.out" | cut -d, -f1)"
finish
