#!/usr/bin/env bash
# CPython's own regression tests (Debian's python3 + libpython3.11-testsuite) under
# libtmc: 15 allocation-heavy modules (dicts, lists, strings, regexes, JSON, pickling,
# zlib, gc, ...). The test fails if any of them fails under the preload; then the same
# modules are run plainly too, to tell whether the failure is libtmc's or the machine's.
#
# usage: python_regrtest.sh /path/to/libtmc.so
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_lib "${1:-}"
need_bin "$PY"
"$PY" -c 'import test.regrtest, test.test_dict' 2>/dev/null \
  || skip "CPython's test package is missing (Debian package libpython3.11-testsuite)"
watchdog "${TMC_TEST_WATCHDOG:-170}"

read -r -a TESTS <<<"${TMC_PY_TESTS:-test_dict test_list test_json test_re test_unicode test_set test_bytes test_collections test_itertools test_functools test_deque test_struct test_zlib test_heapq test_gc}"

# run_regrtest NAME env...: runs the modules one worker process at a time (-j1: each
# module in a fresh child, which inherits LD_PRELOAD).
run_regrtest() {
  local name="$1"
  shift
  local rc=0
  (cd "$WORK" && timeout 150 "$@" "$PY" -m test -j1 --timeout 120 "${TESTS[@]}") >"$WORK/$name.out" 2>&1 || rc=$?
  grep -E 'load avg|Tests result|tests? (OK|failed)|FAIL|ERROR' "$WORK/$name.out" | sed 's/^/    /' | tail -40 || true
  [[ $rc -eq 0 ]] || tail -30 "$WORK/$name.out" | sed 's/^/    | /'
  return $rc
}

step "the interpreter under the preload really has libtmc mapped"
check_eq "libtmc.so in python3's /proc/self/maps" True \
  "$(with_tmc "$PY" -c "import sys; print(sys.argv[1] in open('/proc/self/maps').read())" "$TMC_LIB")"

step "python3 -m test ${TESTS[*]} under libtmc"
rc=0
run_regrtest regrtest-tmc "${TMC_ENV[@]}" || rc=$?
check_eq "regrtest exit status under libtmc" 0 "$rc"
check "regrtest under libtmc reports SUCCESS" grep -q 'Tests result: SUCCESS' "$WORK/regrtest-tmc.out"
check_eq "every module passed under libtmc" "All ${#TESTS[@]} tests OK." "$(grep -o "All [0-9]* tests OK." "$WORK/regrtest-tmc.out" || echo "(no 'All N tests OK.' line)")"

if [[ $FAILS -ne 0 ]]; then
  step "failed under libtmc: the same modules plainly (no preload), for comparison"
  rc=0
  run_regrtest regrtest-plain "${PLAIN_ENV[@]}" || rc=$?
  if [[ $rc -eq 0 ]]; then
    log "plainly every module passes: the failure above comes with libtmc"
  else
    log "the modules fail plainly too (status $rc): this machine's Python is the problem, not only libtmc"
  fi
fi
check "no crash or allocator error in the libtmc run's output" no_crash_report "$WORK/regrtest-tmc.out"
finish
