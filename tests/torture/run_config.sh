#!/usr/bin/env bash
# Runs one configuration of the torture harness: the torture program (tests/torture/torture)
# or a real server, under libtmc with the environment the configuration names, while the RSS
# target is moved live where it says so. ctest runs each configuration briefly (label
# `torture`); bench/run_torture.sh runs them for as long as asked and writes the report.
#
#   run_config.sh --config NAME [--duration SECONDS] [--seed N] [--hazards SPEC]
#                 [--watchdog SECONDS] [--child-timeout SECONDS]
#                 [--lib libtmc.so] [--tmcctl tmcctl] [--torture torture] [--summary FILE]
#   run_config.sh --list
#
# Configurations:
#   plain        the program without libtmc: the harness checking itself
#   cold0        TMC_COLD_AGE=0: the reclaimer evicts as fast as it can
#   target-live  TMC_COLD_AGE=2s, TMC_TARGET moved by `tmcctl target PID N%` every 200-600 ms
#                to a random 20..100% of the peak RSS
#   hold-tiny    the same with TMC_TARGET_HOLD=100us
#   hold-long    the same with TMC_TARGET_HOLD=2s
#   pool-small   TMC_COLD_AGE=0 TMC_POOL_MAX=2M: most pages find the pool full
#   zstd         TMC_COLD_AGE=0 TMC_CODEC=zstd TMC_DICT=1
#   zstd-nodict  TMC_COLD_AGE=0 TMC_CODEC=zstd TMC_DICT=0
#   lz4-nodict   TMC_COLD_AGE=0 TMC_CODEC=lz4 TMC_DICT=0
#   probation    TMC_COLD_AGE=0 TMC_PROBATION=1M TMC_PROBATION_AGE=200ms: pages wait
#                uncompressed first, in a probation so small that most leave it early
#   probation-live  TMC_COLD_AGE=2s TMC_PROBATION=4M with the target moved as in target-live
#   no-fork-events  TMC_COLD_AGE=0 with userfaultfd negotiated as a process without
#                CAP_SYS_PTRACE gets it (TMC_TEST_NO_FORK_EVENTS=1): every fork brings the
#                evicted pages back first, every child opens its own userfaultfd
#   redis        Debian's redis-server under TMC_COLD_AGE=1s and a moving target: loads
#                tests/programs/redis_dataset.py through redis-cli --pipe, serves sampled
#                reads checked against the generator until the time is up, applies updates;
#                DEBUG DIGEST after the load, while serving, after the updates, after BGSAVE +
#                restart (under libtmc, target moving) and after DEBUG RELOAD must equal a
#                plain redis-server's on the same data
#   memcached    memcached under TMC_COLD_AGE=1s and a moving target: memcached_client.py
#                (every value read back and compared, deletes, overwrites, appends, counters)
#                again and again until the time is up; each round's digest must equal a plain
#                memcached's
#
# The last line of output (and of --summary FILE) is `config=NAME result=PASS|FAIL|HANG|SKIP
# key=value ...`. Exit status: 0 pass, 1 fail, 3 hang, 77 skip (a program is missing, or no
# full userfaultfd).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
CONFIGS=(plain cold0 target-live hold-tiny hold-long pool-small zstd zstd-nodict lz4-nodict probation probation-live
         no-fork-events redis memcached)

CONFIG="" DURATION=15 SEED="" HAZARDS=all SUMMARY="" WATCHDOG=40 CHILD_TIMEOUT=20
LIB="$ROOT/build/libtmc.so" TMCCTL="$ROOT/build/tmcctl" TORTURE="$ROOT/build/tests/torture/torture"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --config) CONFIG="$2"; shift 2 ;;
    --duration) DURATION="$2"; shift 2 ;;
    --seed) SEED="$2"; shift 2 ;;
    --hazards) HAZARDS="$2"; shift 2 ;;
    --watchdog) WATCHDOG="$2"; shift 2 ;;
    --child-timeout) CHILD_TIMEOUT="$2"; shift 2 ;;
    --lib) LIB="$2"; shift 2 ;;
    --tmcctl) TMCCTL="$2"; shift 2 ;;
    --torture) TORTURE="$2"; shift 2 ;;
    --summary) SUMMARY="$2"; shift 2 ;;
    --list) printf '%s\n' "${CONFIGS[@]}"; exit 0 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run_config.sh: unknown argument '$1' (--help)" >&2; exit 2 ;;
  esac
done
[[ " ${CONFIGS[*]} " == *" $CONFIG "* ]] || { echo "run_config.sh: --config one of: ${CONFIGS[*]}" >&2; exit 2; }
[[ -n "$SEED" ]] || SEED=$(( (RANDOM << 30) ^ (RANDOM << 15) ^ RANDOM ))

source "$ROOT/tests/programs/lib.sh"
TEST_NAME="torture.$CONFIG"
need_lib "$LIB"
[[ -x "$TMCCTL" ]] || die "tmcctl not found at '$TMCCTL' (build it first)"
TMCCTL="$(readlink -f "$TMCCTL")"

# The environment of each configuration, and whether the target moves.
MOVE=0
case "$CONFIG" in
  plain) CONF_ENV=() ;;
  cold0) CONF_ENV=(TMC_COLD_AGE=0) ;;
  target-live) CONF_ENV=(TMC_COLD_AGE=2s); MOVE=1 ;;
  hold-tiny) CONF_ENV=(TMC_COLD_AGE=2s TMC_TARGET_HOLD=100us); MOVE=1 ;;
  hold-long) CONF_ENV=(TMC_COLD_AGE=2s TMC_TARGET_HOLD=2s); MOVE=1 ;;
  pool-small) CONF_ENV=(TMC_COLD_AGE=0 TMC_POOL_MAX=2M) ;;
  no-fork-events) CONF_ENV=(TMC_COLD_AGE=0 TMC_TEST_NO_FORK_EVENTS=1) ;;
  probation) CONF_ENV=(TMC_COLD_AGE=0 TMC_PROBATION=1M TMC_PROBATION_AGE=200ms) ;;
  probation-live) CONF_ENV=(TMC_COLD_AGE=2s TMC_PROBATION=4M); MOVE=1 ;;
  zstd) CONF_ENV=(TMC_COLD_AGE=0 TMC_CODEC=zstd TMC_DICT=1) ;;
  zstd-nodict) CONF_ENV=(TMC_COLD_AGE=0 TMC_CODEC=zstd TMC_DICT=0) ;;
  lz4-nodict) CONF_ENV=(TMC_COLD_AGE=0 TMC_CODEC=lz4 TMC_DICT=0) ;;
  redis|memcached) CONF_ENV=(TMC_COLD_AGE=1s); MOVE=1 ;;
esac

RESULT=""
EXTRA=""    # key=value fields of the summary line
# emit RESULT FIELDS...: the summary line, on stdout and into --summary.
emit() {
  local line="config=$CONFIG result=$1 duration=$DURATION env=$(IFS=,; echo "${CONF_ENV[*]:-none}") ${*:2}"
  echo "$line"
  [[ -z "$SUMMARY" ]] || echo "$line" >"$SUMMARY"
}

# ---- the moving target ---------------------------------------------------------------------

MOVER_PID=""
MOVES="$WORK/moves"
# start_mover PID: every 200-600 ms sets TMC_TARGET of PID to 20..100% of its peak RSS, with
# `tmcctl target`, until PID ends. Successful changes go to $MOVES, failures to $MOVES.err
# (those before the control socket first answered are the process starting, and those the
# process ended during are its exit: not counted; a refusal counts when a second try 300 ms
# later, the process still running, is refused too).
start_mover() {
  local pid="$1"
  : >"$MOVES"
  : >"$MOVES.err"
  : >"$MOVES.diag"
  (
    RANDOM=$((SEED % 32768))
    answered=0
    while kill -0 "$pid" 2>/dev/null; do
      pct=$((20 + RANDOM % 81))
      if out=$("$TMCCTL" target "$pid" "${pct}%" 2>&1); then
        echo "$pct" >>"$MOVES"
        answered=1
      elif [[ $answered -eq 1 ]]; then
        # Refused: the process's exit, or its control thread. Asked again a little later, a
        # process still running must take the change.
        sleep 0.3
        if still_running "$pid" && ! out=$("$TMCCTL" target "$pid" "${pct}%" 2>&1); then
          echo "$(date +%T) target ${pct}%: $out" >>"$MOVES.err"
          [[ $(wc -l <"$MOVES.err") -le 2 ]] && control_thread_diagnosis "$pid" >>"$MOVES.diag" 2>&1
        elif still_running "$pid"; then
          echo "$pct" >>"$MOVES"
        fi
      fi
      sleep "0.$(printf '%03d' $((200 + RANDOM % 400)))"
    done
  ) &
  MOVER_PID=$!
  on_exit "kill $MOVER_PID"
}
# still_running PID: alive and not a zombie. A process that is exiting has closed its control
# socket (its descriptors go with its threads) before its parent reaps it, and kill -0
# still answers for a zombie: a refusal then is the exit, not the control thread.
still_running() {
  kill -0 "$1" 2>/dev/null || return 1
  local state
  state=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)
  [[ -n "$state" && "$state" != Z && "$state" != X ]]
}
stop_mover() {
  [[ -n "$MOVER_PID" ]] || return 0
  kill "$MOVER_PID" 2>/dev/null || true
  wait "$MOVER_PID" 2>/dev/null || true
  MOVER_PID=""
  if [[ -s "$MOVES.diag" ]]; then
    cat "$MOVES.diag" >&2
  fi
}
# control_thread_diagnosis PID: what PID's threads were doing when its control socket did
# not answer: each thread's name, state and kernel wait, then the user stacks (gdb).
control_thread_diagnosis() {
  local pid="$1" t
  echo "=== $(date +%T.%N) process $pid: no reply to tmcctl target; load $(cut -d' ' -f1-3 /proc/loadavg)"
  for t in /proc/"$pid"/task/*; do
    printf '%s %s state=%s wchan=%s\n' "${t##*/}" "$(cat "$t/comm" 2>/dev/null)" \
      "$(awk '/^State:/ {print $2}' "$t/status" 2>/dev/null)" "$(cat "$t/wchan" 2>/dev/null)"
  done
  command -v gdb >/dev/null &&
    timeout 60 gdb -p "$pid" -batch -nx -ex 'set pagination off' -ex 'thread apply all bt 12' 2>&1 |
      grep -E '^(Thread|#)' | head -300
}
moves() { wc -l <"$MOVES" 2>/dev/null || echo 0; }
move_errors() { wc -l <"$MOVES.err" 2>/dev/null || echo 0; }

# tmc_stat PID FIELD...: libtmc's statistics of a live process, as FIELD=value words.
tmc_stat() {
  local pid="$1"
  shift
  "$TMCCTL" stats "$pid" --json 2>/dev/null | "$PY" -c '
import json, sys
try:
    s = json.load(sys.stdin)
except ValueError:
    s = {}
print(" ".join("%s=%s" % (f, s.get(f, "?")) for f in sys.argv[1:]))' "$@"
}

# ---- the torture program -------------------------------------------------------------------

run_torture() {
  [[ -x "$TORTURE" ]] || die "the torture program is not at '$TORTURE' (build it first)"
  local -a runner=("${TMC_ENV[@]}" "${CONF_ENV[@]}")
  [[ "$CONFIG" == plain ]] && runner=("${PLAIN_ENV[@]}")
  # The program's watchdog ends a hang; this one is for a hang it cannot see (at exit).
  watchdog $((DURATION + WATCHDOG + 120))
  step "torture program, configuration $CONFIG: ${CONF_ENV[*]:-no preload}, ${DURATION}s, seed $SEED"
  "${runner[@]}" "$TORTURE" --seed "$SEED" --seconds "$DURATION" --hazards "$HAZARDS" \
    --watchdog "$WATCHDOG" --child-timeout "$CHILD_TIMEOUT" > >(tee "$WORK/torture.log") 2>&1 &
  local pid=$!
  on_exit "kill -KILL $pid"
  [[ $MOVE -eq 1 ]] && start_mover "$pid"
  local rc=0
  wait "$pid" || rc=$?
  stop_mover
  sleep 0.2  # tee's last lines
  local summary
  summary="$(grep '^torture: seed=' "$WORK/torture.log" | tail -1 | sed 's/^torture: //')"
  [[ -n "$summary" ]] || summary="no-summary-line exit=$rc"
  if [[ $MOVE -eq 1 ]]; then
    summary+=" target_changes=$(moves) tmcctl_errors=$(move_errors)"
    if [[ $(move_errors) -gt 0 ]]; then
      echo "tmcctl target failed while the process ran:" >&2
      head -5 "$MOVES.err" >&2
      [[ $rc -eq 0 ]] && rc=1
    fi
  fi
  summary="$(echo "$summary" | sed 's/ result=[A-Z]*//')"
  # libtmc says so on stderr when it stops compressing after an internal error: the run then
  # goes on as a plain allocator and may pass, but the error is a bug.
  local internal
  internal=$(grep -c '^libtmc: internal error' "$WORK/torture.log" || true)
  summary+=" libtmc_internal_errors=$internal"
  if [[ $internal -gt 0 ]]; then
    grep '^libtmc: internal error' "$WORK/torture.log" | head -3 >&2
    [[ $rc -eq 0 ]] && rc=1
  fi
  case $rc in
    0) RESULT=PASS ;;
    3) RESULT=HANG ;;
    77) RESULT=SKIP ;;
    *) RESULT=FAIL ;;
  esac
  emit "$RESULT" "$summary"
  return $rc
}

# ---- Redis ---------------------------------------------------------------------------------

REDIS_PID="" REDIS_PORT=""
rcli() { timeout 60 redis-cli -h 127.0.0.1 -p "$REDIS_PORT" "$@"; }
info_field() { rcli INFO "$1" | tr -d '\r' | sed -n "s/^$2://p"; }
# start_redis NAME tmc|plain DIR
start_redis() {
  local name="$1" mode="$2" dir="$3"
  local -a runner=("${TMC_ENV[@]}" "${CONF_ENV[@]}")
  [[ "$mode" == plain ]] && runner=("${PLAIN_ENV[@]}")
  mkdir -p "$dir"
  start_on_free_port "$WORK/$name.log" "${runner[@]}" redis-server --port @PORT@ --bind 127.0.0.1 --save "" \
    --appendonly no --dir "$dir" --dbfilename dump.rdb --enable-debug-command local --daemonize no --logfile "" ||
    die "$name did not start"
  REDIS_PID=$STARTED_PID REDIS_PORT=$STARTED_PORT
  local i
  for ((i = 0; i < 600; i++)); do
    [[ "$(rcli PING 2>/dev/null)" == PONG ]] && break
    sleep 0.1
  done
  log "$name: redis-server pid $REDIS_PID on 127.0.0.1:$REDIS_PORT ($mode)"
}
stop_redis() {
  rcli SHUTDOWN NOSAVE >/dev/null 2>&1 || true
  local i
  for ((i = 0; i < 200; i++)); do kill -0 "$REDIS_PID" 2>/dev/null || break; sleep 0.1; done
  stop_pid "$REDIS_PID" 5 || true
}
pipe_file() {  # FILE EXPECTED_REPLIES
  local out
  out="$(timeout 300 redis-cli -h 127.0.0.1 -p "$REDIS_PORT" --pipe <"$1" 2>&1)" || true
  check_eq "redis-cli --pipe $(basename "$1"): no errors, every reply received" "errors: 0, replies: $2" \
    "$(echo "$out" | tr -d '\r' | grep -o 'errors: [0-9]*, replies: [0-9]*' | tail -1)"
}

run_redis() {
  need_bin redis-server redis-cli
  watchdog $((DURATION * 2 + 400))
  local keys=$((8000 + DURATION * 400))
  ((keys > 200000)) && keys=200000
  local data="$PROGRAMS_DIR/redis_dataset.py"
  step "dataset: $keys keys, and an update stream"
  "$PY" "$data" resp --keys "$keys" >"$WORK/data.resp"
  "$PY" "$data" mutate --keys "$keys" >"$WORK/mutate.resp" 2>"$WORK/mutate.count"
  local mutations
  mutations="$(cat "$WORK/mutate.count")"

  step "plain redis-server: the reference digests"
  start_redis redis-plain plain "$WORK/plain"
  pipe_file "$WORK/data.resp" "$keys"
  local d_load d_mut
  d_load="$(rcli DEBUG DIGEST)"
  pipe_file "$WORK/mutate.resp" "$mutations"
  d_mut="$(rcli DEBUG DIGEST)"
  stop_redis

  step "redis-server under libtmc, target moving: load"
  start_redis redis-tmc tmc "$WORK/tmc"
  check "libtmc.so is mapped into redis-server" is_preloaded "$REDIS_PID"
  start_mover "$REDIS_PID"
  local t0=$SECONDS
  pipe_file "$WORK/data.resp" "$keys"
  check_eq "DBSIZE after the load" "$keys" "$(rcli DBSIZE)"
  check_eq "DEBUG DIGEST after the load == plain" "$d_load" "$(rcli DEBUG DIGEST)"

  step "serving sampled reads (checked against the generator) until ${DURATION}s have passed"
  local rounds=0
  while ((SECONDS - t0 < DURATION)); do
    check "round $((rounds + 1)): 1000 sampled keys equal the generator's values" \
      "$PY" "$data" check --keys "$keys" --port "$REDIS_PORT" --samples 1000
    check_eq "round $((rounds + 1)): DEBUG DIGEST == plain" "$d_load" "$(rcli DEBUG DIGEST)"
    rounds=$((rounds + 1))
  done
  pipe_file "$WORK/mutate.resp" "$mutations"
  check_eq "DEBUG DIGEST after the updates == plain" "$d_mut" "$(rcli DEBUG DIGEST)"

  step "BGSAVE (a fork under libtmc with the target moving), then restart from the RDB"
  local before i
  before="$(rcli LASTSAVE)"
  check_eq "BGSAVE accepted" "Background saving started" "$(rcli BGSAVE)"
  for ((i = 0; i < 1200; i++)); do
    [[ "$(info_field persistence rdb_bgsave_in_progress)" == 0 && "$(rcli LASTSAVE)" != "$before" ]] && break
    sleep 0.1
  done
  check_eq "BGSAVE finished successfully" ok "$(info_field persistence rdb_last_bgsave_status)"
  local stats1 changes1
  stats1="$(tmc_stat "$REDIS_PID" evictions faults held_faults self_faults)"
  stop_mover
  changes1=$(moves) errors1=$(move_errors)
  stop_redis
  start_redis redis-tmc-restart tmc "$WORK/tmc"
  start_mover "$REDIS_PID"
  check_eq "DEBUG DIGEST after BGSAVE + restart == plain" "$d_mut" "$(rcli DEBUG DIGEST)"
  check_eq "DEBUG RELOAD" OK "$(rcli DEBUG RELOAD)"
  check_eq "DEBUG DIGEST after DEBUG RELOAD == plain" "$d_mut" "$(rcli DEBUG DIGEST)"
  local stats2
  stats2="$(tmc_stat "$REDIS_PID" evictions faults held_faults self_faults)"
  stop_mover
  local changes=$((changes1 + $(moves))) errors=$((errors1 + $(move_errors)))
  stop_redis
  check_eq "tmcctl target never failed while redis-server ran" 0 "$errors"
  check "no crash or allocator error in the libtmc redis logs" \
    no_crash_report <(cat "$WORK/redis-tmc.log" "$WORK/redis-tmc-restart.log")
  check "no libtmc internal error in the redis logs" \
    bash -c "! grep -h 'libtmc: internal error' '$WORK/redis-tmc.log' '$WORK/redis-tmc-restart.log' >&2"
  # Both servers' libtmc statistics, added.
  local sums
  sums="$("$PY" -c '
import sys
a = dict(w.split("=") for w in sys.argv[1].split())
b = dict(w.split("=") for w in sys.argv[2].split())
print(" ".join("%s=%s" % (k, int(a[k]) + int(b[k]) if a[k].isdigit() and b[k].isdigit() else "?") for k in a))' "$stats1" "$stats2")"
  check "libtmc evicted pages in redis-server" test "$(echo "$sums" | sed -n 's/.*evictions=\([0-9]*\).*/\1/p')" -gt 0
  local rc=0
  finish || rc=$?
  RESULT=$([[ $rc -eq 0 ]] && echo PASS || echo FAIL)
  emit "$RESULT" "seed=$SEED keys=$keys serve_rounds=$rounds checks=$CHECKS failed=$FAILS target_changes=$changes" \
    "tmcctl_errors=$errors $sums"
  return $rc
}

# ---- memcached -----------------------------------------------------------------------------

run_memcached() {
  need_bin memcached
  watchdog $((DURATION * 2 + 300))
  # Under a target below what memcached can reach, most requests wait for a held fault
  # (TMC_TARGET_HOLD): a round takes several times a plain one, so the key count follows the
  # time asked for.
  local keys=$((2000 + DURATION * 200)) client="$PROGRAMS_DIR/memcached_client.py"
  ((keys > 20000)) && keys=20000
  step "plain memcached: the reference digest"
  start_on_free_port "$WORK/memcached-plain.log" "${PLAIN_ENV[@]}" memcached -l 127.0.0.1 -p @PORT@ -U 0 -m 256 \
    -t 4 -c 256 -u "$(id -un)" || die "plain memcached did not start"
  local ref
  timeout 120 "$PY" "$client" --port "$STARTED_PORT" --keys "$keys" >"$WORK/plain.out" 2>&1 ||
    { cat "$WORK/plain.out"; die "the client failed against the plain memcached"; }
  ref="$(grep '^digest ' "$WORK/plain.out")"
  stop_pid "$STARTED_PID" 10 || true

  step "memcached under libtmc, target moving: client rounds until ${DURATION}s have passed"
  start_on_free_port "$WORK/memcached-tmc.log" "${TMC_ENV[@]}" "${CONF_ENV[@]}" memcached -l 127.0.0.1 -p @PORT@ \
    -U 0 -m 256 -t 4 -c 256 -u "$(id -un)" || die "memcached under libtmc did not start"
  local pid=$STARTED_PID port=$STARTED_PORT
  check "libtmc.so is mapped into memcached" is_preloaded "$pid"
  start_mover "$pid"
  local t0=$SECONDS rounds=0 rc
  while ((rounds == 0 || SECONDS - t0 < DURATION)); do
    rounds=$((rounds + 1))
    rc=0
    timeout 300 "$PY" "$client" --port "$port" --keys "$keys" >"$WORK/round.out" 2>&1 || rc=$?
    check_eq "round $rounds: the client found every value as expected (exit status)" 0 "$rc"
    check_eq "round $rounds: digest of everything read back == plain" "$ref" "$(grep '^digest ' "$WORK/round.out")"
    [[ $rc -eq 0 ]] || sed 's/^/    /' "$WORK/round.out"
  done
  local stats
  stats="$(tmc_stat "$pid" evictions faults held_faults self_faults)"
  stop_mover
  local changes errors
  changes=$(moves) errors=$(move_errors)
  rc=0
  stop_pid "$pid" 10 || rc=$?
  check "memcached was still running and stopped on SIGTERM (status $rc)" test "$rc" -eq 0 -o "$rc" -eq 143
  check_eq "tmcctl target never failed while memcached ran" 0 "$errors"
  check "no crash or allocator error in the memcached log" no_crash_report "$WORK/memcached-tmc.log"
  check "no libtmc internal error in the memcached log" \
    bash -c "! grep -h 'libtmc: internal error' '$WORK/memcached-tmc.log' >&2"
  check "libtmc evicted pages in memcached" test "$(echo "$stats" | sed -n 's/.*evictions=\([0-9]*\).*/\1/p')" -gt 0
  rc=0
  finish || rc=$?
  RESULT=$([[ $rc -eq 0 ]] && echo PASS || echo FAIL)
  emit "$RESULT" "seed=$SEED keys=$keys rounds=$rounds values_read=$((rounds * keys * 2)) checks=$CHECKS" \
    "failed=$FAILS target_changes=$changes tmcctl_errors=$errors $stats"
  return $rc
}

case "$CONFIG" in
  redis) run_redis ;;
  memcached) run_memcached ;;
  *) run_torture ;;
esac
