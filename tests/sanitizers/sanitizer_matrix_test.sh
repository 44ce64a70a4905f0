#!/usr/bin/env bash
# The sanitizers under LD_PRELOAD=libtmc.so, as docs/sanitizers.md describes them, with
# probe.c built three ways:
#   full         ASan+UBSan, ASan's runtime in the executable (the tools of a TMC_SANITIZER
#                build): ASan's malloc serves the program, libtmc manages nothing, and ASan,
#                LeakSanitizer and UBSan report every error of the probe.
#   preloaded    UBSan only (the programs that run under the preload): libtmc serves and
#                manages the heap; UBSan reports undefined behaviour and the overflows of
#                objects whose size the compiler knows, nothing else checks the heap.
#   shared-asan  ASan's shared runtime (gcc's default): refuses to start behind the preload,
#                and dies before main when told not to check the library order; with the
#                runtime preloaded first it is the full case again.
#
# usage: sanitizer_matrix_test.sh LIBTMC PROBE_FULL PROBE_PRELOADED [PROBE_SHARED_ASAN]
set -euo pipefail
LIB="${1:?usage: $0 LIBTMC PROBE_FULL PROBE_PRELOADED [PROBE_SHARED_ASAN]}"
FULL="${2:?}"
PRELOADED="${3:?}"
SHARED="${4:-}"
# The reports are what this test expects: to stderr, never to the report files of
# scripts/run_sanitizers.sh.
export ASAN_OPTIONS=detect_leaks=1
export UBSAN_OPTIONS=print_stacktrace=0
unset LD_PRELOAD

fails=0
# expect WHAT RC PATTERN COMMAND...: COMMAND exits with RC ("nonzero": anything but 0) and
# its output matches the extended regex PATTERN.
expect() {
  local what="$1" want="$2" pattern="$3" out rc=0
  shift 3
  out=$("$@" 2>&1) || rc=$?
  if { [[ "$want" == nonzero && $rc -ne 0 ]] || [[ "$rc" == "$want" ]]; } && grep -qE -- "$pattern" <<<"$out"; then
    echo "ok: $what"
  else
    printf 'FAIL: %s: exit status %s (expected %s), output %s /%s/:\n' "$what" "$rc" "$want" \
      "$(grep -qE -- "$pattern" <<<"$out" && echo matches || echo "does not match")" "$pattern"
    sed 's/^/    /' <<<"$out" | head -20
    fails=$((fails + 1))
  fi
}
preload() { env LD_PRELOAD="$LIB" "$@"; }

# asan_reports LABEL PROBE [ENV...]: ASan and LeakSanitizer report every memory error.
asan_reports() {
  local label="$1" probe="$2"
  shift 2
  expect "$label: heap overflow" nonzero "ERROR: AddressSanitizer: heap-buffer-overflow" "$@" "$probe" heap-overflow
  expect "$label: use after free" nonzero "ERROR: AddressSanitizer: heap-use-after-free" "$@" "$probe" use-after-free
  expect "$label: stack overflow" nonzero "ERROR: AddressSanitizer: stack-buffer-overflow" "$@" "$probe" stack-overflow
  expect "$label: global overflow" nonzero "ERROR: AddressSanitizer: global-buffer-overflow" "$@" "$probe" global-overflow
  expect "$label: leak" nonzero "ERROR: LeakSanitizer: detected memory leaks" "$@" "$probe" leak
}
SIZED="runtime error: store to address 0x[0-9a-f]+ with insufficient space"
SIGNED="runtime error: signed integer overflow"

full=$(basename "$FULL")
expect "full: ASan's malloc (in the executable) serves it, libtmc manages nothing" 0 "^malloc=$full managed=0$" \
  preload "$FULL" info
asan_reports "full under the preload" "$FULL" preload
expect "full under the preload: UBSan's object-size check" nonzero "$SIZED" preload "$FULL" heap-overflow-sized
expect "full under the preload: signed overflow" nonzero "$SIGNED" preload "$FULL" signed-overflow

expect "preloaded: libtmc serves and manages the heap" 0 "^malloc=libtmc.so managed=1$" preload "$PRELOADED" info
expect "preloaded: signed overflow" nonzero "$SIGNED" preload "$PRELOADED" signed-overflow
expect "preloaded: UBSan's object-size check, on libtmc's heap" nonzero "$SIZED" preload "$PRELOADED" heap-overflow-sized
for e in heap-overflow use-after-free stack-overflow global-overflow leak; do
  expect "preloaded: nothing reports a $e" 0 "^$e: not detected$" preload "$PRELOADED" "$e"
done

if [[ -n "$SHARED" ]]; then
  expect "shared ASan behind the preload: refuses to start" nonzero "ASan runtime does not come first" \
    preload "$SHARED" info
  # ASan's start-up allocates (a failed dlsym's message) through libtmc's malloc before
  # it has resolved its interceptors; jemalloc's start-up then calls readlink through
  # ASan's, which jumps to address 0.
  expect "shared ASan behind the preload, verify_asan_link_order=0: SIGSEGV before main" 139 "" \
    env ASAN_OPTIONS=verify_asan_link_order=0 LD_PRELOAD="$LIB" "$SHARED" info
  asan_rt=$(ldd "$SHARED" | awk '/libasan\.so/ { print $3 }')
  expect "shared ASan preloaded first: ASan's malloc, libtmc manages nothing" 0 \
    "^malloc=$(basename "$asan_rt") managed=0$" env LD_PRELOAD="$asan_rt:$LIB" "$SHARED" info
  asan_reports "shared ASan preloaded first" "$SHARED" env LD_PRELOAD="$asan_rt:$LIB"
fi

if [[ $fails -ne 0 ]]; then
  echo "sanitizer_matrix_test: $fails check(s) failed: docs/sanitizers.md no longer describes what happens"
  exit 1
fi
echo "sanitizer_matrix_test: passed"
