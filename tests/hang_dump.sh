#!/usr/bin/env bash
# Runs a test program with a deadline below ctest's own, and if the program is still running
# when it passes, shows where every thread of it and of its children is stuck before killing
# them: a hang that shows up once in many runs is diagnosed from that one log.
#
# usage: tests/hang_dump.sh SECONDS PRELOAD -- COMMAND [ARGS...]
#
# PRELOAD (may be empty) becomes LD_PRELOAD for COMMAND alone: this script, its sleeps and
# gdb run without libtmc. For each thread of the process tree it prints the name, state,
# kernel wait channel, the system call it is in (/proc/TID/syscall: number, arguments, stack
# and instruction pointers) and its kernel stack (root only); then, when gdb is installed,
# every thread's user-space backtrace. Exit status: COMMAND's, or 124 after a hang.
set -uo pipefail

if [[ $# -lt 4 || "$3" != "--" ]]; then
  echo "usage: $0 SECONDS PRELOAD -- COMMAND [ARGS...]" >&2
  exit 2
fi
deadline="$1"
preload="$2"
shift 3
unset LD_PRELOAD

if [[ -n "$preload" ]]; then
  LD_PRELOAD="$preload" "$@" &
else
  "$@" &
fi
pid=$!
# The child's exit status must reach ctest unchanged; TERM/INT from ctest go on to it.
trap 'kill -TERM "$pid" 2>/dev/null' TERM INT

descendants() {  # pid, then every descendant, parents first
  local p="$1"
  echo "$p"
  local c
  for c in $(cat /proc/"$p"/task/*/children 2>/dev/null); do descendants "$c"; done
}

dump() {
  local p t
  echo "HANG: '$*' still running after ${deadline} s; where each thread is:" >&2
  for p in $(descendants "$pid"); do
    [[ -d /proc/$p ]] || continue
    echo "=== process $p ($(cat /proc/"$p"/comm 2>/dev/null)), parent $(awk '/^PPid/ {print $2}' /proc/"$p"/status 2>/dev/null)" >&2
    for t in /proc/"$p"/task/*; do
      echo "--- thread $(basename "$t") ($(cat "$t"/comm 2>/dev/null)) $(awk '/^State/ {print $2, $3}' "$t"/status 2>/dev/null)" \
        "wchan=$(cat "$t"/wchan 2>/dev/null) syscall: $(cat "$t"/syscall 2>/dev/null)" >&2
      sed 's/^/      /' "$t"/stack 2>/dev/null >&2
    done
  done
  if command -v gdb >/dev/null; then
    for p in $(descendants "$pid"); do
      [[ -d /proc/$p ]] || continue
      echo "=== gdb: process $p" >&2
      timeout 60 gdb -p "$p" -batch -nx -ex "set pagination off" -ex "thread apply all bt 40" 2>/dev/null |
        grep -E '^(#|Thread )' >&2
    done
  else
    echo "(gdb is not installed: no user-space backtraces)" >&2
  fi
}

end=$((SECONDS + deadline))
while kill -0 "$pid" 2>/dev/null; do
  if ((SECONDS >= end)); then
    dump "$@"
    for p in $(descendants "$pid" | tac); do kill -KILL "$p" 2>/dev/null; done
    wait "$pid" 2>/dev/null
    exit 124
  fi
  sleep 0.2
done
wait "$pid"
