#!/usr/bin/env bash
# Non-root operation, the supported way: Debian's redis-server and memcached run as uid and
# gid 65534 (setpriv, no user created) under libtmc with TMC_COLD_AGE=1s, are loaded on
# 127.0.0.1, and then
#  - with a supplementary group that owns /dev/userfaultfd (root:GROUP 0660, what the
#    package's udev rule sets): pages are compressed (`tmcctl stats PID --json`:
#    evictions > 0) and every value reads back intact;
#  - without it (root:root 0600, the kernel's default): libtmc writes its one line saying
#    why, compresses nothing, and every value still reads back intact.
# The group is group `userfaultfd` when the package created it, else a gid nobody uses
# (chgrp takes a number; no group is created). The device's owner, group and mode, and
# vm.unprivileged_userfaultfd (which would let the second case compress), are set for the
# test and restored at exit, however it ends (lib.sh's EXIT trap).
#
# Skips (77) when /dev/userfaultfd does not exist (Linux < 6.1), a program is missing, the
# test is not root (it must change the device), or the kernel cannot compress at all
# (no UFFDIO_MOVE before Linux 6.8: then no group would help).
#
# The kernel grants fork events (UFFD_FEATURE_EVENT_FORK) only with CAP_SYS_PTRACE, never
# through /dev/userfaultfd: in the group case libtmc runs without them, and fork() brings
# every compressed page back first (src/reclaim/engine.cc, restore_before_fork). So the
# group case also makes Redis fork: BGSAVE after the pages were compressed, and the
# snapshot, loaded by a plain redis-server, must have the same DEBUG DIGEST.
#
# usage: userfaultfd_group_test.sh /path/to/libtmc.so /path/to/tmcctl
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_lib "${1:-}"
TMCCTL="${2:-}"
[[ -n "$TMCCTL" && -x "$TMCCTL" ]] || die "usage: $0 /path/to/libtmc.so /path/to/tmcctl"
need_bin redis-server redis-cli memcached setpriv
DEVICE=/dev/userfaultfd
SYSCTL=/proc/sys/vm/unprivileged_userfaultfd
[[ -c "$DEVICE" ]] || skip "$DEVICE does not exist (Linux older than 6.1)"
[[ "$(id -u)" -eq 0 ]] || skip "must run as root: it changes $DEVICE's group and mode"
watchdog "${TMC_TEST_WATCHDOG:-170}"

KEYS=10000
NOBODY=65534
# The sentences libtmc writes when it may not open a userfaultfd, and when it may open one
# but not with the features it needs (src/platform/uffd.cc).
NOT_PERMITTED="userfaultfd is not permitted"
NEGOTIATION_FAILED="the userfaultfd feature negotiation failed"

# As root libtmc compresses whenever the kernel can: if it cannot, no group would help.
if LD_PRELOAD="$TMC_LIB" /bin/true 2>&1 | grep -q 'UFFDIO_MOVE'; then
  skip "this kernel's userfaultfd has no UFFDIO_MOVE (Linux 6.8+): libtmc cannot compress here"
fi

step "set up $DEVICE for the test (restored at exit)"
read -r DEV_OWNER DEV_MODE < <(stat -c '%u:%g %a' "$DEVICE")
on_exit "chown $DEV_OWNER $DEVICE; chmod $DEV_MODE $DEVICE"
if [[ "$(cat "$SYSCTL")" != 0 ]]; then
  on_exit "echo $(cat "$SYSCTL") > $SYSCTL"
  echo 0 >"$SYSCTL"
fi
if GID="$(getent group userfaultfd | cut -d: -f3)" && [[ -n "$GID" ]]; then
  log "group userfaultfd exists (gid $GID): the test uses it"
else
  GID=64000
  while getent group "$GID" >/dev/null; do GID=$((GID + 1)); done
  log "no group userfaultfd: the test uses gid $GID, which no group has"
fi
log "$DEVICE was $DEV_OWNER mode $DEV_MODE"

"$PY" "$PROGRAMS_DIR/redis_dataset.py" resp --keys $KEYS >"$WORK/data.resp"

# The servers run as $NOBODY: they must reach the library and their directory.
chmod 711 "$WORK"
mkdir "$WORK/redis-data"
chown "$NOBODY:$NOBODY" "$WORK/redis-data"
setpriv --reuid=$NOBODY --regid=$NOBODY --clear-groups test -r "$TMC_LIB" ||
  die "uid $NOBODY cannot read $TMC_LIB: put the build where every user can read it"

# nobody_runner GROUPS: sets RUNNER to the words that run a command as uid/gid $NOBODY with
# supplementary GROUPS ("" for none), under libtmc. A command array, not a function: setpriv
# execs env, which execs the server, so $! is the server's pid (and setpriv is not preloaded).
nobody_runner() {
  RUNNER=(setpriv --reuid=$NOBODY --regid=$NOBODY --clear-groups)
  [[ -n "$1" ]] && RUNNER=(setpriv --reuid=$NOBODY --regid=$NOBODY --groups="$1")
  RUNNER+=(env LD_PRELOAD="$TMC_LIB" TMC_COLD_AGE=1s)
}

stat_of() { timeout 20 "$TMCCTL" stats "$1" --json | "$PY" -c "import json, sys; print(json.load(sys.stdin)['$2'])"; }

# wait_evictions PID SECONDS LOG: waits until libtmc in PID has evicted pages; prints the
# count. Five seconds (five cold ages) at most once LOG says libtmc cannot compress.
wait_evictions() {
  local pid="$1" secs="$2" n=0
  grep -qE "$NOT_PERMITTED|$NEGOTIATION_FAILED" "$3" && secs=5
  local deadline=$(( $(date +%s) + secs ))
  while (( $(date +%s) < deadline )); do
    n="$(stat_of "$pid" evictions 2>/dev/null || echo 0)"
    (( n > 0 )) && break
    sleep 0.5
  done
  echo "$n"
}

# The libtmc line saying why it runs as a plain allocator, counted in LOG.
why_lines() { grep -c "$NOT_PERMITTED" "$1" || true; }

# compressed NAME EVICTIONS LOG: the group case's verdict: pages were compressed.
compressed() {
  check "$1: pages were compressed (evictions $2)" test "$2" -gt 0
  check_eq "$1: no failed feature negotiation" 0 "$(grep -c "$NEGOTIATION_FAILED" "$3" || true)"
}

# bgsave_and_reload NAME PORT DIGEST: BGSAVE (a fork, with pages compressed), then a plain
# redis-server loads the snapshot: its DEBUG DIGEST must be DIGEST.
bgsave_and_reload() {
  local name="$1" port="$2" digest="$3" i
  rm -f "$WORK/redis-data/dump.rdb"
  check_eq "$name: BGSAVE with pages compressed" "Background saving started" \
    "$(timeout 20 redis-cli -h 127.0.0.1 -p "$port" BGSAVE)"
  for i in $(seq 600); do
    timeout 20 redis-cli -h 127.0.0.1 -p "$port" INFO persistence | grep -q '^rdb_bgsave_in_progress:0' && break
    sleep 0.1
  done
  check "$name: BGSAVE succeeded" bash -c \
    "timeout 20 redis-cli -h 127.0.0.1 -p $port INFO persistence | grep -q '^rdb_last_bgsave_status:ok'"
  start_on_free_port "$WORK/$name-reload.log" redis-server --port @PORT@ --bind 127.0.0.1 --save "" \
    --appendonly no --dir "$WORK/redis-data" --enable-debug-command local --daemonize no --logfile "" ||
    die "$name: the plain redis-server for the snapshot did not start"
  local plain=$STARTED_PID plain_port=$STARTED_PORT
  for i in $(seq 300); do
    timeout 20 redis-cli -h 127.0.0.1 -p "$plain_port" INFO persistence | grep -q '^loading:0' && break
    sleep 0.1
  done
  check_eq "$name: the snapshot written by the forked child has the server's DEBUG DIGEST" "$digest" \
    "$(timeout 60 redis-cli -h 127.0.0.1 -p "$plain_port" DEBUG DIGEST)"
  stop_pid "$plain" 10 || true
  rm -f "$WORK/redis-data/dump.rdb"  # the next server must start empty
}

# run_redis CASE GROUPS SECONDS: redis-server as $NOBODY; load, wait, read back.
run_redis() {
  local name="redis-$1" groups="$2" wait_secs="$3"
  local logf="$WORK/$name.log"
  nobody_runner "$groups"
  start_on_free_port "$logf" "${RUNNER[@]}" redis-server --port @PORT@ --bind 127.0.0.1 \
    --save "" --appendonly no --dir "$WORK/redis-data" --enable-debug-command local \
    --daemonize no --logfile "" || die "$name did not start"
  local pid=$STARTED_PID port=$STARTED_PORT
  rcli() { timeout 60 redis-cli -h 127.0.0.1 -p "$port" "$@"; }
  log "$name: pid $pid on 127.0.0.1:$port"
  check "$name: libtmc.so is mapped into redis-server" is_preloaded "$pid"
  check_eq "$name: runs as uid $NOBODY" "$NOBODY" "$(stat -c %u "/proc/$pid")"
  timeout 120 redis-cli -h 127.0.0.1 -p "$port" --pipe <"$WORK/data.resp" >"$WORK/$name.pipe" 2>&1
  check_eq "$name: DBSIZE after the load" $KEYS "$(rcli DBSIZE)"
  local digest
  digest="$(rcli DEBUG DIGEST)"
  redis_evictions="$(wait_evictions "$pid" "$wait_secs" "$logf")"
  log "$name: evictions $redis_evictions"
  check "$name: sampled keys of every type equal the generator's values" \
    "$PY" "$PROGRAMS_DIR/redis_dataset.py" check --keys $KEYS --port "$port" --samples 2000
  check_eq "$name: DEBUG DIGEST after the wait equals the one after the load" "$digest" "$(rcli DEBUG DIGEST)"
  if (( redis_evictions > 0 )); then bgsave_and_reload "$name" "$port" "$digest"; fi
  rcli SHUTDOWN NOSAVE >/dev/null 2>&1 || true
  stop_pid "$pid" 10 || true
  check "$name: no crash or allocator error in the log" no_crash_report "$logf"
  redis_log="$logf"
}

# run_memcached CASE GROUPS SECONDS: memcached as $NOBODY; set, wait, read back.
run_memcached() {
  local name="memcached-$1" groups="$2" wait_secs="$3"
  local logf="$WORK/$name.log"
  nobody_runner "$groups"
  start_on_free_port "$logf" "${RUNNER[@]}" memcached -l 127.0.0.1 -p @PORT@ -U 0 \
    -m 256 -t 4 -c 256 || die "$name did not start"
  local pid=$STARTED_PID port=$STARTED_PORT
  log "$name: pid $pid on 127.0.0.1:$port"
  check "$name: libtmc.so is mapped into memcached" is_preloaded "$pid"
  check_eq "$name: runs as uid $NOBODY" "$NOBODY" "$(stat -c %u "/proc/$pid")"
  local client=("$PY" "$PROGRAMS_DIR/memcached_client.py" --port "$port" --keys $KEYS)
  local rc=0
  timeout 60 "${client[@]}" --only set >"$WORK/$name.set" 2>&1 || rc=$?
  check_eq "$name: every value set reads back (exit status)" 0 "$rc"
  memcached_evictions="$(wait_evictions "$pid" "$wait_secs" "$logf")"
  log "$name: evictions $memcached_evictions"
  rc=0
  timeout 60 "${client[@]}" --only check >"$WORK/$name.check" 2>&1 || rc=$?
  sed 's/^/    /' "$WORK/$name.check"
  check_eq "$name: every value reads back after the wait (exit status)" 0 "$rc"
  check_eq "$name: digest after the wait equals the one after the set" \
    "$(grep '^digest ' "$WORK/$name.set")" "$(grep '^digest ' "$WORK/$name.check")"
  stop_pid "$pid" 10 || true
  check "$name: no crash or allocator error in the log" no_crash_report "$logf"
  memcached_log="$logf"
}

step "with the group: $DEVICE root:$GID 0660, servers with supplementary group $GID"
chown "root:$GID" "$DEVICE"
chmod 0660 "$DEVICE"
run_redis group "$GID" 30
compressed redis-group "$redis_evictions" "$redis_log"
check_eq "redis-group: libtmc did not say it may not compress" 0 "$(why_lines "$redis_log")"
run_memcached group "$GID" 30
compressed memcached-group "$memcached_evictions" "$memcached_log"
check_eq "memcached-group: libtmc did not say it may not compress" 0 "$(why_lines "$memcached_log")"

step "without the group: $DEVICE root:root 0600"
chown root:root "$DEVICE"
chmod 0600 "$DEVICE"
# Five seconds is five cold ages: long enough for evictions, had libtmc been allowed.
run_redis nogroup "" 5
check_eq "redis-nogroup: nothing compressed" 0 "$redis_evictions"
check_eq "redis-nogroup: libtmc said why, in one line" 1 "$(why_lines "$redis_log")"
grep "$NOT_PERMITTED" "$redis_log" | sed 's/^/    /'
run_memcached nogroup "" 5
check_eq "memcached-nogroup: nothing compressed" 0 "$memcached_evictions"
check_eq "memcached-nogroup: libtmc said why, in one line" 1 "$(why_lines "$memcached_log")"
finish
