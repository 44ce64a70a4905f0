# Shared helpers for tests/programs/*.sh. Source it after `set -euo pipefail`.
#
# Every script takes the libtmc.so path as $1. Helpers here start things with or
# without the preload, find free ports, clean up on exit and compare results.

# Debian's interpreter, never a pyenv shim (a shim is a bash script: under the preload it
# would be one more preloaded process, and libpython3.11-testsuite belongs to Debian's).
PY=/usr/bin/python3
PROGRAMS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
TEST_NAME="$(basename "$0" .sh)"
STARTED_AT=$(date +%s)

# The preload must apply only to the program under test, never to this shell.
unset LD_PRELOAD

log() { printf '[%s +%ss] %s\n' "$TEST_NAME" "$(( $(date +%s) - STARTED_AT ))" "$*"; }
step() { printf '\n[%s +%ss] == %s\n' "$TEST_NAME" "$(( $(date +%s) - STARTED_AT ))" "$*"; }
die() { printf '[%s] FAIL: %s\n' "$TEST_NAME" "$*" >&2; exit 1; }
skip() { printf '[%s] SKIP: %s\n' "$TEST_NAME" "$*"; exit 77; }

CHECKS=0
FAILS=0
# check_eq WHAT EXPECTED ACTUAL: counts a check; prints both values when they differ.
check_eq() {
  CHECKS=$((CHECKS + 1))
  if [[ "$2" == "$3" ]]; then
    log "ok: $1 ($3)"
  else
    FAILS=$((FAILS + 1))
    printf '[%s] FAIL: %s\n    expected: %s\n    actual:   %s\n' "$TEST_NAME" "$1" "$2" "$3" >&2
  fi
}
# check WHAT COMMAND...: counts a check that passes when COMMAND succeeds.
check() {
  local what="$1"
  shift
  CHECKS=$((CHECKS + 1))
  if "$@"; then
    log "ok: $what"
  else
    FAILS=$((FAILS + 1))
    printf '[%s] FAIL: %s (command: %s)\n' "$TEST_NAME" "$what" "$*" >&2
  fi
}
# finish: the closing line and the exit code.
finish() {
  printf '%s: %d passed, %d failed (%ss)\n' "$TEST_NAME" "$((CHECKS - FAILS))" "$FAILS" "$(( $(date +%s) - STARTED_AT ))"
  [[ $FAILS -eq 0 ]]
}

# need_lib PATH: the libtmc.so under test must exist (a missing one is a failure, not a skip).
need_lib() {
  [[ -n "${1:-}" ]] || die "usage: $0 /path/to/libtmc.so"
  [[ -f "$1" ]] || die "libtmc.so not found at '$1' (build it first)"
  TMC_LIB="$(readlink -f "$1")"
  export TMC_LIB
  TMC_ENV=(env LD_PRELOAD="$TMC_LIB" TMC_LIB="$TMC_LIB")
}

# need_tmcctl PATH: the tmcctl under test (the scripts' second argument) must exist; sets TMCCTL.
need_tmcctl() {
  TMCCTL="${1:-}"
  [[ -n "$TMCCTL" && -x "$TMCCTL" ]] || die "usage: $0 /path/to/libtmc.so /path/to/tmcctl (tmcctl '$TMCCTL' not found)"
}

# need_bin NAME...: skips (77) when a required program is not installed.
need_bin() {
  local b
  for b in "$@"; do
    command -v "$b" >/dev/null 2>&1 || [[ -x "$b" ]] || skip "'$b' is not installed (scripts/install_deps.sh installs it)"
  done
}

# Temporary directory and cleanup. on_exit CMD adds a cleanup command (run in reverse order).
WORK="$(mktemp -d "${TMPDIR:-/tmp}/tmc-${TEST_NAME}.XXXXXX")"
CLEANUP=()
on_exit() { CLEANUP+=("$*"); }
_run_cleanup() {
  local rc=$?
  local i
  for ((i = ${#CLEANUP[@]} - 1; i >= 0; i--)); do
    eval "${CLEANUP[$i]}" >/dev/null 2>&1 || true
  done
  if [[ $rc -ne 0 && $rc -ne 77 ]]; then
    local f
    for f in "$WORK"/*.log; do
      [[ -s "$f" ]] || continue
      echo "---- last lines of $(basename "$f") ----" >&2
      tail -n 15 "$f" >&2
    done
  fi
  if [[ $rc -ne 0 && $rc -ne 77 && -n "${KEEP_WORK_ON_FAIL:-}" ]]; then
    echo "work directory kept: $WORK" >&2
  else
    rm -rf "$WORK"
  fi
  exit $rc
}
trap _run_cleanup EXIT
trap 'exit 130' INT TERM

# watchdog SECONDS: ends the test (with cleanup) if it runs longer than SECONDS; keep it
# below the ctest TIMEOUT so servers are always stopped by our own trap.
watchdog() {
  local secs="$1" main=$$
  (
    trap 'kill "$sp" 2>/dev/null; exit 0' TERM
    sleep "$secs" </dev/null >/dev/null 2>&1 &
    sp=$!
    wait "$sp"
    echo "[$TEST_NAME] FAIL: timed out after ${secs}s" >&2
    trap - TERM
    kill -TERM "$main"
    # Also end what the script is waiting for, so that its EXIT trap runs now.
    pkill -TERM -P "$main" 2>/dev/null
  ) &
  on_exit "kill $!"
}

# with_tmc CMD...: runs CMD with libtmc preloaded (and TMC_LIB set for helpers).
# plain CMD...: runs CMD with no preload at all.
# For a background process use "${TMC_ENV[@]}" / "${PLAIN_ENV[@]}" CMD & directly: then $!
# is the program's own pid (env execs it), not a subshell's.
with_tmc() { "${TMC_ENV[@]}" "$@"; }
plain() { "${PLAIN_ENV[@]}" "$@"; }
PLAIN_ENV=(env -u LD_PRELOAD)

# free_port: prints a TCP port on 127.0.0.1 that nothing listens on right now.
free_port() {
  "$PY" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

# start_on_free_port LOG CMD...: runs CMD in the background, every "@PORT@" in its words
# replaced by a free port, output appended to LOG, and waits until it listens there (30 s).
# Another process can take the port between the choice and the bind: then it tries again
# with another, three times in all. Sets STARTED_PORT and STARTED_PID (stopped at exit);
# returns 1 if the server did not start.
start_on_free_port() {
  local logf="$1" attempt arg
  shift
  for attempt in 1 2 3; do
    STARTED_PORT=$(free_port)
    local cmd=()
    for arg in "$@"; do cmd+=("${arg//@PORT@/$STARTED_PORT}"); done
    "${cmd[@]}" >>"$logf" 2>&1 &
    STARTED_PID=$!
    on_exit "stop_pid $STARTED_PID 30"
    wait_port "$STARTED_PORT" 30 "$STARTED_PID" && return 0
    grep -qi 'address already in use' "$logf" && ((attempt < 3)) && continue
    return 1
  done
}

# listens_on PORT [PID]: true when 127.0.0.1:PORT is listening (and, with PID, when the
# listening socket belongs to process PID: a free port can be taken by someone else).
listens_on() {
  "$PY" - "$@" <<'PY'
import os, sys
port = int(sys.argv[1])
pid = sys.argv[2] if len(sys.argv) > 2 else ""
inodes = set()
for table in ("/proc/net/tcp", "/proc/net/tcp6"):
    try:
        lines = open(table).read().splitlines()[1:]
    except OSError:
        continue
    for line in lines:
        f = line.split()
        if f[3] == "0A" and int(f[1].rsplit(":", 1)[1], 16) == port:
            inodes.add(f[9])
if not inodes:
    sys.exit(1)
if not pid:
    sys.exit(0)
try:
    fds = os.listdir("/proc/%s/fd" % pid)
except OSError:
    sys.exit(1)
for fd in fds:
    try:
        link = os.readlink("/proc/%s/fd/%s" % (pid, fd))
    except OSError:
        continue
    if link.startswith("socket:[") and link[8:-1] in inodes:
        sys.exit(0)
sys.exit(1)
PY
}

# wait_port PORT [SECONDS] [PID]: waits until 127.0.0.1:PORT listens (in process PID when
# given); fails early when PID has died.
wait_port() {
  local port="$1" secs="${2:-20}" pid="${3:-}"
  local deadline=$(( $(date +%s) + secs ))
  while (( $(date +%s) < deadline )); do
    listens_on "$port" $pid && return 0
    if [[ -n "$pid" ]] && ! kill -0 "$pid" 2>/dev/null; then
      echo "process $pid died before listening on port $port" >&2
      return 1
    fi
    sleep 0.1
  done
  echo "nothing listens on 127.0.0.1:$port after ${secs}s" >&2
  return 1
}

# wait_ready OUT PID ERR WHAT: waits (10 s at most) for a line starting with "ready" in
# OUT, the output of process PID; if none comes, prints ERR (its stderr) and dies naming WHAT.
wait_ready() {
  local out="$1" pid="$2" err="$3" what="$4" i
  for ((i = 0; i < 200; i++)); do
    grep -q '^ready' "$out" 2>/dev/null && return 0
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  grep -q '^ready' "$out" 2>/dev/null && return 0
  cat "$err" >&2
  die "$what did not start"
}

# stop_pid PID [SECONDS]: TERM, wait up to SECONDS, then KILL. Returns the exit status.
stop_pid() {
  local pid="$1" secs="${2:-10}" i
  kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return $?; }
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < secs * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    echo "process $pid ignored SIGTERM for ${secs}s; killing it" >&2
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null
}

# is_preloaded PID: true when libtmc.so is mapped into process PID.
is_preloaded() { grep -qF "$TMC_LIB" "/proc/$1/maps" 2>/dev/null; }

# not_preloaded PID: true when libtmc.so is not mapped into process PID. (Not judged by
# /proc/PID/environ: programs such as redis-server rewrite that area for their title.)
not_preloaded() { [[ -r "/proc/$1/maps" ]] && ! grep -qF "$TMC_LIB" "/proc/$1/maps"; }

# no_crash_report FILE: the file has no sign of a crash or allocator abort.
no_crash_report() {
  ! grep -Eiq 'segmentation fault|sigsegv|sigbus|sigabrt|double free|corrupted|free\(\): invalid|<jemalloc>|stack trace|crashed by signal' "$1"
}
