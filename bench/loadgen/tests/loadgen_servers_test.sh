#!/usr/bin/env bash
# tmc_loadgen against real servers on 127.0.0.1: for Redis and memcached, load a small
# dataset, run a verified Zipf load, check every key, and require ops > 0 and no mismatch;
# then overwrite one value behind the client's back and require that --check-all reports
# it (exit status 1); and, for Redis, the same checks on repeated values (--distinct). Bad
# command lines must exit 2 with a message.
# Given libtmc.so and tmcctl, the servers run under the preload with TMC_COLD_AGE=1s, and
# each must have evicted pages and faulted some back by the end of its checks, so that
# values were read back through libtmc. (With TMC_COLD_AGE=0 every hot page is evicted at
# once and Redis serves about 1000 requests a second: too few for the checks above.)
#   loadgen_servers_test.sh /path/to/tmc_loadgen [/path/to/libtmc.so /path/to/tmcctl]
set -euo pipefail
LG="${1:?usage: $0 /path/to/tmc_loadgen [/path/to/libtmc.so /path/to/tmcctl]}"
TMC_LIB="${2:-}"
TMCCTL="${3:-}"
SERVER_ENV=(env)
if [[ -n "$TMC_LIB" ]]; then
  [[ -f "$TMC_LIB" && -x "$TMCCTL" ]] || { echo "FAIL: libtmc.so '$TMC_LIB' or tmcctl '$TMCCTL' not found" >&2; exit 1; }
  SERVER_ENV=(env LD_PRELOAD="$TMC_LIB" TMC_COLD_AGE=1s)
fi
PY=/usr/bin/python3
for b in redis-server redis-cli memcached; do
  command -v "$b" >/dev/null || { echo "SKIP: $b is not installed (scripts/install_deps.sh)"; exit 77; }
done
WORK=$(mktemp -d "${TMPDIR:-/tmp}/tmc-loadgen-test.XXXXXX")
PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
free_port() { "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_port() {
  local i
  for ((i = 0; i < 100; i++)); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  fail "nothing listens on 127.0.0.1:$1"
}
jfield() { "$PY" -c 'import json, sys; d = json.load(open(sys.argv[1])); print(eval(sys.argv[2], {}, {"d": d}))' "$@"; }

# expect_rc RC CMD...: CMD must exit with RC.
expect_rc() {
  local want="$1" rc=0
  shift
  "$@" >"$WORK/out" 2>&1 || rc=$?
  [[ $rc == "$want" ]] || { cat "$WORK/out" >&2; fail "exit status $rc, expected $want: $*"; }
}

# ---- bad input
expect_rc 2 "$LG" --server redis --port 1 --dist zipf:abc --duration 1s
grep -q 'zipf:S needs an exponent' "$WORK/out" || fail "no message for a bad --dist"
expect_rc 2 "$LG" --server redis --port 1 --bogus 3
grep -q "unknown option '--bogus'" "$WORK/out" || fail "no message for an unknown option"
expect_rc 2 "$LG" --server redis --duration 1s
expect_rc 2 "$LG" --server redis --port 1 --value-size 9000-10
expect_rc 3 "$LG" --server redis --port "$(free_port)" --load --keys 10

# check_server NAME PORT: load, verified run, full check; asserts ops > 0 and no mismatch.
check_server() {
  local name="$1" port="$2" j="$WORK/$1.json"
  "$LG" --server "$name" --port "$port" --keys 20000 --load --duration 2s --dist zipf:0.99 --reads 0.8 \
    --threads 2 --conns 2 --pipeline 4 --verify --check-all --state "$WORK/$name.state" --json "$j" --quiet ||
    fail "$name: tmc_loadgen exited with $?"
  [[ "$(jfield "$j" 'd["mismatches"]')" == 0 ]] || fail "$name: mismatches"
  [[ "$(jfield "$j" 'd["phases"]["run"]["ops"] > 1000 and d["phases"]["run"]["writes"] > 0')" == True ]] || fail "$name: too few ops"
  [[ "$(jfield "$j" 'd["phases"]["check"]["checked"]')" == 20000 ]] || fail "$name: --check-all did not check every key"
  echo "ok: $name: $(jfield "$j" 'int(d["phases"]["run"]["ops_per_s"])') ops/s, $(jfield "$j" 'd["checked"]') values checked, 0 mismatches"
  [[ -z "$TMC_LIB" ]] || check_evicted "$name" "$3"
}

# check_evicted NAME PID: the server under libtmc evicted pages and faulted some back.
check_evicted() {
  local s="$WORK/$1.stats.json"
  timeout 20 "$TMCCTL" stats "$2" --json >"$s" || fail "$1: tmcctl stats $2 failed"
  [[ "$(jfield "$s" 'd["evictions"] > 0 and d["faults"] > 0')" == True ]] ||
    fail "$1: nothing evicted and faulted back under libtmc: $(cat "$s")"
  echo "ok: $1 under libtmc: $(jfield "$s" 'd["evictions"]') evictions, $(jfield "$s" 'd["faults"]') faults"
}

rport=$(free_port)
"${SERVER_ENV[@]}" redis-server --port "$rport" --bind 127.0.0.1 --save "" --appendonly no --daemonize no \
  --logfile "$WORK/redis.log" --enable-debug-command local &
PIDS+=($!)
wait_port "$rport"
check_server redis "$rport" "${PIDS[-1]}"
# --reset brings the dataset back to a fresh load: DEBUG DIGEST equals a fresh load's.
"$LG" --server redis --port "$rport" --keys 20000 --reset --state "$WORK/redis.state" --quiet
d1=$(redis-cli -p "$rport" DEBUG DIGEST)
redis-cli -p "$rport" FLUSHALL >/dev/null
"$LG" --server redis --port "$rport" --keys 20000 --load --quiet
d2=$(redis-cli -p "$rport" DEBUG DIGEST)
[[ "$d1" == "$d2" && -n "$d1" ]] || fail "redis: digest after --reset $d1, after a fresh load $d2"
echo "ok: redis: --reset restores the loaded dataset (digest $d1)"
# A value changed behind the client's back must be caught.
redis-cli -p "$rport" SET "post:$(redis-cli -p "$rport" --scan --pattern 'post:*' | head -1 | cut -d: -f2)" tampered >/dev/null
expect_rc 1 "$LG" --server redis --port "$rport" --keys 20000 --check-all --state "$WORK/redis.state"
grep -q 'MISMATCH post:' "$WORK/out" || fail "redis: the tampered value was not reported"
echo "ok: redis: a tampered value is reported and the exit status is 1"
# Repeated values (--distinct): the load, a verified run with writes and a full check hold
# no mismatch, the server holds at most that many different values, and the state file of
# another dataset is refused.
redis-cli -p "$rport" FLUSHALL >/dev/null
dargs=(--server redis --port "$rport" --keys 5000 --types string:100 --value-size 4096 --distinct 8)
"$LG" "${dargs[@]}" --load --duration 2s --dist zipf:0.99 --reads 0.5 --verify --check-all \
  --state "$WORK/distinct.state" --json "$WORK/distinct.json" --quiet || fail "redis --distinct: tmc_loadgen exited with $?"
[[ "$(jfield "$WORK/distinct.json" 'd["mismatches"] == 0 and d["phases"]["run"]["writes"] > 0 and d["phases"]["check"]["checked"] == 5000')" == True ]] ||
  fail "redis --distinct: mismatches, no writes or keys not checked: $(cat "$WORK/distinct.json")"
ndiff=$(for k in $(redis-cli -p "$rport" --scan | head -300); do redis-cli -p "$rport" GET "$k" | md5sum; done | sort -u | wc -l)
((ndiff >= 2 && ndiff <= 8)) || fail "redis --distinct 8: $ndiff different values among 300 keys"
expect_rc 2 "$LG" --server redis --port "$rport" --keys 5000 --check-all --state "$WORK/distinct.state"
grep -q 'does not belong to this dataset' "$WORK/out" || fail "redis --distinct: a state file of another dataset was not refused"
echo "ok: redis: --distinct 8: $ndiff different values among 300 keys, every value read checked"

mport=$(free_port)
"${SERVER_ENV[@]}" memcached -u "$(id -un)" -l 127.0.0.1 -p "$mport" -m 256 -U 0 &
PIDS+=($!)
wait_port "$mport"
check_server memcached "$mport" "${PIDS[-1]}"
echo "loadgen_servers_test: passed"
